"""Load profile entries against the reference energy of each interval, and the power-down flag
(A1000 manual 1.6; standards.md 6.3 R5, 6.5; 5.1 [H]: no data loss at a power interruption).

Method, all positions at once:

1. Voltage only; the meter clock offset of every position is measured (MeterLink.clock_offset),
   so the meter's 15-min load-profile boundaries are known in true time.
2. From a boundary K-1 on, the reference energy is tallied (bench.energy, the reference
   standard's energy register; without one, its power integrated between load changes). The
   load (balanced, item current and PF) goes on 5 min after K-1, so the entry ending at K0 holds
   a partial interval of our load only, then runs through `intervals` whole intervals.
3. Then a power-down across a boundary: the source is switched off 10 min into the next
   interval (as on a lab bench) and comes back 2 min into the one after. The entry of the
   interval the power failed in (written at its nominal end or at power-up) and the entry of
   the interval the power returned in must both exist, carry the power-down status flag (0x01,
   meter docs) and hold their intervals' energy: nothing is lost (standards.md 5.1).
4. The reference energy is read at every boundary; P.01 is read with R5 for K0..the last
   boundary and each entry's active import energy (1.29.0) is compared with the reference
   energy of its interval.

Limit: the item's percentage of the interval energy, widened by one entry digit (0.1 Wh per
the meter docs, read from the reply's decimals): a meter cannot show less than a digit.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal

import pytest

from reports.decision import combine, normal, rectangular
from rig.instruments.loadpoint import LoadPoint
from rig.loads import Rating, active_point, metered_power
from rig.measure import (
    SOURCE_STABILITY,
    ReferenceEnergy,
    dwell_until,
    reference_uncertainty,
    settle,
)
from rig.meterlink import (
    ClockReading,
    MeterLink,
    clock_offsets,
    each,
    meter_datetime,
    meter_seconds,
)
from rig.plan import LoadProfileItem
from rig.recorder import Recorder

pytestmark = pytest.mark.family("load_profile")

SETTLING_S = 5.0
CLOCK_STEP_S = 0.05
INTERVAL_S = 900.0  # A1000 manual 1.6 item 1: 15 min, aligned to the meter clock
LOAD_DELAY_S = 300.0  # the load starts this far into the first (partial) interval
OUTAGE_AT_S = 600.0  # the power-down starts this far into its interval ...
RETURN_AT_S = 120.0  # ... and ends this far into the next one
READ_DELAY_S = 5.0  # the meter writes its entry at the boundary
POWER_DOWN = 0x01  # status flag of an entry (meter docs: load_profile record layout)
ACTIVE_IMPORT = "1.29.0"  # channel code of active import energy per interval (standards.md 7)


def stamp(meter_s: float) -> str:
    return meter_datetime(meter_s).strftime("%y%m%d%H%M")


def profile_entries(link: MeterLink, first_s: float, last_s: float) -> dict[float, tuple[int, str]]:
    """Entries of P.01 ending in [first_s, last_s] (meter seconds) -> (status, active import
    energy text). The reply is a header `P.01(ts)(status)(interval)(n)(code)(unit)...` and one
    value line per entry; a new header starts at any status or spacing change (meter docs)."""
    readings = link.read_range("P.01", [stamp(first_s), stamp(last_s)], "R5")
    entries: dict[float, tuple[int, str]] = {}
    t = status = interval = column = None
    for r in readings:
        values = [v.value for v in r.values]
        if r.address == "P.01":
            if len(values) < 4:
                raise AssertionError(f"position {link.number}: P.01 header {r.raw!r} too short")
            ts, status_hex, interval_min = values[0], values[1], values[2]
            codes = values[4::2]
            if ACTIVE_IMPORT not in codes:
                raise AssertionError(
                    f"position {link.number}: P.01 header {r.raw!r} has no {ACTIVE_IMPORT}")
            t = meter_seconds(ts[:6], ts[6:10] + "00")
            status = int(status_hex, 16)
            interval = int(interval_min) * 60.0
            column = codes.index(ACTIVE_IMPORT)
            continue
        if t is None or status is None or interval is None or column is None:
            raise AssertionError(f"position {link.number}: P.01 value line {r.raw!r} "
                                 "before any header")
        entries[t] = (status, values[column])
        t += interval
    return entries


def test_load_profile(plan_item, rig, bench, timebase, positions, recorder):
    item: LoadProfileItem = plan_item
    numbers = [p.number for p in positions]
    base = {"load": item.current, "pf": item.pf}
    descs = [{**base, "interval": k, "partial": k == 0} for k in range(item.intervals + 1)]
    # The interval the power fails in, and the one it returns in.
    outage = [{**base, "interval": item.intervals + 1 + j, "power_down": what}
              for j, what in enumerate(("fails", "returns"))]
    flags = [{**d, "check": "power-down flag"} for d in outage]
    all_descs = [*descs, *outage, *flags]
    done = recorder.all_done(numbers, all_descs)
    if done is not None:
        Recorder.assert_all_pass(done)
        return

    rating = Rating.of(positions[0].config)
    voltage_only = LoadPoint.voltage_only(rating.un)
    load = active_point(rating, item.current, item.pf)
    load_w = metered_power(load, "active", rating.wiring)
    links = {p.number: rig.link(p) for p in positions}
    settle(bench, timebase, voltage_only, SETTLING_S)
    offsets: dict[int, ClockReading] = clock_offsets(links, timebase, CLOCK_STEP_S)
    first = numbers[0]

    def true_of(meter_s: float) -> float:
        return meter_s - offsets[first].offset_s

    started = time.time()
    recorder.started(numbers, descs[0])
    reference = ReferenceEnergy(bench, timebase, rating.wiring)
    k_start = (math.floor((timebase.now() + offsets[first].offset_s) / INTERVAL_S) + 1) * INTERVAL_S
    # Entry ends: K0 (partial), K1..Kn (whole), then the two intervals of the power-down.
    ends = [k_start + INTERVAL_S * (k + 1) for k in range(item.intervals + 3)]
    cumulative: dict[float, float] = {}
    try:
        dwell_until(timebase, true_of(k_start), "to a load-profile boundary")
        reference.start()
        cumulative[k_start] = reference.now()
        dwell_until(timebase, true_of(k_start + LOAD_DELAY_S), "partial interval")
        bench.energise(load)
        reference.changed()
        for end in ends[:-2]:
            dwell_until(timebase, true_of(end), "load-profile interval")
            cumulative[end] = reference.now()
        dwell_until(timebase, true_of(ends[-3] + OUTAGE_AT_S), "to the power-down")
        bench.de_energise()
        reference.changed(off=True)
        dwell_until(timebase, true_of(ends[-2]), "power-down")
        cumulative[ends[-2]] = reference.now()
        dwell_until(timebase, true_of(ends[-2] + RETURN_AT_S), "power-down")
        bench.energise(load)
        reference.changed()
        dwell_until(timebase, true_of(ends[-1]), "load-profile interval")
        cumulative[ends[-1]] = reference.now()
        bench.energise(voltage_only)
        reference.changed()
        timebase.dwell(READ_DELAY_S, label="entry written")
        profiles = each(links, lambda link: profile_entries(link, ends[0], ends[-1]))
    finally:
        reference.stop()
        bench.energise(voltage_only)

    ref_kwh = [cumulative[end] - cumulative[end - INTERVAL_S] for end in ends]
    u_ref, u_note = reference_uncertainty(bench)
    taken = []
    with recorder.batch():  # every position's results in one commit
        for n in numbers:
            edge_s = offsets[n].half_width_s + offsets[first].half_width_s + abs(
                offsets[n].offset_s - offsets[first].offset_s)
            for k, end in enumerate(ends):
                desc = descs[k] if k < len(descs) else outage[k - len(descs)]
                entry = profiles[n].get(end)
                taken.append(_record_entry(recorder, n, desc, entry, end, ref_kwh[k], item, load_w,
                                           edge_s, u_ref, u_note, started))
            for desc, end in zip(flags, ends[-2:], strict=True):
                entry = profiles[n].get(end)
                flagged = None if entry is None else float(bool(entry[0] & POWER_DOWN))
                message = ""
                if entry is None:
                    message = (f"no load-profile entry ends at {stamp(end)}: the entry of the "
                               f"interval the power {desc['power_down']} in was lost (manual 1.6; "
                               "standards.md 5.1)")
                elif not flagged:
                    message = (f"the entry ending {stamp(end)} has status {entry[0]:02X}: the "
                               "power-down flag 01 is missing")
                taken.append(recorder.record(
                    n, desc, "power-down status flag of the entry", flagged, "",
                    limit_low=1.0, limit_high=1.0,
                    raw={"status": None if entry is None else f"{entry[0]:02X}",
                         "entry_end": stamp(end)},
                    started_at=started, message=message,
                ))
    Recorder.assert_all_pass(taken)


def _record_entry(recorder, n, desc, entry, end, ref_kwh, item, load_w, edge_s, u_ref, u_note,
                  started):
    """One entry's active import energy against the reference energy of its interval."""
    if entry is None:
        return recorder.record(
            n, desc, "load-profile entry energy error", None, "%",
            limit_low=-item.limit, limit_high=item.limit,
            raw={"entry_end": stamp(end), "reference_kwh": ref_kwh},
            started_at=started,
            message=f"no load-profile entry ends at {stamp(end)}",
        )
    status, text = entry
    meter_kwh = float(Decimal(text))
    decimals = len(text.partition(".")[2])
    digit = 10.0 ** -decimals
    error = (meter_kwh - ref_kwh) / ref_kwh * 100.0
    # The item's limit widened by one entry digit (the entry cannot resolve less).
    limit = item.limit + digit / ref_kwh * 100.0
    budget = combine([
        normal("reference standard", u_ref, note=u_note),
        rectangular("source stability", SOURCE_STABILITY),
        rectangular("entry resolution", digit / 2 / ref_kwh * 100.0,
                    f"half a digit of {digit:g} kWh"),
        rectangular("interval edges against the meter clock",
                    load_w * edge_s / 3.6e6 / ref_kwh * 100.0,
                    "clock offset resolution and offset between positions"),
    ])
    return recorder.record(
        n, desc, "load-profile entry energy error", error, "%",
        limit_low=-limit, limit_high=limit, budget=budget,
        raw={"meter": meter_kwh, "reference": ref_kwh, "unit": "kWh", "status": f"{status:02X}",
             "entry_end": stamp(end), "digit_kwh": digit, "limit_confidence": item.confidence},
        started_at=started,
        message="" if abs(error) <= limit else
        f"entry ending {stamp(end)}: meter {meter_kwh:.4f} kWh, reference {ref_kwh:.4f} kWh",
    )
