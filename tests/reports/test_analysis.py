import math
import random

import pandas as pd
import pytest

from reports.analysis import (
    ROW,
    batch_points,
    curve_groups,
    describe_point,
    margin,
    pf_label,
    pf_sort_key,
    plain_rows,
    verdict_of,
)
from reports.records import Verdict


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


def test_plain_rows_hold_what_to_dict_gives_and_their_row_number():
    frame = pd.DataFrame({
        "id": [3, 1, 2],
        "position": pd.array([1, None, 2], dtype="Int64"),
        "value": [0.25, math.nan, -1e-20],
        "text": pd.Series(["a", None, "\u2713"]),
        "point": [{"load": 1.0}, {}, None],
        "flag": [True, False, True],
    })
    rows = plain_rows(frame)
    assert [r.pop(ROW) for r in rows] == [0, 1, 2]
    expected = frame.to_dict("records")
    for row, want in zip(rows, expected, strict=True):
        assert list(row) == list(want)
        for k in want:
            assert type(row[k]) is type(want[k]), k
            assert row[k] is want[k] or row[k] == want[k] or (
                isinstance(want[k], float) and math.isnan(want[k]) and math.isnan(row[k]))


def _row(position: int, value: float | None, u: float | None = 0.02, **kw) -> dict:
    r = {"family": "accuracy", "quantity": "active energy error", "unit": "%",
         "point_key": '{"load":1.0}', "clause": "c", "value": value, "limit_low": -0.5,
         "limit_high": 0.5, "position": position, "verdict": "pass",
         "expanded_uncertainty": u, "p_text": "1 In"}
    r.update(kw)
    return r


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
            _row(1, 5.0, limit_low=None, limit_high=None, point_key="other", family="starting"),
            _row(2, -7.0, limit_low=None, limit_high=None, point_key="other",
                 family="starting")]
    acc, start = batch_points(rows)
    assert (acc.family, acc.n, acc.worst_position, acc.worst_value) == ("accuracy", 3, 2, 0.45)
    assert acc.verdicts == {"pass": 2, "inconclusive": 1}
    # without limits the worst meter is the one with the largest |value|
    assert (start.n, start.worst_position, start.worst_value) == (2, 2, -7.0)


def test_curve_groups_in_report_order_with_their_rows_in_order():
    def r(i, d, pf):
        return {"id": i, "quantity": "q", "p_direction": d, "p_pf": pf}
    rows = [r(1, "export", "1"), r(2, "import", "0.8C"), r(3, "import", "1"),
            r(4, "import", "0.5L"), r(5, "import", "1")]
    groups = curve_groups(rows)
    assert list(groups) == [("q", "import", "1"), ("q", "import", "0.5L"),
                            ("q", "import", "0.8C"), ("q", "export", "1")]
    assert [x["id"] for x in groups[("q", "import", "1")]] == [3, 5]


def test_verdict_of_skips_missing_and_takes_the_worst():
    assert verdict_of([]) is None
    assert verdict_of([None, math.nan, pd.NA]) is None
    assert verdict_of(["pass", None, "inconclusive"]) is Verdict.INCONCLUSIVE
    assert verdict_of(["pass", "bogus"]) is Verdict.ERROR
    assert verdict_of(["error", "fail", "pass"]) is Verdict.FAIL
