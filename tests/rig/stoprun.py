"""Stop a real `pytest testplans` run with a real signal at a chosen moment, resume it, and read
what the results store says. Used by tests/rig/test_stopping.py (a few tries) and
benchmarks/bench_stop.py (20 tries of each signal).

The moment is counted from the run's creation in the store (the rig is up, the bench open), so
the signal always reaches a run in progress: setup, a measurement, a clean-up or the gap
between two tests. The time to "source off" is the time of the run-log line the rig writes
once the source is read back off (`source off (verified)`, time.time in the child) minus the
moment the signal was sent (time.time here).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STORE = "results.sqlite"
OFF_VERIFIED = "source off (verified)"


@dataclass
class StoppedRun:
    """One run stopped by a signal: when it came, how the rig ended and what it recorded."""

    signal: str
    run_id: str | None
    returncode: int
    sent_after_s: float  # the signal came this long after the run was created
    off_after_s: float | None  # signal -> source read back off; None if never logged
    exit_after_s: float  # signal -> process exit (report included)
    status: str | None
    events: list[tuple[float, str, str]] = field(default_factory=list)  # (t, kind, message)
    stdout: str = ""
    stderr: str = ""

    @property
    def finished_first(self) -> bool:
        """The plan ended before the signal was sent (nothing was stopped)."""
        return self.status == "completed" and self.returncode in (0, 1)


def plan_command(runs_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "testplans", "-q", "-p", "no:cacheprovider",
            "--runs-dir", str(runs_dir), *args]


def _run_id(runs_dir: Path) -> tuple[str | None, float | None]:
    """The newest run in the store and its start, or (None, None) while there is none."""
    path = runs_dir / STORE
    if not path.exists():
        return None, None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute(
                "SELECT run_id, started_at FROM run ORDER BY started_at DESC LIMIT 1"
            ).fetchone()
    except sqlite3.Error:  # the schema is still being written
        return None, None
    return (row[0], row[1]) if row else (None, None)


def stop_run(
    runs_dir: Path,
    sig: signal.Signals,
    after_s: float,
    *args: str,
    timeout_s: float = 600.0,
) -> StoppedRun:
    """Start the plan on the simulated bench, send `sig` `after_s` seconds after the run exists
    in the store (or when the plan ends first), wait for the process to end."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    known = _run_id(runs_dir)[0]
    proc = subprocess.Popen(plan_command(runs_dir, *args), cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout_s
        run_id = None
        while proc.poll() is None and time.monotonic() < deadline:
            run_id = _run_id(runs_dir)[0]
            if run_id is not None and run_id != known:
                break
            time.sleep(0.02)  # polling the store file for the run the child creates
        created = time.monotonic()
        while proc.poll() is None and time.monotonic() < created + after_s:
            time.sleep(0.005)
        sent_mono, sent = time.monotonic(), time.time()
        if proc.poll() is None:
            os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        exited = time.monotonic() - sent_mono
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    run_id, status, events = run_record(runs_dir, known)
    offs = [t for t, _, message in events if message == OFF_VERIFIED]
    return StoppedRun(
        signal=sig.name,
        run_id=run_id,
        returncode=proc.returncode,
        sent_after_s=sent_mono - created,
        off_after_s=offs[-1] - sent if offs else None,
        exit_after_s=exited,
        status=status,
        events=events,
        stdout=out,
        stderr=err,
    )


def run_record(
    runs_dir: Path, not_this: str | None = None
) -> tuple[str | None, str | None, list[tuple[float, str, str]]]:
    """(run id, status, log events in time order) of the newest run (other than `not_this`)."""
    run_id = _run_id(runs_dir)[0]
    if run_id is None or run_id == not_this:
        return None, None, []
    with sqlite3.connect(runs_dir / STORE) as db:
        status = db.execute("SELECT status FROM run WHERE run_id = ?", (run_id,)).fetchone()[0]
        events = db.execute(
            "SELECT t, kind, message FROM event WHERE run_id = ? ORDER BY t, id", (run_id,)
        ).fetchall()
    return run_id, status, [tuple(e) for e in events]


def resume(runs_dir: Path, run_id: str, *args: str, timeout_s: float = 900.0
           ) -> subprocess.CompletedProcess[str]:
    """`pytest testplans --resume RUN_ID` to its end."""
    return subprocess.run(plan_command(runs_dir, "--resume", run_id, *args), cwd=REPO,
                          text=True, capture_output=True, timeout=timeout_s, check=False)


def measurement_keys(runs_dir: Path, run_id: str) -> dict[tuple[str, int, str], int]:
    """Every measurement of the run: (test id, position, point key) -> times it was written."""
    with sqlite3.connect(runs_dir / STORE) as db:
        rows = db.execute(
            "SELECT test_id, position, point_key, recorded_count FROM measurement "
            "WHERE run_id = ?", (run_id,)
        ).fetchall()
    return {(t, p, k): n for t, p, k, n in rows}


def report_of(runs_dir: Path, run_id: str) -> tuple[dict, str]:
    """The run's report: measurements.json (parsed) and report.html (text)."""
    folder = runs_dir / run_id
    doc = json.loads((folder / "measurements.json").read_text(encoding="utf-8"))
    return doc, (folder / "report.html").read_text(encoding="utf-8")
