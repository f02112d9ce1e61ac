"""A rig controller process for the safety tests: open the bench, energise, dwell (wall time,
keep-alive feeding the source), and let the test signal or kill it mid-dwell. A signal is a stop
request: the dwell ends, the bench is de-energised and verified, the exit code is 128 + signal.

    python -m tests.rig.sim.controller_child BENCH_FILE
prints `energised` when the output is on.
"""

from __future__ import annotations

import sys

from rig.bench.bench import Bench
from rig.instruments.loadpoint import LoadPoint
from rig.safety import StopRequested
from rig.timebase import WallTimebase


def main(bench_file: str) -> int:
    bench = Bench.from_file(bench_file)
    try:
        with bench:
            bench.energise(LoadPoint.at(230.0, 5.0, 1.0, "1"))
            print("energised", flush=True)
            WallTimebase(bench.keepalive, keepalive_s=0.2, progress=False,
                         stop=bench.stop).dwell(600.0)
    except StopRequested:
        return 128 + (bench.stop.signal or 0)  # the shell's status of a signal death
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
