"""Cut-down plan files for tests that run a few items of the default plan in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reports.store import ResultsStore
from rig.plan import PLANS_DIR

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_PLAN = PLANS_DIR / "iec60687-class0.5S.yaml"


def default_items(*ids: str) -> list[dict]:
    """The default class 0.5S plan's items `ids`, in the plan's order, as the YAML gives them."""
    raw = yaml.safe_load(DEFAULT_PLAN.read_text(encoding="utf-8"))
    return [i for i in raw["items"] if i["id"] in ids]


def plan_with(path: Path, items: list[dict]) -> Path:
    """The default plan's header with only `items` and no coverage claim (a plan of a few
    items cannot fill the class 0.5S matrix), written to `path`."""
    raw = yaml.safe_load(DEFAULT_PLAN.read_text(encoding="utf-8"))
    raw["items"] = items
    raw["coverage"] = []
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@dataclass(frozen=True)
class PlanRun:
    """A plan run in a subprocess as a user runs it on the simulated bench (`run_plan`): its
    exit code and output, the run's stored measurements and events."""

    returncode: int
    out: str
    rows: list[Any]
    events: list[Any]


def run_plan(modules: list[str], runs: Path, *args: str) -> PlanRun:
    """`pytest` of the plan `modules` (paths under testplans/) with `args`, no report, its runs
    in `runs`; the one run it stored, read back."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--no-report",
         "--rootdir", str(ROOT), *(str(ROOT / "testplans" / m) for m in modules),
         "--runs-dir", str(runs), *args],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=600)
    out = proc.stdout + proc.stderr
    with ResultsStore.in_runs_dir(runs) as store:
        stored = store.list_runs()
        assert len(stored) == 1, f"{len(stored)} runs stored, not one:\n{out[-3000:]}"
        (run,) = stored
        return PlanRun(proc.returncode, out, store.measurements(run.run_id),
                       store.events(run.run_id))
