"""Benchmark of the full software A1000: demand, load profile, billing, events and display on.

    .venv/bin/python benchmarks/bench_meter_full.py [--meters 48] [--days 31]

1. One meter per demand setting (block 15/5, rolling 15/5, rolling 60/2 and the worst case,
   rolling 15/1 with an event every minute), 31 days, a ten-section
   TOU day, and every day a load step, a 3-minute voltage dip on L1 (a voltage-loss event), a
   10-minute power cut (power-down event, load-profile flags) and an over-current minute. The
   month is advanced in 15-minute steps, the way a simulated bench polls. Target: >= 1e6 virtual
   seconds per wall second.
2. N meters (default 48) advanced together over the same month in 15-minute steps, half in block
   15/5 and half in rolling 15/5 mode (the typical settings, standards.md 3.3). Targets: < 30 s
   wall, < 1 GiB peak memory (peak resident set of the process, Python runtime included).
3. Reading a month of load profile (R5 P.01) and the readout through the register bank.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout

from meter.a1000.config import config_from_obj, default_config
from meter.a1000.meter import A1000
from meter.electrical import ElectricalInputs, PhaseInput, Phasor

DAY = 86400.0
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC).timestamp()
TEN_SECTIONS = [
    {"start": f"{h:02d}:{m:02d}", "tariff": 1 + i % 4}
    for i, (h, m) in enumerate(
        [(0, 0), (6, 0), (7, 30), (9, 0), (11, 15), (13, 0), (16, 45), (18, 0), (20, 30), (22, 0)]
    )
]
SETTINGS = {
    "block 15/5": {"mode": "block", "cycle_min": 15, "window_min": 5},
    "rolling 15/5": {"mode": "rolling", "cycle_min": 15, "window_min": 5},
    "rolling 60/2": {"mode": "rolling", "cycle_min": 60, "window_min": 2},
    "rolling 15/1": {"mode": "rolling", "cycle_min": 15, "window_min": 1},  # worst case
}
NORMAL = ElectricalInputs.balanced(57.7, 0.5, 30.0)
HIGH = ElectricalInputs.balanced(57.7, 2.0, 10.0)
DIP = ElectricalInputs((PhaseInput(Phasor(40.0, 0.0), Phasor(0.5, -30.0)),
                        NORMAL.phases[1], NORMAL.phases[2]))
OVER = ElectricalInputs.balanced(57.7, 7.5, 0.0)
DEAD = ElectricalInputs.dead()

# Input changes of every day (seconds after midnight): load step, dip, power cut, over current.
DAY_SCRIPT = [
    (8 * 3600.0, HIGH), (12 * 3600.0, NORMAL),
    (14 * 3600.0, DIP), (14 * 3600.0 + 180, NORMAL),
    (3 * 3600.0, DEAD), (3 * 3600.0 + 600, NORMAL),
    (19 * 3600.0, OVER), (19 * 3600.0 + 120, NORMAL),
]
DAY_SCRIPT.sort(key=lambda x: x[0])


def config(demand: dict[str, object]):
    obj = copy.deepcopy(default_config().to_obj())
    obj["tou"] = {
        "daily_profiles": {1: TEN_SECTIONS},
        "seasons": [{"start": "01-01", "profile": 1}],
        "weekend": {"days": [6, 7], "profile": 1},
        "holidays": [],
    }
    obj["demand"] = demand
    obj["billing"] = {"day": 1, "hour": 0}
    return config_from_obj(obj, "bench")


def script(days: int) -> list[tuple[float, ElectricalInputs]]:
    return [(T0 + d * DAY + s, inp) for d in range(days) for s, inp in DAY_SCRIPT]


def drive(meters: list[A1000], days: int) -> None:
    """Advance every meter in 15-minute steps, applying the day script on the way."""
    changes = script(days)
    k = 0
    t = T0
    end = T0 + days * DAY
    while t < end:
        t = min(t + 900.0, end)
        while k < len(changes) and changes[k][0] <= t:
            tc, inp = changes[k]
            for m in meters:
                m.set_inputs(tc, inp)
            k += 1
        for m in meters:
            m.advance_to(t)


def new_meter(demand: dict[str, object]) -> A1000:
    m = A1000(config(demand), start_time=T0)
    m.set_inputs(T0, NORMAL)
    return m


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def single(days: int) -> None:
    span = days * DAY
    for label, demand in SETTINGS.items():
        m = new_meter(demand)
        w0 = time.perf_counter()
        drive([m], days)
        wall = time.perf_counter() - w0
        ev = m.component("events").monitor.logs
        lp = m.component("load_profile").profile.store
        b = m.component("billing").registers
        print(f"[1 meter, {label}] {days} days in {wall:6.3f} s wall -> "
              f"{span / wall:10.3e} virtual s per wall s (target >= 1e6)")
        oc = sum(ev[f"over_current_{p}"].count for p in "ABC")
        md = b.historical_value("1.6.0", 101)
        print(f"    load-profile entries {lp.count}, billing records {len(b.history)}, "
              f"voltage loss A {ev['voltage_loss_A'].count}, power down "
              f"{ev['power_down'].count}, over current {oc}, "
              f"max demand of the month {md[0][0] if md else '-'} kW")


def many(n: int, days: int) -> None:
    labels = list(SETTINGS)[:2]  # half block 15/5, half rolling 15/5 (the usual settings)
    w0 = time.perf_counter()
    meters = [new_meter(SETTINGS[labels[i % 2]]) for i in range(n)]
    built = time.perf_counter() - w0
    w0 = time.perf_counter()
    drive(meters, days)
    wall = time.perf_counter() - w0
    print(f"[{n} meters] built in {built:.2f} s; {days} days of all {n} in {wall:6.2f} s wall "
          f"(target < 30 s) -> {n * days * DAY / wall:.3e} meter-virtual s per wall s")
    w0 = time.perf_counter()
    banks = [m.register_bank() for m in meters]
    sizes = [len(b.readout()) for b in banks]
    read = time.perf_counter() - w0
    print(f"[{n} meters] register banks built and read out in {read:.2f} s "
          f"({sizes[0]} data sets each)")
    print(f"[{n} meters] peak resident memory {peak_rss_mib():.0f} MiB (target < 1024 MiB)")
    m = meters[0]
    w0 = time.perf_counter()
    sets = m.component("load_profile").readout(("2603010000", "2604010000"))
    print(f"[load profile] R5 P.01 over the month: {len(sets)} data sets in "
          f"{(time.perf_counter() - w0) * 1e3:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meters", type=int, default=48)
    parser.add_argument("--days", type=int, default=31)
    args = parser.parse_args()
    single(args.days)
    many(args.meters, args.days)


if __name__ == "__main__":
    main()
