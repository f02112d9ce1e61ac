"""What the benchmark scripts say about the machine they ran on."""

from __future__ import annotations

from pathlib import Path


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages (Linux), "n/a" elsewhere: every figure names it,
    since the machine is shared and its figures move with the load."""
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    except OSError:
        return "n/a"
