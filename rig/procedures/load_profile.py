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
   meter docs) and hold their intervals' energy: nothing is lost (standards.md 5.1). An item
   with `power_down: false` skips this part (the plan checks the outage once, in its main
   item; the entries before it are measured the same way with or without it).
4. The reference energy is read at every boundary; P.01 is read with R5 for K0..the last
   boundary and every channel of each entry (1.29.0 active import, 2.29.0 active export,
   5.29.0..8.29.0 reactive Q1..Q4: standards.md 7) is compared with the energy its channel
   received in the interval: the reference active energy in the channel of the load's
   direction, the reactive energy |Q/P| times it in the channel of the load's quadrant (Q from
   the same set point: the reference standard integrates one quantity at a time), nothing in
   every other channel. The plan runs this with an import, an export and a reactive load, so
   every channel is checked carrying energy and carrying none.

Limit: the item's percentage of the interval energy (the reactive limit for the reactive
channels), widened by one entry digit (0.1 Wh per the meter docs, read from the reply's
decimals): a meter cannot show less than a digit. A channel that receives nothing may show at
most one digit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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
from rig.metrology import combine, normal, rectangular
from rig.plan import LoadProfileItem
from rig.procedures import Context, Declared
from rig.recorder import Recorder, Take

SETTLING_S = 5.0
CLOCK_STEP_S = 0.05
INTERVAL_S = 900.0  # A1000 manual 1.6 item 1: 15 min, aligned to the meter clock
LOAD_DELAY_S = 300.0  # the load starts this far into the first (partial) interval
OUTAGE_AT_S = 600.0  # the power-down starts this far into its interval ...
RETURN_AT_S = 120.0  # ... and ends this far into the next one
READ_DELAY_S = 5.0  # the meter writes its entry at the boundary
POWER_DOWN = 0x01  # status flag of an entry (meter docs: load_profile record layout)
ACTIVE_IMPORT = "1.29.0"  # channel code of active import energy per interval (standards.md 7)
#: Reactive channel of each quadrant (standards.md 7: C = 5..8 are Q1..Q4).
QUADRANT_CHANNEL = {1: "5.29.0", 2: "6.29.0", 3: "7.29.0", 4: "8.29.0"}
ACTIVE_CHANNEL = {"import": ACTIVE_IMPORT, "export": "2.29.0"}
CHANNELS = (ACTIVE_IMPORT, "2.29.0", *QUADRANT_CHANNEL.values())
#: Half-width, % of |Q|, of the reactive energy derived from the active reference and the set
#: phase angle: 0.01 deg of angle at phi = 60 deg moves Q/P by 0.01 * pi/180 / (sin cos) =
#: 0.04 % (a source's angle resolution; the simulated source sets it exactly).
SOURCE_ANGLE = 0.04


def stamp(meter_s: float) -> str:
    return meter_datetime(meter_s).strftime("%y%m%d%H%M")


def profile_entries(link: MeterLink, first_s: float,
                    last_s: float) -> dict[float, tuple[int, dict[str, str]]]:
    """Entries of P.01 ending in [first_s, last_s] (meter seconds) -> (status, energy text of
    each channel code). The reply is a header `P.01(ts)(status)(interval)(n)(code)(unit)...`
    and one value line per entry; a new header starts at any status or spacing change (meter
    docs)."""
    readings = link.read_range("P.01", [stamp(first_s), stamp(last_s)], "R5")
    entries: dict[float, tuple[int, dict[str, str]]] = {}
    t = status = interval = None
    codes: list[str] = []
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
            continue
        if t is None or status is None or interval is None:
            raise AssertionError(f"position {link.number}: P.01 value line {r.raw!r} "
                                 "before any header")
        entries[t] = (status, dict(zip(codes, values, strict=False)))
        t += interval
    return entries


