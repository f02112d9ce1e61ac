"""Measure how fast the simulated source goes off when a controller process mid-dwell gets
SIGINT, SIGTERM or SIGKILL (DESIGN.md decision 4). Used by the safety tests and the benchmark.

The child is any command that opens the (resolved) bench file, energises, prints a line
containing `energised`, then dwells. The off time is the wall time of the source's off
transition as recorded by the simulator, minus the moment the signal was sent (same clock:
time.monotonic in this process).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass

from rig.sim.bench import SimBench


@dataclass(frozen=True)
class OffResult:
    signal: str
    off_after_s: float  # signal sent -> source output off
    why: str  # what switched it off (a command, or 'watchdog')
    child_exit: int | None


def run_once(
    sim: SimBench,
    child: list[str],
    sig: signal.Signals,
    *,
    cwd: str | None = None,
    start_timeout_s: float = 30.0,
    off_timeout_s: float = 10.0,
) -> OffResult:
    world = sim.world
    proc = subprocess.Popen(
        child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd
    )
    try:
        deadline = time.monotonic() + start_timeout_s
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "energised" not in line or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise RuntimeError(f"controller did not energise: {line!r} {err[-2000:]}")
        with world.access():
            if not world.source.state.output_on:
                raise RuntimeError("controller said energised but the source is off")
            seen = len(world.source.transitions)
        sent = time.monotonic()
        os.kill(proc.pid, sig)
        deadline = sent + off_timeout_s
        while True:
            with world.lock:
                world.check_watchdog()
                offs = [t for t in world.source.transitions[seen:] if not t[1]]
            if offs:
                wall, _, why = offs[0]
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"source still on {off_timeout_s} s after {sig.name}")
            time.sleep(0.01)  # polling the simulator's state with a deadline
        try:
            code = proc.wait(timeout=off_timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(timeout=10)
        return OffResult(sig.name, wall - sent, why, code)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
