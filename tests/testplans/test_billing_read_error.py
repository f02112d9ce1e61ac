"""A meter read error in the billing plan fails that month's checks with the reason and the
family goes on (issue 13 item 4): the months after it are still measured and recorded."""

from __future__ import annotations

from pathlib import Path

from reports.records import Verdict
from tests.plans import default_items, plan_with, run_plan


def test_a_read_error_fails_its_month_and_the_next_months_are_recorded(tmp_path: Path) -> None:
    (billing,) = default_items("billing.monthly")
    plan = plan_with(tmp_path / "billing3.yaml", [{**billing, "months": 3}])
    run = run_plan(["test_billing.py"], tmp_path / "runs", "--plan", str(plan),
                   "--meter-model", "tests.testplans.flaky_meter:FlakyA1000")
    out, rows = run.out, run.rows
    assert run.returncode == 1, out[-3000:]
    # The second month's post-reading read fails: each of its five checks says why and when.
    assert "R1 0.1.2*101" in out and "NOT READABLE" in out, out[-3000:]
    by_month: dict[int, list] = {}
    for m in rows:
        if "month" in m.point:
            by_month.setdefault(m.point["month"], []).append(m)
    assert sorted(by_month) == [1, 2, 3]
    assert all(Verdict(m.verdict) is Verdict.PASS for m in by_month[1] + by_month[3])
    assert len(by_month[2]) == 5
    assert all(Verdict(m.verdict) is Verdict.ERROR and "NOT READABLE" in m.message
               for m in by_month[2])
    # The history read at the end: the record of month 2 was read as None, so it is not
    # compared; months 1 and 3 are in place.
    history = [m for m in rows if m.point.get("check") == "history records *101..*116"]
    assert len(history) == 1