@dataclass(frozen=True)
class LoadProfile:
    """Every channel of every entry against the energy it received, and the power-down flags;
    one experiment at every position."""

    item: LoadProfileItem
    rating: Rating
    #: It starts at the next boundary of the meter's intervals (rig.schedule.unaligned_waits:
    #: its planned time counts a whole interval's wait, what it waits after a load-profile test).
    aligned_to_s = INTERVAL_S

    @property
    def declared(self) -> tuple[Declared, ...]:
        item = self.item
        declared = []
        for channel in CHANNELS:
            reactive = channel in QUADRANT_CHANNEL.values()
            pct = item.reactive_limit if reactive else item.limit
            declared += [
                Declared(f"load-profile {channel} energy error", "%", item.clause,
                         rule=f"+-({pct:g} % + one entry digit in the interval energy)"),
                Declared(f"load-profile {channel} energy where none flows", "kWh", item.clause,
                         rule="+-one entry digit"),
            ]
        return (*declared, Declared("power-down status flag of the entry", "", item.clause,
                                    limit_low=1.0, limit_high=1.0))

    def descs(self) -> tuple[list[dict], list[list[dict]]]:
        """The power-down flag points, and each entry's points per channel (the entries K0
        (partial), K1..Kn, then the interval the power fails in and the one it returns in)."""
        item = self.item
        base = {"load": item.current, "pf": item.pf, "direction": item.direction}
        intervals = [{**base, "interval": k, "partial": k == 0}
                     for k in range(item.intervals + 1)]
        outage = [{**base, "interval": item.intervals + 1 + j, "power_down": what}
                  for j, what in enumerate(("fails", "returns"))] if item.power_down else []
        flags = [{**d, "check": "power-down flag"} for d in outage]
        return flags, [[{**d, "channel": c} for c in CHANNELS] for d in [*intervals, *outage]]

    def points(self) -> list[dict[str, Any]]:
        flags, per_channel = self.descs()
        return [*(d for row in per_channel for d in row), *flags]

    def run(self, ctx: Context, recorder: Recorder) -> None:
        _load_profile(self, ctx, recorder)

    def planned_seconds(self) -> float:
        """The test runs from boundary to boundary of the meter's intervals: the next boundary
        after the clock reading, the partial, whole and power-down intervals, then the entries
        read. After a load-profile test, which ended just past a boundary (its reads take
        seconds), it waits a whole interval to its first boundary and ends as far past its
        last; after another family's test half an interval on average, which the plan's
        schedule takes off (rig.schedule.unaligned_waits). Without the power-down
        its two intervals go."""
        return (self.item.intervals + (4 if self.item.power_down else 2)) * INTERVAL_S


def _load_profile(procedure: LoadProfile, ctx: Context, recorder: Recorder) -> None:
    """The module's method at every position, one experiment."""
    item = procedure.item
    rig, bench, timebase, positions, numbers = (ctx.rig, ctx.bench, ctx.timebase,
                                                ctx.positions, ctx.numbers)
    flags, per_channel = procedure.descs()
    all_descs = procedure.points()
    if not recorder.todo(numbers, all_descs, together=True):
        recorder.verdicts()
        return

    rating = procedure.rating
    voltage_only = LoadPoint.voltage_only(rating.un)
    load = active_point(rating, item.current, item.pf, item.direction)
    load_w = metered_power(load, "active", rating.wiring)
    shares = channel_shares(load, item.direction)
    links = {p.number: rig.link(p) for p in positions}
    settle(bench, timebase, voltage_only, SETTLING_S)
    offsets: dict[int, ClockReading] = clock_offsets(links, timebase, CLOCK_STEP_S)
    first = numbers[0]

    def true_of(meter_s: float) -> float:
        return meter_s - offsets[first].offset_s

    # One experiment, marked started by its first point, committed in one batch.
    take = recorder.start(numbers, per_channel[0][0])
    reference = ReferenceEnergy(bench, timebase, rating.wiring)
    k_start = (math.floor((timebase.now() + offsets[first].offset_s) / INTERVAL_S) + 1) * INTERVAL_S
    # Entry ends: K0 (partial), K1..Kn (whole), then the two intervals of the power-down.
    outage = 2 if item.power_down else 0
    ends = [k_start + INTERVAL_S * (k + 1) for k in range(item.intervals + 1 + outage)]
    loaded = ends[:len(ends) - outage]
    cumulative: dict[float, float] = {}
    try:
        dwell_until(timebase, true_of(k_start), "to a load-profile boundary")
        reference.start()
        cumulative[k_start] = reference.now()
        dwell_until(timebase, true_of(k_start + LOAD_DELAY_S), "partial interval")
        bench.energise(load)
        reference.changed()
        for end in loaded:
            dwell_until(timebase, true_of(end), "load-profile interval")
            cumulative[end] = reference.now()
        if outage:
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

    ref_kwh = [abs(cumulative[end] - cumulative[end - INTERVAL_S]) for end in ends]
    u_ref, u_note = reference_uncertainty(bench)
    for n in numbers:
        edge_s = offsets[n].half_width_s + offsets[first].half_width_s + abs(
            offsets[n].offset_s - offsets[first].offset_s)
        for k, end in enumerate(ends):
            entry = profiles[n].get(end)
            for channel, desc in zip(CHANNELS, per_channel[k], strict=True):
                expected = ref_kwh[k] * shares.get(channel, 0.0)
                _record_entry(take, n, desc, entry, channel, end, expected, item, load_w,
                              edge_s, u_ref, u_note)
        for desc, end in zip(flags, ends[len(loaded):], strict=True):
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
            take.record(
                n, desc, "power-down status flag of the entry", flagged, "",
                limit_low=1.0, limit_high=1.0,
                raw={"status": None if entry is None else f"{entry[0]:02X}",
                     "entry_end": stamp(end)},
                message=message,
            )
    take.commit()
    recorder.verdicts()


