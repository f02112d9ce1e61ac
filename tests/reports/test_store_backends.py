"""The type test on both store backends: the same rows in SQLite and in PostgreSQL, and a run
killed with SIGKILL then resumed holds every point exactly once on both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from reports.records import Measurement
from reports.store import ResultsStore, StoreError

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

# The only columns that differ between two runs of one plan on the simulated bench: row ids
# (unique across runs and benches), the run, and the wall-clock instants a run, a point and a
# reading were made. Everything measured is a function of virtual time, so it is the same.
VOLATILE = {"id", "run_id", "started_at", "ended_at", "read_at"}


def plan_command(store: str | Path, runs: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
            str(ROOT / "testplans"), "--store", str(store), "--runs-dir", str(runs), *args]


def comparable(m: Measurement) -> dict[str, Any]:
    return {k: v for k, v in vars(m).items() if k not in VOLATILE}


def comparable_rows(store: str | Path) -> tuple[dict[str, Any], list[dict], list[dict]]:
    """The single run of a store: its row, positions and measurements without VOLATILE."""
    with ResultsStore(store, create=False) as s:
        (run,) = s.list_runs()
        measurements = [comparable(m) for m in s.measurements(run.run_id)]
        positions = [{k: v for k, v in vars(p).items() if k not in VOLATILE}
                     for p in s.positions(run.run_id)]
        info = {k: v for k, v in vars(run).items() if k not in VOLATILE | {"environment"}}
    return info, positions, measurements


def key(row: dict[str, Any]) -> tuple:
    return (row["test_id"], row["position"], str(sorted(row["point"].items())),
            row["quantity"])


def run_plan(store: str | Path, runs: Path, *args: str, timeout: float) -> None:
    done = subprocess.run(plan_command(store, runs, *args), cwd=runs.parent, env=ENV,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def run_on_both(tmp_path: Path, pg_url: str, *args: str, timeout: float) -> None:
    sqlite_store = tmp_path / "results.sqlite"
    run_plan(sqlite_store, tmp_path / "runs-sqlite", *args, timeout=timeout)
    run_plan(pg_url, tmp_path / "runs-postgresql", *args, timeout=timeout)
    sqlite_run, sqlite_positions, sqlite_rows = comparable_rows(sqlite_store)
    pg_run, pg_positions, pg_rows = comparable_rows(pg_url)
    assert pg_run == sqlite_run
    assert pg_positions == sqlite_positions
    assert len(pg_rows) == len(sqlite_rows) > 0
    for pg_row, sqlite_row in zip(pg_rows, sqlite_rows, strict=True):
        assert pg_row == sqlite_row
    # The lab panel's progress feed (rig.progressfeed) went into the store with the rows.
    with ResultsStore(pg_url, create=False) as s:
        (run,) = s.list_runs()
        progress = [ev for ev in s.events(run.run_id) if ev.kind == "progress"]
    assert progress and progress[-1].data["count"] == progress[0].data["count"] > 0
    # The report reads the PostgreSQL run as it reads the file, and so does `reports list`.
    assert list((tmp_path / "runs-postgresql").glob("*/report.html"))
    listed = subprocess.run([sys.executable, "-m", "reports", "list", "--store", pg_url],
                            env=ENV, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and run.run_id in listed.stdout, listed.stderr


SMOKE = ("--plan", "smoke", "--positions", "2")


@pytest.mark.postgres
@pytest.mark.timeout(900)  # two runs of the plan; a loaded machine is several times slower
def test_smoke_plan_stores_the_same_rows_in_sqlite_and_postgresql(tmp_path, pg_url):
    run_on_both(tmp_path, pg_url, *SMOKE, timeout=600)


@pytest.mark.postgres
@pytest.mark.timeout(900)
def test_four_xdist_workers_write_one_postgresql_store_without_a_lost_or_repeated_row(
    tmp_path, pg_url
):
    """Four pytest-xdist workers (four simulated benches, each its own run) into one
    PostgreSQL database: every row of a one-process run once, none lost, none twice."""
    reference_store = tmp_path / "results.sqlite"
    run_plan(reference_store, tmp_path / "runs-one", *SMOKE, "--no-report", timeout=600)
    _, _, reference = comparable_rows(reference_store)
    run_plan(pg_url, tmp_path / "runs-xdist", *SMOKE, "-n", "4", "--no-report", timeout=600)
    with ResultsStore(pg_url, create=False) as s:
        runs = s.list_runs()
        rows = [comparable(m) for r in runs for m in s.measurements(r.run_id)]
        owners = {s.run_owner(r.run_id) for r in runs}
    assert 2 <= len(runs) <= 4 and len(owners) == len(runs)  # one writer per worker's run
    assert all(r.status == "completed" for r in runs)
    # Each worker's simulated meters see another sequence of items than the one-process run
    # (their registers and clocks differ), so values differ; every point must be there once.
    assert sorted(key(r) for r in rows) == sorted(key(r) for r in reference)
    assert len({key(r) for r in rows}) == len(rows)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(3600)
def test_full_type_test_stores_the_same_rows_in_sqlite_and_postgresql(tmp_path, pg_url):
    """The whole plan into both, every family, on three positions driven in parallel: the
    run, its positions and every measurement row identical but for VOLATILE. The simulated
    bench runs in virtual time, so two runs measure the same values however loaded the
    machine is. Three places had let the machine's scheduling into virtual time: the dating
    of a line's closing break (rig/sim/line.py `_start`), the demand items' settings writes
    timed inside the parallel lines (rig/procedures/demand.py), and the virtual timebase's
    keep-alives spaced by the wall clock (rig/timebase.py)."""
    run_on_both(tmp_path, pg_url, "--positions", "3", timeout=3000)
    with ResultsStore(tmp_path / "results.sqlite", create=False) as s:
        (run,) = s.list_runs()
        cases = {m.test_id.partition("[")[2].rstrip("]") for m in s.measurements(run.run_id)}
    # Every item of the plan, of every family, has its rows in the comparison.
    plan = yaml.safe_load((ROOT / "testplans/plans/iec60687-class0.5S.yaml").read_text())
    missing = [item["id"] for item in plan["items"]
               if not any(c == item["id"] or c.startswith(item["id"] + "-") for c in cases)]
    assert not missing


TINY_PLAN = """plan: many-points
version: "0.1"
title: many short accuracy points
meter_class: 0.5S
standards: [IEC 60687]
items:
  - id: acc.many
    family: accuracy
    clause: IEC 60687 Table 9
    pf: "1"
    measure: {settling_s: 1, repetitions: 2, target_s: 5}
    points:
