"""An influence item reuses an earlier item's error at the reference point only when nothing
since can have changed it (rig.procedures.errors.reference_source), and the plan accepts
`reference_from` only for an earlier item measuring the same reference point."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from reports.records import Measurement, Verdict
from reports.store import ResultsStore
from rig.plan import PlanError, load_plan
from rig.procedures.errors import reference_source

SOURCE = "testplans/test_influence.py::test_influence[infl.a]"
REUSER = "testplans/test_influence.py::test_influence[infl.b]"
THIS = "testplans/test_influence.py::test_influence[infl.c]"


class Clock:
    def __init__(self) -> None:
        self.t = 1_790_000_000.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def _row(run_id: str, test: str, position: int, raw: dict) -> Measurement:
    return Measurement(run_id=run_id, test_id=test, family="influence", position=position,
                       quantity="error variation (voltage)", value=0.01, unit="%",
                       verdict=Verdict.PASS, point={"load": 1.0, "pf": "1"},
                       limit_low=-0.2, limit_high=0.2, raw=raw)


def _source_raw() -> dict:
    return {"item": "infl.a", "reference_errors": [0.01, 0.012], "reference_counts": [9, 9],
            "pulses": 19}


@pytest.fixture
def store(tmp_path: Path):
    with ResultsStore(tmp_path / "results.sqlite", clock=Clock()) as s:
        yield s


def _start(store: ResultsStore) -> str:
    return store.create_run(plan_name="p", plan_version="1", operator="op",
                            software_version="0").run_id


def _measured(store: ResultsStore, run_id: str, test: str, raw: dict,
              positions: tuple[int, ...] = (1, 2)) -> None:
    store.mark_started(run_id, test, positions, {"load": 1.0})
    for p in positions:
        store.record(_row(run_id, test, p, raw))


def _this(store: ResultsStore, run_id: str) -> SimpleNamespace:
    store.mark_started(run_id, THIS, (1, 2), {"load": 1.0})
    return SimpleNamespace(store=store, run_id=run_id, test_id=THIS)


def test_the_source_and_items_reusing_it_may_precede_a_reuse(store) -> None:
    run_id = _start(store)
    _measured(store, run_id, SOURCE, _source_raw())
    reused = {"1": {"item": "infl.a", "measurement_id": 1, "test_id": SOURCE}}
    _measured(store, run_id, REUSER, {"item": "infl.b", "reused_from": reused})
    found = reference_source(_this(store, run_id), "infl.a", [1, 2])
    assert found is not None and set(found) == {1, 2}
    assert all(m.test_id == SOURCE for m in found.values())
    assert found[2].raw["reference_errors"] == [0.01, 0.012]


def test_another_test_in_between_means_measuring_again(store) -> None:
    run_id = _start(store)
    _measured(store, run_id, SOURCE, _source_raw())
    # An accuracy test (or an influence item at another point) ran since.
    _measured(store, run_id, "testplans/test_accuracy.py::test_error[x]", {"item": "x"})
    assert reference_source(_this(store, run_id), "infl.a", [1, 2]) is None


def test_a_resumed_session_in_between_means_measuring_again(store) -> None:
    run_id = _start(store)
    _measured(store, run_id, SOURCE, _source_raw())
    store.log(run_id, "run resumed: plan p 1")
    assert reference_source(_this(store, run_id), "infl.a", [1, 2]) is None


def test_a_position_the_source_did_not_measure_means_measuring_again(store) -> None:
    run_id = _start(store)
    _measured(store, run_id, SOURCE, _source_raw(), positions=(1,))
    assert reference_source(_this(store, run_id), "infl.a", [1, 2]) is None
    assert reference_source(_this(store, run_id), "infl.b", [1]) is None  # no such source


def _plan_with(tmp_path: Path, extra: str) -> Path:
    text = """plan: p
version: "1"
title: t
meter_class: 0.5S
standards: [IEC 60687]
items:
  - {id: infl.a, family: influence, clause: 'Tab 11', quantity: voltage, change: -0.1, current: 1.0,
     limit: 0.2}
""" + extra
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("extra", "reason"), [
    ("  - {id: infl.b, family: influence, clause: 'Tab 11', quantity: voltage, change: 0.1, "
     "current: 1.0, limit: 0.2, reference_from: infl.z}\n", "not an earlier influence item"),
    ("  - {id: infl.b, family: influence, clause: 'Tab 11', quantity: voltage, change: 0.1, "
     "current: 1.0, pf: 0.5L, limit: 0.2, reference_from: infl.a}\n",
     "measures another reference point"),
    ("  - {id: infl.b, family: influence, clause: 'Tab 11', quantity: voltage, change: 0.1, "
     "current: 1.0, limit: 0.2, reference_from: infl.a}\n"
     "  - {id: infl.c, family: influence, clause: 'Tab 11', quantity: frequency, change: 0.02, "
     "current: 1.0, limit: 0.2, reference_from: infl.b}\n", "reuses a reference itself"),
])
def test_the_plan_refuses_a_reference_source_that_does_not_measure_the_same_point(
        tmp_path: Path, extra: str, reason: str) -> None:
    with pytest.raises(PlanError, match=reason):
        load_plan(str(_plan_with(tmp_path, extra)))


def test_the_default_plan_reuses_each_reference_point_four_and_three_times() -> None:
    """In, PF 1: voltage +10 %, frequency -2 % and +2 %, unbalance reuse voltage -10 %'s;
    In, PF 0.5L: voltage +10 %, frequency -2 % and +2 % reuse voltage -10 %'s."""
    items = [i for i in load_plan("iec60687-class0.5S").items if i.family == "influence"]
    sources = [i.reference_from for i in items if i.reference_from]
    assert sources.count("infl.voltage-minus10") == 4
    assert sources.count("infl.voltage-minus10-pf05l") == 3