def channel_shares(load: LoadPoint, direction: str) -> dict[str, float]:
    """Energy each channel receives per kWh of active reference energy at `load`: 1 in the
    active channel of the direction, |Q/P| in the reactive channel of the load's quadrant (IEC
    quadrants, standards.md 2.1: Q1 +P +Q, Q2 -P +Q, Q3 -P -Q, Q4 +P -Q); none elsewhere."""
    shares = {ACTIVE_CHANNEL[direction]: 1.0}
    p, q = load.active_power, load.reactive_power
    if abs(q) > 1e-9 * abs(p):
        quadrant = {(True, True): 1, (False, True): 2, (False, False): 3, (True, False): 4}[
            (p >= 0, q >= 0)]
        shares[QUADRANT_CHANNEL[quadrant]] = abs(q / p)
    return shares


def _record_entry(take: Take, n, desc, entry, channel, end, ref_kwh, item, load_w, edge_s, u_ref,
                  u_note) -> None:
    """One channel of one entry against the energy the channel received in its interval."""
    reactive = channel in QUADRANT_CHANNEL.values()
    pct = item.reactive_limit if reactive else item.limit
    text = None if entry is None else entry[1].get(channel)
    if text is None:
        take.record(
            n, desc, f"load-profile {channel} energy error", None, "%",
            limit_low=-pct, limit_high=pct,
            raw={"entry_end": stamp(end), "reference_kwh": ref_kwh},
            message=f"no load-profile entry ends at {stamp(end)}" if entry is None else
            f"the entry ending {stamp(end)} has no channel {channel}",
        )
        return
    status = entry[0]
    meter_kwh = float(Decimal(text))
    decimals = len(text.partition(".")[2])
    digit = 10.0 ** -decimals
    if ref_kwh <= 0:  # a channel that receives nothing: at most one digit
        take.record(
            n, desc, f"load-profile {channel} energy where none flows", meter_kwh, "kWh",
            limit_low=-digit, limit_high=digit,
            raw={"status": f"{status:02X}", "entry_end": stamp(end), "digit_kwh": digit},
            message="" if abs(meter_kwh) <= digit else
            f"entry ending {stamp(end)}, {item.direction} load at PF {item.pf}: {channel} "
            f"{text}, expected 0 (no energy of this channel flowed)",
        )
        return
    error = (meter_kwh - ref_kwh) / ref_kwh * 100.0
    # The item's limit widened by one entry digit (the entry cannot resolve less).
    limit = pct + digit / ref_kwh * 100.0
    components = [
        normal("reference standard", u_ref, note=u_note),
        rectangular("source stability", SOURCE_STABILITY),
        rectangular("entry resolution", digit / 2 / ref_kwh * 100.0,
                    f"half a digit of {digit:g} kWh"),
        rectangular("interval edges against the meter clock",
                    load_w * edge_s / 3.6e6 / ref_kwh * 100.0,
                    "clock offset resolution and offset between positions"),
    ]
    if reactive:
        components.append(rectangular(
            "reactive energy from the active reference and the set phase angle", SOURCE_ANGLE,
            "the source's phase-angle setting, in % of |Q|"))
    take.record(
        n, desc, f"load-profile {channel} energy error", error, "%",
        limit_low=-limit, limit_high=limit, budget=combine(components),
        raw={"meter": meter_kwh, "reference": ref_kwh, "unit": "kWh", "status": f"{status:02X}",
             "entry_end": stamp(end), "digit_kwh": digit, "limit_confidence": item.confidence},
        message="" if abs(error) <= limit else
        f"entry ending {stamp(end)}, {item.direction} load at PF {item.pf}: {channel} "
        f"{meter_kwh:.4f}, expected {ref_kwh:.4f} (reference)",
    )
