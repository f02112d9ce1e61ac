"""Where serving the simulated bench in a process of its own pays (`--sim-process`): the plan at
each position count both ways, side by side, wall and CPU.

    .venv/bin/python benchmarks/bench_sim_process.py [--positions 1,2,3,6,12] [--plan NAME]
        [--rounds N]

Each run is `pytest testplans --no-report` in a subprocess; its CPU (user + system) counts the
rig and, with `--sim-process yes`, the child serving the bench (pytest reaps it, so it is among
pytest's children). The child's own share is sampled from /proc every 0.1 s while it runs (the
last sample before it exits; its closing is left out). On a loaded machine compare the two
modes of one round, and the CPU figures before the wall ones; each line shows /proc/loadavg.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import (  # benchmarks/ is the script's own folder on sys.path
    children,
    cpu_s,
    loadavg,
    pytest_summary,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_S = 0.1


def run(positions: int, mode: str, plan: str) -> tuple[float, float, float, str]:
    """(wall s, CPU s of the whole run, CPU s of the simulator's child, pytest's summary)."""
    with tempfile.TemporaryDirectory(prefix="bench-simproc-") as tmp:
        cmd = [sys.executable, "-m", "pytest", "testplans", "-q", "-p", "no:cacheprovider",
               "--no-report", "--plan", plan, "--positions", str(positions), "--runs-dir", tmp,
               "--sim-process", mode]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        child_cpu: dict[int, float] = {}
        while proc.poll() is None:
            for pid in children(proc.pid):
                cpu = cpu_s(pid)
                if cpu is not None:
                    child_cpu[pid] = cpu
            time.sleep(SAMPLE_S)
        wall = time.perf_counter() - t0
        out = proc.stdout.read() if proc.stdout else ""
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, sum(child_cpu.values()), pytest_summary(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", default="1,2,3,6,12")
    parser.add_argument("--plan", default="iec60687-class0.5S")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.rounds):
        for n in (int(p) for p in args.positions.split(",")):
            walls = {}
            for mode in ("no", "yes"):
                wall, cpu, child, summary = run(n, mode, args.plan)
                walls[mode] = wall
                print(f"{n:2d} position(s) --sim-process {mode:3s}: {wall:7.1f} s wall  "
                      f"{cpu:6.1f} s CPU (rig {cpu - child:6.1f}, child {child:5.1f})  "
                      f"({summary})  load {loadavg()}", flush=True)
            print(f"{n:2d} position(s): child / in-process wall {walls['yes'] / walls['no']:.2f}x",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
