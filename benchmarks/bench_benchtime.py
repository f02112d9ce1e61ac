"""Bench time of a plan: the estimate against the simulated bench's timeline, per family (run:
`.venv/bin/python benchmarks/bench_benchtime.py [--plan NAME] [--positions N] [--save FILE]`).

The plan runs as `pytest testplans` on the simulated bench (virtual time, the meter link at
real line timing: the simulator's default) with the rig.timeline plugin, which notes for each
plan test the planned seconds its procedure stated before the run (`planned_seconds`, the
figures `pytest testplans` prints as its estimate) and the virtual time the test took on the
bench. Prints, per plan family and in total, the estimate, the timeline, the physical minimum
and their ratios, and the total a lab bench runs: without the items marked `simulated_only`
(virtual time only, such as the 1500 h register capacity), which a lab bench skips.

The physical minimum of a test is its procedure's planned seconds without the meter
communication (rig.benchtime.minimum_seconds: measuring times, settling, inherent waits); a
background item's end counts only what its hosts' minimum does not cover (overlaps allowed,
rig.schedule), as the estimate counts only what their planned time does not.

Issue 14's targets: estimate within 5 % of the timeline; timeline at most 1.1x the minimum; the
default class 0.5S plan at most 60 h of lab bench time.
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
    parser.add_argument("--save", type=Path, default=None, metavar="FILE",
                        help="also write the timeline's rows (rig.timeline, in run order) here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-benchtime-") as tmp:
        rows, summary = run_plan(args.plan, args.positions, Path(tmp))
    if args.save is not None:
        args.save.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        for key in ("estimate_s", "timeline_s", "minimum_s"):
            sums[r["family"]][key] += r[key] or 0.0
    print(f"plan {args.plan}, {args.positions} position(s), simulated bench at real line "
          f"timing; pytest: {summary}")
    print("targets (issue 14): estimate/timeline within 0.95-1.05; timeline/minimum <= 1.1; "
          "lab bench total <= 60 h")
    print(f"{'family':<20} {'estimate':>11} {'timeline':>11} {'minimum':>11} "
          f"{'estimate/timeline':>18} {'timeline/minimum':>17}")

    def row(name: str, part: list[dict]) -> None:
        e, t, m = (sum(r[k] or 0.0 for r in part)
                   for k in ("estimate_s", "timeline_s", "minimum_s"))
        et = f"{e / t:.3f}" if t > 0 else "-"
        tm = f"{t / m:.3f}" if m > 0 else "-"
        print(f"{name:<20} {_hours(e):>11} {_hours(t):>11} {_hours(m):>11} {et:>18} {tm:>17}")

    for family in sorted(sums, key=lambda f: -sums[f]["timeline_s"]):
        row(family, [r for r in rows if r["family"] == family])
    row("total", rows)
    # The items a lab bench skips (rig.timeline notes each test's plan item's flag).
    virtual_only = sorted({r["family"] for r in rows if r["simulated_only"]})
    row("lab bench total", [r for r in rows if not r["simulated_only"]])
    print(f"  (without {', '.join(virtual_only)}: simulated bench only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
