import math
import random

import pandas as pd
import pytest

from reports.analysis import (
    batch_points,
    curve_groups,
    is_curve_row,
    margin,
    verdict_of,
)
from reports.points import describe_point, pf_label, pf_sort_key
from reports.records import Repetitions, StoredMeasurement, Verdict
from reports.rows import measurement_rows
from reports.schema import MEASUREMENT_COLUMNS


@pytest.mark.parametrize(
    ("pf", "label"),
    [("1", "1"), (1, "1"), (1.0, "1"), ("0.5L", "0.5L"), ("0.5 ind", "0.5L"),
     ("0.5i", "0.5L"), ("0.8C", "0.8C"), ("0.8 cap", "0.8C"), (0.5, "0.5L"), (-0.8, "0.8C"),
     ("0.25 lag", "0.25L"), (None, "")],
)
def test_pf_labels(pf, label):
    assert pf_label(pf) == label


def test_pf_order_is_unity_then_inductive_then_capacitive():
    labels = ["0.8C", "0.5L", "1", "0.25L"]
    assert sorted(labels, key=pf_sort_key) == ["1", "0.5L", "0.25L", "0.8C"]


def test_point_description():
    text = describe_point({"load": 0.05, "pf": "0.5 ind", "direction": "import",
                           "element": "L2", "influence": {"quantity": "voltage",
                                                          "value": 1.1}, "n": 3})
    assert text == "0.05 In, PF 0.5L, import, L2, voltage 1.1, n 3"


def test_margin_to_the_nearest_limit():
    assert margin(0.4, -0.5, 0.5) == pytest.approx(0.1)
    assert margin(0.7, -0.5, 0.5) == pytest.approx(-0.2)
    assert margin(3, None, 1) == -2


def _stored(**kw) -> dict:
    """A measurement row as reports.store.load_run's frame holds it."""
    row = dict.fromkeys(MEASUREMENT_COLUMNS)
    row.update(id=1, run_id="r", test_id="t::x", position=1, point_key='{"load":0.5}',
               family="accuracy", clause="", point={"load": 0.5}, quantity="q", unit="%",
               coverage_factor=2.0, verdict="pass", decision_rule="simple", raw={},
               recorded_count=1, message="")
    row.update(kw)
    return row


def test_the_store_frame_becomes_one_row_each_with_none_for_missing_numbers():
    frame = pd.DataFrame([
        _stored(id=3, value=0.25, rep_n=5, rep_mean=0.25, rep_stdev=0.01),
        _stored(id=1, value=math.nan, verdict="maybe", point=[1, 2], point_key="[1, 2]"),
        _stored(id=2, position=2, value=-1e-20, point={"load": 0.05, "pf": -0.8,
                                                        "direction": "export"}),
    ])
    frame["position"] = frame["position"].astype("Int64")  # as load_run types it
    rows = measurement_rows(frame)
    assert all(type(r) is StoredMeasurement for r in rows)
    assert [r.id for r in rows] == [3, 1, 2]  # the store's order, kept
    assert [r.position for r in rows] == [1, 1, 2]
    assert all(type(r.position) is int for r in rows)
    assert rows[0].repetitions == Repetitions(n=5, mean=0.25, stdev=0.01)
    assert rows[1].repetitions is None
    # NaN is no number: None, as a Measurement has it
    assert rows[1].value is None and rows[2].value == -1e-20
    # a damaged row is shown as it is, not refused as a new Measurement would be
    assert rows[1].verdict == "maybe"
    assert rows[1].point == [1, 2] and rows[1].point_text == "-"
    assert rows[1].point_key == "[1, 2]"  # the key as stored, not recomputed
    assert math.isnan(rows[1].load) and rows[1].element == "balanced"
    r = rows[2]
    assert (r.load, r.pf, r.direction, r.element, r.influenced) == (
        0.05, "0.8C", "export", "balanced", False)
    assert r.point_text == "0.05 In, PF 0.8C, export"
    assert is_curve_row(r) and not is_curve_row(rows[1])


def _row(position: int, value: float | None, u: float | None = 0.02,
         **kw) -> StoredMeasurement:
    fields = {"run_id": "r", "test_id": "t", "family": "accuracy",
              "quantity": "active energy error", "unit": "%", "stored_point_key": '{"load":1.0}',
              "point": {"load": 1.0}, "clause": "c", "value": value, "limit_low": -0.5,
              "limit_high": 0.5, "position": position, "verdict": "pass",
              "expanded_uncertainty": u}
    fields.update(kw)
    return StoredMeasurement(**fields)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 12, 48, 130])
def test_batch_figures_are_those_of_pandas_to_the_last_bit(n):
    # The batch table once used pandas per point; its figures must not move by a bit.
    rng = random.Random(n)
    values = [rng.gauss(0.05, 0.3) for _ in range(n)]
    us = [rng.choice([0.02, 0.021, 0.0203, None, 0.0]) for _ in range(n)]
    (b,) = batch_points([_row(i + 1, v, u)
                         for i, (v, u) in enumerate(zip(values, us, strict=True))])
    s = pd.Series(values)
    assert b.n == n
    assert b.mean == float(s.mean())
    assert b.spread == float(s.max() - s.min())
    assert (math.isnan(b.stdev) and n == 1) or b.stdev == float(s.std(ddof=1))
    positive = pd.Series([u for u in us if u])
    assert (math.isnan(b.typical_u) and positive.empty) or b.typical_u == float(
        positive.median())


def test_batch_point_worst_meter_and_grouping():
    rows = [_row(1, 0.1), _row(2, 0.45, verdict="inconclusive"), _row(3, -0.3),
            _row(4, None, verdict="error"),  # no value: not in the figures
            _row(1, 5.0, limit_low=None, limit_high=None, stored_point_key="other",
                 family="starting"),
            _row(2, -7.0, limit_low=None, limit_high=None, stored_point_key="other",
                 family="starting")]
    acc, start = batch_points(rows)
    assert (acc.family, acc.n, acc.worst_position, acc.worst_value) == ("accuracy", 3, 2, 0.45)
    assert acc.verdicts == {"pass": 2, "inconclusive": 1}
    # without limits the worst meter is the one with the largest |value|
    assert (start.n, start.worst_position, start.worst_value) == (2, 2, -7.0)


def test_curve_groups_in_report_order_with_their_rows_in_order():
    def r(i, d, pf):
        return _row(1, 0.0, id=i, quantity="q", point={"load": 1.0, "direction": d, "pf": pf})
    rows = [r(1, "export", "1"), r(2, "import", "0.8C"), r(3, "import", "1"),
            r(4, "import", "0.5L"), r(5, "import", "1")]
    groups = curve_groups(rows)
    assert list(groups) == [("q", "import", "1"), ("q", "import", "0.5L"),
                            ("q", "import", "0.8C"), ("q", "export", "1")]
    assert [x.id for x in groups[("q", "import", "1")]] == [3, 5]


def test_verdict_of_skips_missing_and_takes_the_worst():
    assert verdict_of([]) is None
    assert verdict_of([None, math.nan]) is None
    assert verdict_of(["pass", None, "inconclusive"]) is Verdict.INCONCLUSIVE
    assert verdict_of(["pass", "bogus"]) is Verdict.ERROR
    assert verdict_of(["error", "fail", "pass"]) is Verdict.FAIL
