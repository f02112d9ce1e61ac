"""How much the rig and the simulator's child work at the same time: the plan with
`--sim-process yes`, its wall time split by who was running.

    .venv/bin/python benchmarks/bench_overlap.py [--positions 1,12] [--plan NAME] [--rounds N]
        [--sample-ms 4]

Each run is `pytest testplans --no-report --sim-process yes` in a subprocess. Every
`--sample-ms` the time each process's threads have run on a CPU is read from
/proc/PID/task/TID/schedstat (time waiting for a CPU is not counted); in an interval a process
counts with the share of it it ran (at most 1), and their running is taken to overlap as far
as it can within one interval (short intervals: an estimate close to the truth). Printed per
run: wall, the rig's and the child's CPU (utime + stime of /proc/PID/stat, the child's last
sample before it exits), and the share of the sampled time in which both, only the rig, only
the child or neither ran. On a loaded machine "neither" includes the time both waited for a
CPU; compare runs of one invocation. The differences between the position counts are printed
per added position, in seconds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from machine import (  # benchmarks/ is the script's own folder on sys.path
    children,
    cpu_s,
    loadavg,
    pytest_summary,
)

ROOT = Path(__file__).resolve().parent.parent


def _simulator(pid: int) -> int | None:
    """The child of `pid` serving the simulated bench (`python -m rig.sim serve`), if started."""
    for kid in children(pid):
        try:
            if b"rig.sim" in Path(f"/proc/{kid}/cmdline").read_bytes():
                return kid
        except OSError:
            continue
    return None


def _on_cpu_ns(pid: int) -> int:
    """Nanoseconds the threads of `pid` have run on a CPU (first field of
    /proc/PID/task/TID/schedstat; time waiting in a run queue is the second, not counted)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tasks:
        try:
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


@dataclass
class Split:
    wall: float = 0.0
    rig_cpu: float = 0.0
    child_cpu: float = 0.0
    # Seconds of the sampled time in which both, one or neither ran.
    samples: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("both", "rig only", "child only", "neither"), 0.0))
    summary: str = ""

    def shares(self) -> str:
        total = sum(self.samples.values()) or 1.0
        return "  ".join(f"{k} {v / total:4.0%}" for k, v in self.samples.items())

    def seconds(self, kind: str) -> float:
        total = sum(self.samples.values()) or 1.0
        return self.wall * self.samples[kind] / total


def run(positions: int, plan: str, sample_s: float) -> Split:
    out = Split()
    with tempfile.TemporaryDirectory(prefix="bench-overlap-") as tmp:
        cmd = [sys.executable, "-m", "pytest", "testplans", "-q", "-p", "no:cacheprovider",
               "--no-report", "--plan", plan, "--positions", str(positions), "--runs-dir", tmp,
               "--sim-process", "yes"]
        t0 = time.perf_counter()
        # Its output goes to a file: at 48 positions the run prints more than a pipe holds
        # (some 90 kB), and a pipe read only at the end would stop it half way.
        log = Path(tmp) / "pytest.out"
        with log.open("w") as sink:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=sink, stderr=subprocess.DEVNULL,
                                    text=True)
        child: int | None = None
        last: tuple[float, int, int] | None = None
        while proc.poll() is None:
            if child is None:
                child = _simulator(proc.pid)
            if child is not None:
                now, rig_ns, child_ns = time.perf_counter(), _on_cpu_ns(proc.pid), _on_cpu_ns(child)
                if last is not None and now > last[0]:
                    # The share of the interval each ran, at most 1 (a second thread may run
                    # at once), as if their running overlapped as far as it can.
                    dt = now - last[0]
                    # (A thread that ended takes its time out of the sum: a drop counts 0.)
                    r = min(max(rig_ns - last[1], 0) / 1e9 / dt, 1.0)
                    c = min(max(child_ns - last[2], 0) / 1e9 / dt, 1.0)
                    both = min(r, c)
                    for kind, share in (("both", both), ("rig only", r - both),
                                        ("child only", c - both), ("neither", 1 - max(r, c))):
                        out.samples[kind] += share * dt
                last = (now, rig_ns, child_ns)
                cpu = cpu_s(child)
                if cpu is not None:
                    out.child_cpu = cpu
                rig = cpu_s(proc.pid)
                if rig is not None:
                    out.rig_cpu = rig
            time.sleep(sample_s)
        out.wall = time.perf_counter() - t0
        text = log.read_text()
    out.summary = pytest_summary(text)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", default="1,12")
    parser.add_argument("--plan", default="iec60687-class0.5S")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--sample-ms", type=float, default=4.0)
    args = parser.parse_args()
    counts = [int(n) for n in args.positions.split(",")]
    for _ in range(args.rounds):
        splits: dict[int, Split] = {}
        for n in counts:
            s = splits[n] = run(n, args.plan, args.sample_ms / 1000)
            print(f"{n:2d} position(s): {s.wall:6.1f} s wall, CPU rig {s.rig_cpu:5.1f} s child "
                  f"{s.child_cpu:5.1f} s | {s.shares()} | ({s.summary}) load {loadavg()}",
                  flush=True)
        first = counts[0]
        for n in counts[1:]:
            a, b, k = splits[first], splits[n], n - first
            per = {kind: (b.seconds(kind) - a.seconds(kind)) / k for kind in a.samples}
            print(f"per added position ({first} -> {n}): wall {(b.wall - a.wall) / k:.2f} s, "
                  f"CPU rig {(b.rig_cpu - a.rig_cpu) / k:.2f} s child "
                  f"{(b.child_cpu - a.child_cpu) / k:.2f} s | "
                  + "  ".join(f"{kind} {v:+.2f} s" for kind, v in per.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
