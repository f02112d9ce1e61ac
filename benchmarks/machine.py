"""What the benchmark scripts say about the machine they ran on and the processes they ran."""

from __future__ import annotations

import os
import re
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")  # clock ticks per second of /proc/PID/stat (Linux)


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages (Linux), "n/a" elsewhere: every figure names it,
    since the machine is shared and its figures move with the load."""
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    except OSError:
        return "n/a"


def proc_stat(pid: int) -> list[str] | None:
    """The fields after the command name of /proc/PID/stat (proc(5): [1] ppid, [2] process
    group, [3] session, [11] utime, [12] stime, in clock ticks); None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def proc_stats() -> dict[int, list[str]]:
    """`proc_stat` of every live process, by pid."""
    out: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := proc_stat(int(entry.name))) is not None:
            out[int(entry.name)] = fields
    return out


def children(pid: int) -> list[int]:
    """The processes `pid`'s main thread started (/proc/PID/task/PID/children), [] once gone."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cpu_s(pid: int) -> float | None:
    """User + system CPU of a running process, from /proc/PID/stat (None once it is gone)."""
    fields = proc_stat(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (proc(5) fields 14, 15)


def pytest_summary(output: str) -> str:
    """pytest's closing summary line ("209 passed in 8.2s") in a run's standard output, or its
    last 200 characters when there is none (a run that crashed)."""
    line = next((line for line in reversed(output.splitlines())
                 if re.search(r"\b(passed|failed|error)", line)), output[-200:])
    return line.strip("= ")
