"""Bench time of a plan: the estimate against the simulated bench's timeline, per family (run:
`.venv/bin/python benchmarks/bench_benchtime.py [--plan NAME] [--positions N]`).

The plan runs as `pytest testplans` on the simulated bench (virtual time, the meter link at
real line timing: the simulator's default) with the rig.timeline plugin, which notes for each
plan test the planned seconds its procedure stated before the run (`planned_seconds`, the
figures `pytest testplans` prints as its estimate) and the virtual time the test took on the
bench. Prints, per plan family and in total, the estimate, the timeline and their ratio
(issue 14's target: within 5 %), and the total a lab bench runs: without the items marked
`simulated_only` (virtual time only, such as the 1500 h register capacity), which a lab bench
skips.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_plan(plan: str, positions: int, tmp: Path) -> tuple[list[dict], str]:
    """The plan's timeline rows (rig.timeline) and pytest's summary line."""
    out = tmp / "timeline.json"
    cmd = [sys.executable, "-m", "pytest", "testplans", "-q", "-p", "no:cacheprovider",
           "-p", "rig.timeline", "--timeline", str(out), "--no-report", "--plan", plan,
           "--positions", str(positions), "--runs-dir", str(tmp / "runs")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if not out.exists():
        raise RuntimeError(f"pytest wrote no timeline:\n{proc.stdout[-3000:]}\n"
                           f"{proc.stderr[-3000:]}")
    lines = proc.stdout.strip().splitlines()
    return json.loads(out.read_text(encoding="utf-8")), lines[-1] if lines else ""


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:8.2f} h"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="iec60687-class0.5S")
    parser.add_argument("--positions", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-benchtime-") as tmp:
        rows, summary = run_plan(args.plan, args.positions, Path(tmp))
    estimate: dict[str, float] = defaultdict(float)
    timeline: dict[str, float] = defaultdict(float)
    for r in rows:
        estimate[r["family"]] += r["estimate_s"] or 0.0
        timeline[r["family"]] += r["timeline_s"]
    print(f"plan {args.plan}, {args.positions} position(s), simulated bench at real line "
          f"timing; pytest: {summary}")
    print(f"{'family':<20} {'estimate':>11} {'timeline':>11} {'estimate/timeline':>18}")

    def row(name: str, e: float, t: float) -> None:
        ratio = f"{e / t:.3f}" if t > 0 else "-"
        print(f"{name:<20} {_hours(e):>11} {_hours(t):>11} {ratio:>18}")

    for family in sorted(timeline, key=lambda f: -timeline[f]):
        row(family, estimate[family], timeline[family])
    row("total", sum(estimate.values()), sum(timeline.values()))
    # The items a lab bench skips (rig.timeline notes each test's plan item's flag).
    lab = [r for r in rows if not r["simulated_only"]]
    virtual_only = sorted({r["family"] for r in rows if r["simulated_only"]})
    row("lab bench total", sum(r["estimate_s"] or 0.0 for r in lab),
        sum(r["timeline_s"] for r in lab))
    print(f"  (without {', '.join(virtual_only)}: simulated bench only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
