"""A bench served by `python -m rig.sim serve`, driven by the rig through its control endpoint.

The served simulator writes its control address into the resolved bench file (`sim.control`,
with `sim.realtime`). In virtual time nothing moves its clock but that endpoint, so a run on
such a bench file advances it there, as on the in-process simulated bench; in wall-clock time
(`--realtime`) it is a lab bench in all but name and the rig treats it as one.

The session may also serve the simulated bench itself in a process of its own (`spawn`, the
rig's `--sim-process`): the simulated meters, their line servers and the instruments then run
beside the rig on another core instead of sharing its interpreter lock, as a real bench's
instruments and meters are not in the rig's computer either.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rig.bench.config import BenchConfig
from rig.safety import StopRequest
from rig.sim.control import SimControl

READY = "ready"  # the served simulator's last line once every server is up
#: How long the child may take to say "ready": 12 positions' ptys, servers and meter models
#: start in about a second on an idle machine; a machine loaded 20-fold must not fail the run.
START_TIMEOUT_S = 120.0
#: How long it may take to close its servers once its standard input ends, before SIGKILL.
END_TIMEOUT_S = 15.0
POLL_S = 0.02  # how often its output file is looked at while it starts


class ServedBenchError(RuntimeError):
    """The bench file names a served simulator the rig cannot reach."""


@dataclass(frozen=True)
class ServedSim:
    """What the session needs of a simulator it did not start: its control endpoint."""

    control: SimControl
    address: str
    #: The process serving it when the session started it (`spawn`), else None.
    pid: int | None = None


def attach(config: BenchConfig, stack: ExitStack) -> ServedSim | None:
    """The served virtual-time simulator behind `config`, connected (closed with `stack`);
    None for a lab bench or a wall-clock simulator."""
    info = config.sim or {}
    address = info.get("control")
    if not address or info.get("realtime"):
        return None
    where = config.source_file or "bench file"
    try:
        control = SimControl(str(address))
    except (OSError, ValueError) as exc:
        raise ServedBenchError(
            f"{where}: sim.control {address}: the served simulator does not answer ({exc}); "
            "is `python -m rig.sim serve` still running?"
        ) from None
    stack.callback(control.close)
    return ServedSim(control, str(address))


def spawn(bench_file: Path, stack: ExitStack, *, positions: int | None = None,
          sim_options: dict[str, Any] | None = None, stop: StopRequest | None = None,
          timeout_s: float = START_TIMEOUT_S) -> tuple[ServedSim, Path]:
    """`python -m rig.sim serve` for `bench_file` in a child process, connected: (its control,
    the resolved bench file it wrote). The child ends with `stack` (its standard input closed,
    then SIGKILL if it lingers), and by itself when this process dies (`--stdin-lifeline`). It
    runs in a session of its own, so a Ctrl-C at the terminal reaches the rig alone: the rig's
    stop switches the source off through the child, which must still be serving then."""
    workdir = Path(tempfile.mkdtemp(prefix="rig-simproc-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    cmd = [sys.executable, "-m", "rig.sim", "serve", "--bench", str(bench_file),
           "--stdin-lifeline"]
    if positions is not None:
        cmd += ["--positions", str(positions)]
    if sim_options:
        cmd += ["--options", json.dumps(sim_options)]
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=err,
                                env=_child_env(), start_new_session=True)
    stack.callback(_end, proc)
    facts = _wait_ready(proc, out_path, err_path, timeout_s, stop)
    try:
        address, bench = facts["control"], Path(facts["bench file"])
    except KeyError as exc:
        raise ServedBenchError(f"the simulated bench's process did not print {exc}: "
                               f"{out_path.read_text(errors='replace')!r}") from None
    try:
        control = SimControl(address)
    except (OSError, ValueError) as exc:
        raise ServedBenchError(f"the simulated bench's process (pid {proc.pid}) does not "
                               f"answer at {address}: {exc}") from None
    stack.callback(control.close)
    return ServedSim(control, address, proc.pid), bench


def _child_env() -> dict[str, str]:
    """This process's environment, with its import path: a meter model named by import path
    (`--meter-model tests.x:Meter`) imports in the child as it would here."""
    paths = [p or os.getcwd() for p in sys.path]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def ready_facts(lines: Iterable[str]) -> dict[str, str] | None:
    """The `name = value` lines `python -m rig.sim serve` prints before its "ready" line
    (`control = ...`, `bench file = ...`, `sim:source = TCPIP::...`), by name; None if the
    lines end before it (it did not start). Reads no further than "ready": a pipe can be
    passed and stays open."""
    facts: dict[str, str] = {}
    for line in lines:
        text = line.strip()
        if text == READY:
            return facts
        name, sep, value = text.partition(" = ")
        if sep:
            facts[name.strip()] = value.strip()
    return None


def _wait_ready(proc: subprocess.Popen, out_path: Path, err_path: Path, timeout_s: float,
                stop: StopRequest | None) -> dict[str, str]:
    """The `name = value` lines the child printed before "ready"; ServedBenchError with its
    standard error if it ends or stays silent for `timeout_s` first."""
    deadline = time.monotonic() + timeout_s
    while True:
        facts = ready_facts(out_path.read_text(encoding="utf-8", errors="replace").splitlines())
        if facts is not None:
            return facts
        code = proc.poll()
        if code is not None or time.monotonic() > deadline:
            said = err_path.read_text(encoding="utf-8", errors="replace").strip()
            how = (f"ended with exit status {code}" if code is not None
                   else f"did not say {READY!r} within {timeout_s:g} s")
            raise ServedBenchError(
                f"the simulated bench's process (pid {proc.pid}) {how}: "
                + (_error_text(said) or "(nothing on its standard error)")
            )
        if stop is not None:
            stop.wait(POLL_S)  # Ctrl-C while it starts: StopRequested, and the stack ends it
        else:
            time.sleep(POLL_S)


def _error_text(stderr: str) -> str:
    """The child's own one-line error (`error: ...`, as `python -m rig.sim serve` reports bad
    input), else the end of what it wrote (a traceback's last lines)."""
    lines = stderr.splitlines()
    for line in lines:
        if line.startswith("error: "):
            return line[len("error: "):]
    return " | ".join(lines[-5:])


def _end(proc: subprocess.Popen) -> None:
    """Its standard input closed (it closes its servers and exits), SIGKILL if it has not
    ended in END_TIMEOUT_S."""
    if proc.stdin is not None:
        with contextlib.suppress(OSError):  # it has gone already
            proc.stdin.close()
    try:
        proc.wait(timeout=END_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

