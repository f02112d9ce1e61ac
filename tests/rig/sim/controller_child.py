"""A rig controller process for the safety tests: open the bench, energise, dwell (wall time,
keep-alive feeding the source), and let the test signal or kill it mid-dwell.

    python -m tests.rig.sim.controller_child BENCH_FILE
prints `energised` when the output is on.
"""

from __future__ import annotations

import sys

from rig.bench.bench import Bench
from rig.instruments.loadpoint import LoadPoint
from rig.timebase import WallTimebase


def main(bench_file: str) -> int:
    with Bench.from_file(bench_file) as bench:
        bench.energise(LoadPoint.at(230.0, 5.0, 1.0, "1"))
        print("energised", flush=True)
        WallTimebase(bench.keepalive, keepalive_s=0.2, progress=False).dwell(600.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
