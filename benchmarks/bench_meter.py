"""Benchmark of the software A1000: a month of virtual time at constant load.

    .venv/bin/python benchmarks/bench_meter.py

One meter, 31 days, balanced load at In PF 0.866 L, a 10-section daily profile every day
(working days and weekends), with every plugged-in component (part 2: demand, load profile,
billing, events) unless --core-only. Prints wall time and virtual seconds per wall second
(target >= 1e7), for one advance over the month and for 15-minute steps (the way a
simulated bench polls), plus the cost of computing pulse edges on demand.

`--dose` measures the fast-forward instead (meter.a1000.meter, `A1000._fast_forward`): one dose
of the register-rollover plan item, 1732 h at Imax, 60 deg, one tariff, in one `advance_to`,
fast-forwarded and event by event (`fast_forward=False`) side by side, `--rounds` times
alternating, medians and their ratio, with /proc/loadavg. `--capacity` does the same for the
register-capacity plan item's 1500 h at Imax, 60 deg, under the default calendar (a tariff
switch several times a day ends each jump), and counts the events each path fires.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout

from meter.a1000.config import config_from_obj, default_config
from meter.a1000.meter import A1000
from meter.a1000.registers import PulseOutput
from meter.electrical import ElectricalInputs

MONTH = 31 * 86400
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()
TEN_SECTIONS = [
    {"start": f"{h:02d}:{m:02d}", "tariff": 1 + i % 4}
    for i, (h, m) in enumerate(
        [(0, 0), (6, 0), (7, 30), (9, 0), (11, 15), (13, 0), (16, 45), (18, 0), (20, 30), (22, 0)]
    )
]


def _config():
    obj = copy.deepcopy(default_config().to_obj())
    obj["tou"] = {
        "daily_profiles": {1: TEN_SECTIONS},
        "seasons": [{"start": "01-01", "profile": 1}],
        "weekend": {"days": [6, 7], "profile": 1},
        "holidays": [],
    }
    return config_from_obj(obj, "bench")


def _meter(core_only: bool) -> A1000:
    m = A1000(_config(), start_time=T0, components=[] if core_only else None)
    m.set_inputs(T0, ElectricalInputs.balanced(57.7, 0.5, 30))
    return m


def run(core_only: bool) -> None:
    label = "core only" if core_only else "core + components"
    m = _meter(core_only)
    names = [c.name for c in m.components] or ["none"]
    switches = 0  # tariff switches of the month, counted from the table itself
    s = m.meter_seconds()
    while (nxt := m.tou.next_change(s)) is not None and nxt[0] < m.meter_seconds() + MONTH:
        switches += 1
        s = nxt[0]
    w0 = time.perf_counter()
    m.advance_to(T0 + MONTH)
    one = time.perf_counter() - w0
    m2 = _meter(core_only)
    w0 = time.perf_counter()
    t = T0
    steps = 0
    while t < T0 + MONTH:
        t = min(t + 900.0, T0 + MONTH)
        m2.advance_to(t)
        steps += 1
    stepped = time.perf_counter() - w0
    print(f"[{label}] components: {', '.join(names)}")
    print(f"  tariff switches in the month: {switches}")
    print(f"  one advance over 31 days : wall {one * 1e3:9.2f} ms  -> "
          f"{MONTH / one:10.3e} virtual s per wall s")
    print(f"  {steps} advances of 15 min: wall {stepped * 1e3:9.2f} ms  -> "
          f"{MONTH / stepped:10.3e} virtual s per wall s")
    print(f"  import register after the month: {m.register('import'):.6f} kWh "
          f"(display {m.register_display('import')})")


def run_pulses() -> None:
    m = _meter(core_only=True)
    n = 20000
    w0 = time.perf_counter()
    t = T0
    for _ in range(n):
        t = m.next_pulse(PulseOutput.ACTIVE_IMPORT, t)
    dt_ = time.perf_counter() - w0
    print(f"[pulses] {n} consecutive next_pulse edges: {dt_ * 1e3:.1f} ms "
          f"({n / dt_:.3e} edges per wall s; {t - T0:.0f} virtual s covered)")
    w0 = time.perf_counter()
    count = m.pulse_count(PulseOutput.ACTIVE_IMPORT, T0, T0 + MONTH)
    print(f"[pulses] pulse_count over 31 days: {count} pulses in "
          f"{(time.perf_counter() - w0) * 1e6:.0f} us (never stored)")


DOSE_H = 1732.0  # rig.procedures.register_rollover: 1500 h / sin 60 deg


def _dose(fast: bool) -> float:
    obj = copy.deepcopy(default_config().to_obj())
    obj["tou"] = {"daily_profiles": {}, "seasons": [{"start": "01-01", "tariff": 2}]}
    cfg = config_from_obj(obj, "bench")
    m = A1000(cfg, start_time=T0, fast_forward=fast)
    m.set_inputs(T0, ElectricalInputs.balanced(cfg.element_voltage, cfg.imax_a, 60))
    w0 = time.perf_counter()
    m.advance_to(T0 + DOSE_H * 3600)
    return time.perf_counter() - w0


CAPACITY_H = 1500.0  # rig.procedures.registers: the register-capacity item's hours at Imax


def _capacity(fast: bool) -> tuple[float, int]:
    """CPU seconds of 1500 h at Imax, 60 deg, default calendar, and the events fired."""
    cfg = default_config()
    m = A1000(cfg, start_time=T0, fast_forward=fast)
    m.set_inputs(T0, ElectricalInputs.balanced(cfg.element_voltage, cfg.imax_a, 60))
    fired = 0
    fire = m._fire

    def counting() -> None:
        nonlocal fired
        fired += 1
        fire()

    m._fire = counting  # type: ignore[method-assign]
    c0 = time.process_time()
    m.advance_to(T0 + CAPACITY_H * 3600)
    return time.process_time() - c0, fired


def _side_by_side(tag: str, what: str, rounds: int, run_one: Callable[[bool], float]) -> None:
    """``run_one(fast)`` alternately fast-forwarded and event by event; medians, ratio, load."""
    fast: list[float] = []
    slow: list[float] = []
    for _ in range(rounds):
        fast.append(run_one(True))
        slow.append(run_one(False))
    f, s = statistics.median(fast), statistics.median(slow)
    load = Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3]
    print(f"[{tag}] {what}, {rounds} rounds: fast-forward {f * 1e3:.1f} ms, event by event "
          f"{s * 1e3:.1f} ms (medians) = {s / f:.1f}x; load {' '.join(load)}")


def run_dose(rounds: int) -> None:
    _side_by_side("dose", f"{DOSE_H:g} h at Imax, 60 deg, one tariff, one advance_to, wall time",
                  rounds, _dose)


def run_capacity(rounds: int) -> None:
    events: dict[bool, int] = {}

    def one(fast: bool) -> float:
        cpu, events[fast] = _capacity(fast)
        return cpu

    _side_by_side("capacity", f"{CAPACITY_H:g} h at Imax, 60 deg, default calendar, CPU time",
                  rounds, one)
    print(f"[capacity] events fired: fast-forward {events[True]}, event by event "
          f"{events[False]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--core-only", action="store_true", help="skip the full-meter run")
    parser.add_argument("--dose", action="store_true",
                        help="only the fast-forward against event by event over one dose")
    parser.add_argument("--capacity", action="store_true",
                        help="only the fast-forward against event by event over the capacity "
                        "item's 1500 h under the default calendar")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.dose:
        run_dose(args.rounds)
        return
    if args.capacity:
        run_capacity(args.rounds)
        return
    target = 1e7
    run(core_only=True)
    if not args.core_only:
        run(core_only=False)
    run_pulses()
    print(f"target: >= {target:.0e} virtual s per wall s")


if __name__ == "__main__":
    main()
