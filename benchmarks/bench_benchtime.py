"""Bench time of a plan: the estimate against the simulated bench's timeline, per family (run:
`.venv/bin/python benchmarks/bench_benchtime.py [--plan NAME] [--positions N]`).

The plan runs as `pytest testplans` on the simulated bench (virtual time, the meter link at
real line timing: the simulator's default) with this module as a pytest plugin: for each plan
test it notes the planned seconds the rig's plugin computed before the run (rig.estimate, the
figures `pytest testplans` prints as its estimate) and the virtual time the test took on the
bench (the timebase's clock before and after the test's call). Prints, per plan family and in
total, the estimate, the timeline and their ratio (issue 14's target: within 5 %).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Where the plugin writes its figures (set by the script for the pytest it starts).
OUT_ENV = "BENCH_BENCHTIME_OUT"

_TIMES: dict[str, dict[str, Any]] = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """The virtual time one plan test takes on the bench."""
    callspec = getattr(item, "callspec", None)
    plan_item = callspec.params.get("plan_item") if callspec is not None else None
    session = getattr(item, "funcargs", {}).get("rig")
    if plan_item is None or session is None:
        return (yield)
    start = session.timebase.now()
    try:
        return (yield)
    finally:
        _TIMES[item.nodeid] = {"family": plan_item.family,
                               "timeline_s": session.timebase.now() - start}


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = os.environ.get(OUT_ENV)
    if not out:
        return
    from rig.pytest_plugin import PLANNED_KEY

    planned = session.config.stash.get(PLANNED_KEY, {})
    rows = [{**t, "nodeid": n, "estimate_s": planned.get(n)} for n, t in _TIMES.items()]
    Path(out).write_text(json.dumps(rows), encoding="utf-8")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:8.2f} h"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default="iec60687-class0.5S")
    parser.add_argument("--positions", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-benchtime-") as tmp:
        out = Path(tmp) / "times.json"
        env = {**os.environ, OUT_ENV: str(out),
               "PYTHONPATH": os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT)])}
        cmd = [sys.executable, "-m", "pytest", "testplans", "-q", "-p", "no:cacheprovider",
               "-p", "bench_benchtime", "--no-report", "--plan", args.plan,
               "--positions", str(args.positions), "--runs-dir", str(Path(tmp) / "runs")]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if not out.exists():
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
            return 1
        rows = json.loads(out.read_text(encoding="utf-8"))
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    estimate: dict[str, float] = defaultdict(float)
    timeline: dict[str, float] = defaultdict(float)
    for r in rows:
        estimate[r["family"]] += r["estimate_s"] or 0.0
        timeline[r["family"]] += r["timeline_s"]
    print(f"plan {args.plan}, {args.positions} position(s), simulated bench at real line "
          f"timing; pytest: {summary}")
    print(f"{'family':<20} {'estimate':>11} {'timeline':>11} {'estimate/timeline':>18}")
    for family in sorted(timeline, key=lambda f: -timeline[f]):
        e, t = estimate[family], timeline[family]
        ratio = f"{e / t:.3f}" if t > 0 else "-"
        print(f"{family:<20} {_hours(e):>11} {_hours(t):>11} {ratio:>18}")
    e, t = sum(estimate.values()), sum(timeline.values())
    print(f"{'total':<20} {_hours(e):>11} {_hours(t):>11} {e / t:>18.3f}")
    return 0 if proc.returncode in (0, 1) else proc.returncode


if __name__ == "__main__":
    sys.exit(main())
