"""A rig controller process for the safety tests: open the bench, energise, dwell (wall time,
keep-alive feeding the source), and let the test signal or kill it mid-dwell. A signal is a stop
request: the dwell ends, the bench is de-energised and verified, the exit code is 128 + signal.

    python -m tests.rig.sim.controller_child BENCH_FILE [compute]
prints `energised` when the output is on. With `compute`, the stop watcher runs
(Bench.watch_stop) and the child computes for a minute before its dwell, looking at nothing:
a signal then reaches the source only through the watcher.
"""

from __future__ import annotations

import sys
import time

from rig.bench.bench import Bench
from rig.instruments.loadpoint import LoadPoint
from rig.safety import StopRequested
from rig.timebase import WallTimebase

COMPUTE_S = 60.0


def compute(seconds: float) -> int:
    """Pure computation for `seconds` (a long analysis step): no wait, no exchange."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n = (n * 31 + 7) % 1_000_003
    return n


def main(bench_file: str, mode: str = "") -> int:
    bench = Bench.from_file(bench_file)
    if mode == "compute":
        bench.watch_stop()
    try:
        with bench:
            bench.energise(LoadPoint.at(230.0, 5.0, 1.0, "1"))
            print("energised", flush=True)
            if mode == "compute":
                compute(COMPUTE_S)
            WallTimebase(bench.keepalive, keepalive_s=0.2, progress=False,
                         stop=bench.stop).dwell(600.0)
    except StopRequested:
        return 128 + (bench.stop.signal or 0)  # the shell's status of a signal death
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
