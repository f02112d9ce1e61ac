"""Error-calculator repetitions chained on the closing edge (rig.measure): on the simulated
bench (position 1: the COM5003's error calculator on its scanning head, which chains) the same
pulses, errors and verdicts as restarting each repetition, one pulse period less per repetition
after the first, and the procedures' planned time follows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports.store import ResultsStore
from rig.loads import pulse_period_s
from rig.measure import chains_repetitions, expected_error_seconds
from rig.plan import Measure, pulses_for

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

# Three repetitions at 0.05 In (the slowest pulses of the plan's PF 1 points) and at In, PF 1
# and PF 0.5L, once chained and once restarting.
PLAN = """plan: chained
version: "0.1"
title: repetitions chained and restarted
meter_class: 0.5S
standards: [IEC 60687]
items:
{items}
"""
ITEM = """  - id: acc.{name}
    family: accuracy
    clause: IEC 60687 Table 9
    pf: "{pf}"
    measure: {{repetitions: 3, chain: {chain}}}
    points:
      - {{current: 0.05, limit: 1.0}}
      - {{current: 1.0, limit: 0.5}}
"""


class _EC:
    def __init__(self, chains: bool | None) -> None:
        if chains is not None:
            self.chains_repetitions = chains


class _Group:
    def __init__(self, *ecs: _EC) -> None:
        self.ecs = dict(enumerate(ecs, 1))


def test_a_group_chains_only_when_every_calculator_does():
    assert chains_repetitions(_Group(_EC(True), _EC(True)))
    assert not chains_repetitions(_Group(_EC(True), _EC(False)))
    # A driver that does not say (a ZERA MAD) restarts.
    assert not chains_repetitions(_Group(_EC(True), _EC(None)))


def test_the_planned_time_waits_for_one_first_edge_when_chained():
    """At In, PF 1 on 3 x 220 V, 1000 imp/kWh: 3300 W, a period of 3.6e6 / 3300 = 1.0909 s;
    N = max(5, ceil(20 s / 1.0909 s)) = 19 pulses. Restarting: 10 + 3 x 1.0909 x 20 = 75.45 s;
    chained: 10 + 1.0909 x (3 x 19 + 1) = 73.27 s."""
    restarting = Measure(repetitions=3, chain=False)
    chained = Measure(repetitions=3)
    assert pulses_for(1000.0, 3300.0, chained) == 19
    period = pulse_period_s(3300.0, 1000.0)
    assert expected_error_seconds(3300.0, 1000.0, restarting) == pytest.approx(
        10 + 3 * period * 20)
    assert expected_error_seconds(3300.0, 1000.0, chained) == pytest.approx(
        10 + period * 58)
    # One repetition has its first edge either way.
    assert expected_error_seconds(3300.0, 1000.0, Measure(repetitions=1)) == pytest.approx(
        expected_error_seconds(3300.0, 1000.0, Measure(repetitions=1, chain=False)))


def _run(pytester: pytest.Pytester, *args: str) -> tuple[list, dict[str, float]]:
    items = "".join(ITEM.format(name=f"{pf_name}.{mode}", pf=pf, chain=chain)
                    for pf_name, pf in (("pf1", "1"), ("pf05l", "0.5L"))
                    for mode, chain in (("restart", "false"), ("chain", "true")))
    (pytester.path / "plan.yaml").write_text(PLAN.format(items=items))
    timeline = pytester.path / "timeline.json"
    runs = pytester.path / "runs"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--rootdir", str(ROOT), "-p", "rig.timeline",
        "--timeline", str(timeline), "--plan", str(pytester.path / "plan.yaml"), "--no-report",
        "--runs-dir", str(runs), str(ROOT / "testplans" / "test_accuracy.py"), *args,
        timeout=600)
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    with ResultsStore.in_runs_dir(runs) as store:
        (run,) = store.list_runs()
        rows = store.measurements(run.run_id)
    times = {r["nodeid"].split("[", 1)[1]: r for r in json.loads(timeline.read_text())}
    return rows, times


@pytest.mark.slow
@pytest.mark.parametrize("defect", [None, "energy_gain_error"])
def test_chained_repetitions_count_and_decide_as_restarted_ones(pytester, defect) -> None:
    rows, times = _run(pytester, *(["--defect", defect] if defect else []))
    by_key = {(m.test_id.replace(".chain", ".restart"), m.point.get("load")): m
              for m in rows if ".chain" in m.test_id}
    compared = 0
    for m in rows:
        if ".restart" not in m.test_id:
            continue
        chained = by_key[(m.test_id, m.point.get("load"))]
        assert str(chained.verdict) == str(m.verdict), (m.test_id, m.value, chained.value)
        assert chained.raw["pulses"] == m.raw["pulses"]
        assert len(chained.raw["errors"]) == len(m.raw["errors"]) == 3
        # Each gate counts the same pulses against the same reference: the counts agree to
        # the meter's pulse jitter, the means within either's expanded uncertainty.
        for a, b in zip(chained.raw["reference_counts"], m.raw["reference_counts"], strict=True):
            assert a == pytest.approx(b, rel=1e-3)
        assert chained.value == pytest.approx(
            m.value, abs=max(chained.expanded_uncertainty, m.expanded_uncertainty))
        compared += 1
    assert compared == 2 * 2  # two PFs, two points
    # Bench time: per point, two pulse periods (3 repetitions) less; each within 5 % of its
    # planned time.
    for test, row in times.items():
        assert row["timeline_s"] == pytest.approx(row["estimate_s"], rel=0.05), test
        if ".chain" in test:
            restarted = times[test.replace(".chain", ".restart")]
            assert row["timeline_s"] < restarted["timeline_s"]


def test_the_planned_time_of_a_bench_that_cannot_chain_waits_each_first_edge():
    """The plan allows chaining (Measure.chain), but a bench with a ZERA MAD restarts every
    gate (the MAD documents no chained repetition), so the estimate for that bench counts a
    first edge per repetition: 10 + 3 x 1.0909 x 20 s, as restarting above."""
    from rig.measure import planned_for_bench

    chained = Measure(repetitions=3)
    period = pulse_period_s(3300.0, 1000.0)
    with planned_for_bench(False):
        assert expected_error_seconds(3300.0, 1000.0, chained) == pytest.approx(
            10 + 3 * period * 20)
    with planned_for_bench(True):
        assert expected_error_seconds(3300.0, 1000.0, chained) == pytest.approx(
            10 + period * 58)
