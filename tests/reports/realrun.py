"""Real runs of the type-test plans on the simulated bench, for the report tests.

Each run is `python -m pytest -p rig.pytest_plugin <dir> --plan <yaml> --runs-dir <dir>`
in a subprocess, on a copy of the plan family modules (testplans/) and a small plan
written here, so that the tests keep working while the full plan grows.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
FAMILY_MODULES = ("test_accuracy.py", "test_starting.py", "test_no_load.py")

# Short measurements: a real run of this plan on three positions takes a few seconds.
QUICK = {"settling_s": 1, "repetitions": 2, "target_s": 5}
ACCURACY_CLAUSE = "IEC 60687 Table 9 (62053-22:2003 8.1, Table 4)"

SMALL_PLAN_ITEMS = [
    {"id": "acc.bal.pf1", "family": "accuracy", "clause": ACCURACY_CLAUSE, "pf": "1",
     "directions": ["import", "export"], "measure": QUICK,
     "points": [{"current": 0.1, "limit": 0.5, "confidence": "H"},
                {"current": 1.0, "limit": 0.5, "confidence": "H"}]},
    {"id": "acc.bal.pf05l", "family": "accuracy", "clause": ACCURACY_CLAUSE, "pf": "0.5L",
     "measure": QUICK,
     "points": [{"current": 0.2, "limit": 0.6}, {"current": 1.0, "limit": 0.6}]},
    {"id": "start.active", "family": "starting",
     "clause": "IEC 60687 / 62053-22:2003 8.3.3", "current": 0.001},
    {"id": "no-load", "family": "no_load", "clause": "IEC 60687 / 62053-22:2003 8.3.2"},
]

# Defective meters on a three-position bench (meter/a1000/defects.py names what catches
# each): position 1 healthy; 2 reads 1.5 % high between 0.05 In and 0.2 In and creeps;
# 3 does not start at 0.001 In.
DEFECTS = (
    "2=energy_gain_error:percent=1.5,i_min_in=0.05,i_max_in=0.2",
    "2=no_anti_creep",
    "3=starting_threshold_high",
)


@dataclass
class RealRun:
    runs_dir: Path
    run_id: str
    returncode: int
    stdout: str
    stderr: str


def write_plan(folder: Path, items: list[dict], name: str = "report-real-run") -> Path:
    """The plan YAML and a copy of the family modules in `folder`; returns the plan path."""
    folder.mkdir(parents=True, exist_ok=True)
    for module in FAMILY_MODULES:
        shutil.copy(REPO / "testplans" / module, folder / module)
    # Own ini file: the subprocess's rootdir and options do not depend on where tmp is.
    (folder / "pytest.ini").write_text("[pytest]\ntimeout = 120\n", encoding="utf-8")
    plan = folder / "plan.yaml"
    plan.write_text(yaml.safe_dump({
        "plan": name, "version": "0.1", "title": "Report tests on the simulated bench",
        "meter_class": "0.5S", "standards": ["IEC 60687:1992"], "items": items,
    }, sort_keys=False), encoding="utf-8")
    return plan


def command(folder: Path, plan: Path, runs_dir: Path, positions: int,
            defects: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", "-p", "rig.pytest_plugin", "-p", "no:cacheprovider",
           "-q", str(folder), "--plan", str(plan), "--runs-dir", str(runs_dir),
           "--positions", str(positions)]
    for d in defects:
        cmd += ["--defect", d]
    return cmd + list(extra)


def start(folder: Path, plan: Path, runs_dir: Path, positions: int,
          defects: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> subprocess.Popen:
    """Start a plan run; its own session, so that a kill reaches every thread and child."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(command(folder, plan, runs_dir, positions, defects, extra),
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def finish(proc: subprocess.Popen, runs_dir: Path, timeout: float = 120) -> RealRun:
    """Wait for a started run and name its run id (the store holds exactly one run)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"plan run did not end within {timeout} s:\n{out}\n{err}") from None
    return RealRun(runs_dir, only_run_id(runs_dir, out, err), proc.returncode, out, err)


def only_run_id(runs_dir: Path, out: str = "", err: str = "") -> str:
    store = runs_dir / "results.sqlite"
    assert store.exists(), f"the run wrote no store in {runs_dir}:\n{out}\n{err}"
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        ids = [r[0] for r in db.execute("SELECT run_id FROM run")]
    assert len(ids) == 1, f"expected one run in {store}, found {ids}"
    return ids[0]


def stored_count(runs_dir: Path) -> int:
    """Measurements committed so far (0 while the store does not exist yet)."""
    store = runs_dir / "results.sqlite"
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM measurement").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def wait_for_measurements(proc: subprocess.Popen, runs_dir: Path, count: int,
                          timeout: float = 60) -> int:
    """Poll the store until it holds `count` measurements (the run must still be going)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = stored_count(runs_dir)
        if n >= count:
            return n
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the run ended (status {proc.returncode}) with {n} "
                                 f"measurement(s) stored, before {count}:\n{out}\n{err}")
        time.sleep(0.05)
    raise AssertionError(f"the store held fewer than {count} measurements after {timeout} s")
