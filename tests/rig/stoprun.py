"""Stop a real `pytest testplans` run with a real signal at a chosen moment, resume it, and read
what the results store says. Used by tests/rig/test_stopping.py (a few tries) and
benchmarks/bench_stop.py (20 tries of each signal).

The moment is counted from the session's first run-log line (`run started: ...` or `run
resumed: ...`: the rig is up, the bench open), so the signal always reaches a session in
progress: a meter readout, a measurement, a clean-up or the gap between two tests. Use one runs
directory per run (the newest run in it is the one looked at). The time to "source off" is the
time of the run-log line the rig writes once the source is read back off (`source off
(verified)`, time.time in the child) minus the moment the signal was sent (time.time here).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rig.served import ready_facts
from rig.sim.control import SimControl

REPO = Path(__file__).resolve().parents[2]
STORE = "results.sqlite"
OFF_VERIFIED = "source off (verified)"
SESSION_STARTS = ("run started: ", "run resumed: ")  # the first run-log line of a session


@dataclass
class StoppedRun:
    """One run stopped by a signal: when it came, how the rig ended and what it recorded."""

    signal: str
    runs_dir: Path
    run_id: str | None
    returncode: int
    sent_after_s: float  # the signal came this long after the run was created
    off_after_s: float | None  # signal -> source read back off; None if never logged
    exit_after_s: float  # signal -> process exit (report included)
    status: str | None
    # signal -> the stop watcher began its switch-off (the rest of off_after_s is the
    # switch-off's instrument exchanges); None if the watcher did not switch off.
    woke_after_s: float | None = None
    events: list[tuple[float, str, str]] = field(default_factory=list)  # (t, kind, message)
    stdout: str = ""
    stderr: str = ""
    again_sent: float | None = None  # wall time the second signal was sent (None: not sent)

    @property
    def one_handler_call(self) -> bool:
        """Both signals reached the process before its handler ran for the first: Python then
        runs the handler once (the stop's logged time is after the second signal was sent), and
        the rig saw one request, not a second one while stopping."""
        stops = [t for t, _, message in self.events if message.startswith("stop requested")]
        return self.again_sent is not None and bool(stops) and stops[-1] >= self.again_sent

    @property
    def finished_first(self) -> bool:
        """The plan ended before the signal could stop it: the run is stored as completed.
        The signal may still land while the report is built (the process then exits 2), as it
        did under Python 3.13, which runs the plan faster than the signal's random moment."""
        return self.status == "completed"


def plan_command(runs_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "testplans", "-q", "-p", "no:cacheprovider",
            "--runs-dir", str(runs_dir), *args]


def _sessions(runs_dir: Path) -> int:
    """How many rig sessions (a run's start and each resume) the store has seen so far."""
    path = runs_dir / STORE
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute(
                "SELECT count(*) FROM event WHERE "
                + " OR ".join(f"message LIKE '{start}%'" for start in SESSION_STARTS)
            ).fetchone()[0]
    except sqlite3.Error:  # the schema is still being written
        return 0


def _newest_run(runs_dir: Path) -> str | None:
    path = runs_dir / STORE
    if not path.exists():
        return None
    with sqlite3.connect(path, timeout=5) as db:
        try:
            row = db.execute("SELECT run_id FROM run ORDER BY started_at DESC LIMIT 1").fetchone()
        except sqlite3.OperationalError as error:
            if "no such table" not in str(error):
                raise
            return None  # the store's file is there, its schema not yet: no run so far
    return row[0] if row else None


def stop_run(
    runs_dir: Path,
    sig: signal.Signals,
    after_s: float,
    *args: str,
    again_after_s: float | None = None,
    timeout_s: float = 600.0,
) -> StoppedRun:
    """Start the plan on the simulated bench, send `sig` `after_s` seconds after the run exists
    in the store (unless the plan ended first), and once more `again_after_s` later if given
    (an operator pressing Ctrl-C twice); wait for the process to end."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    known = _sessions(runs_dir)
    proc = subprocess.Popen(plan_command(runs_dir, *args), cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None and time.monotonic() < deadline:
            if _sessions(runs_dir) > known:
                break
            time.sleep(0.02)  # polling the store file for the session the child starts
        created = time.monotonic()
        while proc.poll() is None and time.monotonic() < created + after_s:
            time.sleep(0.005)
        sent_mono, sent = time.monotonic(), time.time()
        again: float | None = None
        if proc.poll() is None:
            os.kill(proc.pid, sig)
            if again_after_s is not None:
                time.sleep(again_after_s)
                if proc.poll() is None:
                    again = time.time()
                    os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        exited = time.monotonic() - sent_mono
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    run_id, status, events = run_record(runs_dir)
    offs = [t for t, _, message in events if message == OFF_VERIFIED]  # the last: this session
    woke = _off_facts(runs_dir, run_id).get("watcher_started") if run_id else None
    return StoppedRun(
        signal=sig.name,
        runs_dir=runs_dir,
        run_id=run_id,
        returncode=proc.returncode,
        sent_after_s=sent_mono - created,
        off_after_s=offs[-1] - sent if offs else None,
        woke_after_s=woke - sent if woke is not None else None,
        exit_after_s=exited,
        status=status,
        events=events,
        stdout=out,
        stderr=err,
        again_sent=again,
    )


def run_record(runs_dir: Path) -> tuple[str | None, str | None, list[tuple[float, str, str]]]:
    """(run id, status, log events in time order) of the newest run."""
    run_id = _newest_run(runs_dir)
    if run_id is None:
        return None, None, []
    with sqlite3.connect(runs_dir / STORE) as db:
        status = db.execute("SELECT status FROM run WHERE run_id = ?", (run_id,)).fetchone()[0]
        events = db.execute(
            "SELECT t, kind, message FROM event WHERE run_id = ? ORDER BY t, id", (run_id,)
        ).fetchall()
    return run_id, status, [tuple(e) for e in events]


def _off_facts(runs_dir: Path, run_id: str) -> dict:
    """The facts the rig kept with its last `source off (verified)` line (the stop watcher's
    start and end times), or {}."""
    with sqlite3.connect(runs_dir / STORE) as db:
        row = db.execute(
            "SELECT data FROM event WHERE run_id = ? AND message = ? ORDER BY t DESC, id DESC",
            (run_id, OFF_VERIFIED),
        ).fetchone()
    return json.loads(row[0]) if row and row[0] else {}


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


def stop_problems(r: StoppedRun, off_limit_s: float) -> list[str]:
    """What is wrong with a stopped run (empty: all is as it must be): exit code 2, status
    aborted, source verified off within `off_limit_s` of the signal, the log in true order
    (stop requested, source off, run aborted), a report marked INCOMPLETE with the abort and its
    reason that states no conformity."""
    out = []
    if r.returncode != 2:
        out.append(f"exit code {r.returncode}, not 2")
    if r.status != "aborted":
        out.append(f"run status {r.status!r}, not 'aborted'")
    if r.off_after_s is None:
        out.append("no 'source off (verified)' in the run log")
    elif r.off_after_s > off_limit_s:
        out.append(f"source off {r.off_after_s:.3f} s after the signal (limit {off_limit_s} s)")
    messages = [m for _, _, m in r.events]
    starts = [k for k, m in enumerate(messages) if m.startswith(SESSION_STARTS)]
    this_session = messages[starts[-1]:] if starts else messages
    order = [f"stop requested: {r.signal} received", OFF_VERIFIED, "run aborted"]
    if [m for m in this_session if m in order] != order:
        out.append(f"run log out of order: {this_session[-5:]}")
    if r.run_id is None:
        return [*out, "no run in the store"]
    try:
        doc, html = report_of(r.runs_dir, r.run_id)
    except OSError as exc:
        return [*out, f"no report: {exc}"]
    if not doc["incomplete"] or not any(
        "ABORTED" in why and r.signal in why for why in doc["incomplete_reasons"]
    ):
        out.append(f"report not marked aborted: {doc['incomplete_reasons']}")
    if "INCOMPLETE REPORT" not in html or re.search(r"(?<!NOT )CONFORMS", html):
        out.append("the HTML report is not marked INCOMPLETE or states conformity")
    return out


def report_of(runs_dir: Path, run_id: str) -> tuple[dict, str]:
    """The run's report: measurements.json (parsed) and report.html (text)."""
    folder = runs_dir / run_id
    doc = json.loads((folder / "measurements.json").read_text(encoding="utf-8"))
    return doc, (folder / "report.html").read_text(encoding="utf-8")


# --- a wall-clock served bench (`python -m rig.sim serve --realtime`) ---------------------------


@contextlib.contextmanager
def served_realtime() -> Iterator[tuple[Path, SimControl]]:
    """`python -m rig.sim serve --bench benches/sim.yaml --realtime` in a subprocess: yields the
    resolved bench file it wrote and a client of its control endpoint; SIGTERM at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig.sim", "serve", "--bench", "benches/sim.yaml", "--realtime"],
        cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        described = ready_facts(proc.stdout)
        if described is None or "control" not in described:
            raise RuntimeError(f"rig.sim serve did not start: {described} {proc.stderr.read()}")
        with SimControl(described["control"]) as control:
            yield Path(described["bench file"]), control
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def start_energised(bench_file: Path, control: SimControl, runs_dir: Path,
                    timeout_s: float = 120.0) -> subprocess.Popen[str]:
    """The smoke plan on the served bench, returned once the rig has switched the source on."""
    proc = subprocess.Popen(plan_command(runs_dir, "--bench", str(bench_file), "--plan", "smoke"),
                            cwd=REPO, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    while not control.output_on():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate(timeout=30)
            raise RuntimeError(f"the rig never energised the served bench:\n{out[-2000:]}{err}")
        time.sleep(0.05)  # polling the simulator for the rig's first energising
    return proc


def source_off_after(control: SimControl, sent_monotonic: float, timeout_s: float
                     ) -> tuple[float, str]:
    """Seconds from `sent_monotonic` to the served source's next switch-off, and what did it
    (a command, or 'watchdog'). The simulator stamps its transitions with time.monotonic, one
    clock for every process on the machine (Linux CLOCK_MONOTONIC)."""
    deadline = time.monotonic() + timeout_s
    while True:
        offs = [(wall, why) for wall, on, why in control.source()["transitions"]
                if not on and wall >= sent_monotonic]
        if offs:
            wall, why = offs[0]
            return wall - sent_monotonic, why
        if time.monotonic() > deadline:
            raise RuntimeError(f"the served source is still on {timeout_s} s after the signal")
        time.sleep(0.01)  # polling the simulator for the off transition
