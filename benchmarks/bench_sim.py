"""Simulated-bench figures (run: `.venv/bin/python benchmarks/bench_sim.py`).

1. One error-measurement round trip over VISA (pyvisa-py) on the simulated bench: configure the
   error calculator, dwell (virtual time), read the result. Median wall time.
2. One load point measured on 12 positions at once versus 1 position (target: under 2x).
3. Safety: a controller process mid-dwell gets SIGINT / SIGTERM (source off within 1 s) or
   SIGKILL with the source watchdog armed (off within the watchdog time); 10 times each.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rig.bench.bench import Bench  # noqa: E402
from rig.instruments.loadpoint import LoadPoint  # noqa: E402
from rig.instruments.roles import ECState, Quantity  # noqa: E402
from rig.sim import SimBench  # noqa: E402
from rig.sim.safetycheck import run_once  # noqa: E402
from rig.timebase import VirtualTimebase  # noqa: E402

SIM_BENCH = REPO / "benches" / "sim.yaml"
PULSES = 20          # 3.45 kW at 1000 imp/kWh: ~0.96 pulse/s, so ~21 s of virtual time


def measure(bench: Bench, tb: VirtualTimebase, ids: list[int]) -> list[float]:
    """What rig.measure.measure_errors does per repetition: configure, start, poll the state,
    read every result (all positions together: one exchange per step with the ZERA COM5003)."""
    group = bench.ec_group(ids)
    constant = bench.positions[0].meter_constant
    group.configure(constant, PULSES, Quantity.ACTIVE)
    group.start()
    tb.wait_until(lambda: all(s is ECState.READY for s in group.states().values()),
                  expected_s=PULSES * 1.1, timeout_s=600, poll_s=1.0)
    return [s.error for s in group.statuses().values()]


def timed_rounds(rounds: int) -> dict[int, tuple[list[float], list[float]]]:
    """Wall and virtual (simulated bench clock) round times for 1 and 12 positions,
    alternating so machine load affects both alike."""
    times: dict[int, tuple[list[float], list[float]]] = {1: ([], []), 12: ([], [])}
    with SimBench(SIM_BENCH, positions=1) as sim1, SimBench(SIM_BENCH, positions=12) as sim12, \
            Bench.from_file(sim1.bench_file) as b1, Bench.from_file(sim12.bench_file) as b12:
        setups = {}
        dialects = {n: sim.simulator.instrument("reference").dialect for n, sim in
                    ((1, sim1), (12, sim12))}
        for n, sim, bench in ((1, sim1, b1), (12, sim12, b12)):
            tb = VirtualTimebase(sim.control, keepalive=bench.keepalive)
            bench.energise(LoadPoint.at(230.0, 5.0, 1.0, "1"))
            ids = [p.id for p in bench.positions]
            first = dialects[n].lines
            measure(bench, tb, ids)                   # warm-up: connections, settings written
            print(f"  {n:2d} position(s): first round at the point "
                  f"{dialects[n].lines - first} SCPI exchanges with the reference")
            setups[n] = (bench, tb, ids)
        before = {n: d.lines for n, d in dialects.items()}
        for _ in range(rounds):
            for n, (bench, tb, ids) in setups.items():
                v = tb.now()
                t = time.perf_counter()
                errors = measure(bench, tb, ids)
                times[n][0].append(time.perf_counter() - t)
                times[n][1].append(tb.now() - v)
                assert len(errors) == n and all(e is not None for e in errors)
        for n, d in dialects.items():
            print(f"  {n:2d} position(s): {(d.lines - before[n]) / rounds:.0f} SCPI exchanges "
                  "with the reference per repeated round")
    return times


def safety(repeats: int) -> bool:
    child = [sys.executable, "-m", "tests.rig.sim.controller_child"]
    ok = True
    # SIGKILL: the watchdog counts from the last command received, which may be read a few ms
    # after the kill; 50 ms of slack over the 1 s watchdog time.
    for sig, opts, limit in ((signal.SIGINT, {}, 1.0), (signal.SIGTERM, {}, 1.0),
                             (signal.SIGKILL, {"source": {"watchdog_s": 1.0}}, 1.05)):
        offs = []
        with SimBench(SIM_BENCH, sim_options=opts) as sim:
            for _ in range(repeats):
                r = run_once(sim, [*child, str(sim.bench_file)], sig, cwd=str(REPO))
                offs.append(r.off_after_s)
        held = all(x < limit for x in offs)
        ok &= held
        print(f"  {sig.name:7s} x{repeats}: source off after median {statistics.median(offs):.3f}"
              f" s, max {max(offs):.3f} s (limit {limit:.2f} s): "
              f"{'all hold' if held else 'FAILED'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--safety-repeats", type=int, default=10)
    ap.add_argument("--no-safety", action="store_true")
    args = ap.parse_args()

    times = timed_rounds(args.rounds)
    (one, one_v), (twelve, twelve_v) = times[1], times[12]
    print(f"error-measurement round trip over VISA, 1 position ({PULSES} pulses, "
          f"{args.rounds} rounds): median {statistics.median(one) * 1000:.1f} ms wall")
    ratio = statistics.median(twelve) / statistics.median(one)
    print(f"same load point on 12 positions: median {statistics.median(twelve) * 1000:.1f} ms "
          f"wall = {ratio:.2f}x one position (target < 2x: {'met' if ratio < 2 else 'MISSED'})")
    # Virtual time skips the gates, so the wall figures above are the rig's communication
    # overhead alone. On a bench's clock a round is the gate plus that overhead (all of it
    # counted, although on a real bench the polls overlap the gate).
    bench_one = statistics.median(v + w for v, w in zip(one_v, one, strict=True))
    bench_twelve = statistics.median(v + w for v, w in zip(twelve_v, twelve, strict=True))
    print(f"on the bench clock (simulated gate + wall overhead): 1 position {bench_one:.3f} s, "
          f"12 positions {bench_twelve:.3f} s = {bench_twelve / bench_one:.3f}x")
    ok = True
    if not args.no_safety:
        print("safety (simulated source, controller process mid-dwell):")
        ok = safety(args.safety_repeats)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
