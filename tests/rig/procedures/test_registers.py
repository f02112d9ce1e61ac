"""The reactive quadrant registers' test through the plugin on the simulated bench
(rig.procedures.registers.QuadrantRegister): each quadrant's dose after the first takes the
dose before's after-reading as its before-reading (no current between), and says so."""

from __future__ import annotations

from pathlib import Path

from reports.records import Verdict
from tests.plans import default_items, plan_with, run_plan


def test_each_quadrant_dose_after_the_first_carries_the_reading_before_it(
        tmp_path: Path) -> None:
    (quadrants,) = default_items("registers.quadrants")
    plan = plan_with(tmp_path / "quadrants.yaml", [quadrants])
    run = run_plan(["test_registers.py"], tmp_path / "runs", "--plan", str(plan),
                   "--positions", "2")
    assert run.returncode == 0, run.out[-3000:]
    rows = run.rows
    carried = {(m.position, m.point["quadrant"]): m.raw["before_from"] for m in rows}
    assert carried == {(n, k): "" if k == 1 else f"Q{k - 1} energy"
                       for n in (1, 2) for k in (1, 2, 3, 4)}
    assert all(Verdict(m.verdict) is Verdict.PASS for m in rows)
    # Each dose still sees every quadrant register: its own advanced, the others stayed.
    for m in rows:
        advance = m.raw["advance_kvarh"]
        own = f"Q{m.point['quadrant']}"
        assert advance[own] > 0.3 and all(v == 0 for q, v in advance.items() if q != own)