"""


def count_measurements(store: str | Path) -> int:
    try:
        with ResultsStore(store, create=False) as s:
            return sum(len(s.measurements(r.run_id)) for r in s.list_runs())
    except StoreError:  # not made yet
        return 0


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
@pytest.mark.timeout(900)
def test_sigkill_then_resume_stores_every_point_once(tmp_path, backend, request):
    points, positions = 60, 3  # a point takes milliseconds here: the kill lands mid-plan
    plan = tmp_path / "many.yaml"
    plan.write_text(TINY_PLAN + "".join(
        f"      - {{current: {0.2 + 0.02 * k:.2f}, limit: 1.0, confidence: H}}\n"
        for k in range(points)))
    store = (tmp_path / "results.sqlite" if backend == "sqlite"
             else request.getfixturevalue("pg_url"))
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
           str(ROOT / "testplans" / "test_accuracy.py"), "--plan", str(plan),
           "--positions", str(positions), "--store", str(store), "--runs-dir",
           str(tmp_path / "runs"), "--no-report"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    taken = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None and taken < 3 * positions:
            taken = count_measurements(store)
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    taken = count_measurements(store)
    assert 3 * positions <= taken < points * positions, \
        f"the run was not killed mid-plan ({taken} measurements)"
    with ResultsStore(store, create=False) as s:
        (run,) = s.list_runs()
        killed = s.measurements(run.run_id)
    before = {(m.test_id, m.position): (m.id, m.value) for m in killed}
    # A point's results at every position were committed together: none half-stored.
    by_point: dict[tuple[str, str], set[int]] = {}
    for m in killed:
        by_point.setdefault((m.test_id, m.point_key), set()).add(m.position)
    assert all(p == set(range(1, positions + 1)) for p in by_point.values()), by_point
    resumed = subprocess.run([*cmd, "--resume", run.run_id], cwd=tmp_path, env=ENV,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    with ResultsStore(store, create=False) as s:
        rows = s.measurements(run.run_id)
        assert s.get_run(run.run_id).status == "completed"
    keys = [(m.test_id, m.position) for m in rows]
    assert len(keys) == points * positions and len(set(keys)) == points * positions
    # What was committed before the kill stands as it was (not measured again).
    after = {(m.test_id, m.position): (m.id, m.value) for m in rows}
    assert all(after[k] == v for k, v in before.items())
