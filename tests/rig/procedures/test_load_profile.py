"""The load-profile procedure (rig.procedures.load_profile): a quadrant item without its own
power-down measures its loaded entries as the item with it does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reports.records import Verdict
from reports.store import ResultsStore
from rig.loads import Rating
from rig.plan import LoadProfileItem
from rig.procedures.load_profile import INTERVAL_S, LoadProfile
from tests.plans import default_items, plan_with

ROOT = Path(__file__).resolve().parents[3]
RATING = Rating(un=220.0, in_=5.0, imax=10.0, meter_constant=1000.0, reactive_constant=1000.0,
                wiring="3P4W")


def test_without_the_power_down_the_item_plans_two_intervals_less_and_has_no_flags() -> None:
    (q1,) = default_items("load-profile.q1")
    without = LoadProfile(LoadProfileItem(**q1), RATING)
    with_it = LoadProfile(LoadProfileItem(**{**q1, "power_down": True}), RATING)
    # intervals 2: the wait to the first boundary, the partial interval, two whole ones (4 x
    # 15 min), and with the outage its two intervals more.
    assert without.planned_seconds() == 4 * INTERVAL_S
    assert with_it.planned_seconds() == 6 * INTERVAL_S
    flags, per_channel = without.descs()
    assert flags == [] and len(per_channel) == 3
    flags, per_channel = with_it.descs()
    assert [d["power_down"] for d in flags] == ["fails", "returns"] and len(per_channel) == 5
    assert per_channel[:3] == without.descs()[1]


def test_the_shortened_item_measures_the_loaded_entries_as_the_full_one(tmp_path: Path) -> None:
    """Both forms of the Q1 item (0.5L import, In) on one simulated position, one after the
    other: every channel of the partial and the two whole entries gets the same verdict (all
    pass) and the same error within the two rows' expanded uncertainties; only the full form has
    the power-down entries and their flags."""
    (q1,) = default_items("load-profile.q1")
    full = {**q1, "id": "load-profile.q1-full", "power_down": True}
    plan = plan_with(tmp_path / "plan.yaml", [full, q1])
    runs = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--no-report",
         "--rootdir", str(ROOT), str(ROOT / "testplans"), "--plan", str(plan),
         "--positions", "1", "--runs-dir", str(runs)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with ResultsStore.in_runs_dir(runs) as store:
        (run,) = store.list_runs()
        rows = store.measurements(run.run_id)

    def entries(item_id: str) -> dict[tuple, object]:
        return {(r.point["interval"], r.point.get("channel"), r.quantity): r
                for r in rows if r.test_id.endswith(f"[{item_id}]")}

    short, long = entries("load-profile.q1"), entries("load-profile.q1-full")
    assert all(Verdict(r.verdict) is Verdict.PASS for r in rows)
    outage = {k for k in long if k[0] > 2}
    assert outage and not any(k[0] > 2 for k in short)
    assert set(short) == set(long) - outage
    for key, a in short.items():
        b = long[key]
        assert a.verdict == b.verdict, key
        if "error" in a.quantity and a.value is not None:
            allowed = (a.expanded_uncertainty or 0.0) + (b.expanded_uncertainty or 0.0) + 1e-9
            assert abs(a.value - b.value) <= allowed, (key, a.value, b.value, allowed)
        else:  # a channel carrying nothing: the same entry (none)
            assert a.value == b.value, key
