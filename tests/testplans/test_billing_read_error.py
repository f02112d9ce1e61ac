"""A meter read error in the billing plan fails that month's checks with the reason and the
family goes on (issue 13 item 4): the months after it are still measured and recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reports.records import Verdict
from reports.store import ResultsStore
from tests.plans import default_items, plan_with

ROOT = Path(__file__).resolve().parents[2]


def test_a_read_error_fails_its_month_and_the_next_months_are_recorded(tmp_path: Path) -> None:
    (billing,) = default_items("billing.monthly")
    plan = plan_with(tmp_path / "billing3.yaml", [{**billing, "months": 3}])
    runs = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--no-report",
         "--rootdir", str(ROOT), str(ROOT / "testplans" / "test_billing.py"), "--plan", str(plan),
         "--runs-dir", str(runs), "--meter-model", "tests.testplans.flaky_meter:FlakyA1000"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    # The second month's post-reading read fails: each of its five checks says why and when.
    assert "R1 0.1.2*101" in out and "NOT READABLE" in out, out[-3000:]
    with ResultsStore.in_runs_dir(runs) as store:
        (run,) = store.list_runs()
        rows = store.measurements(run.run_id)
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
