"""Maximum demand in block and rolling mode against demand from the reference energy
(A1000 manual 1.2, 3.2.2; standards.md 3.2 [L], 3.3 [H]).

Method, all positions at once:

1. Voltage only; the meter clock offset of every position is measured (MeterLink.clock_offset,
   to +-CLOCK_STEP_S/2), so the meter's clock-aligned demand boundaries are known in true time;
   the demand settings are read in the same session.
2. The item's mode, cycle and interval are written through W1 (programming state entered on
   every meter together, P1; the writes go to all positions in parallel) at a moment
   deliberately *not* on a boundary (half a cycle + 7 s), and the maxima are reset (E2
   0.1.0). A meter that counts its windows from the setting instead of the clock shows it.
3. A base load (half the item current) runs from before the write; the item's load (balanced,
   item current and PF) is switched on 60 s before the first aligned cycle boundary B0 and back
   to the base 60 s before B1 = B0 + cycle, so exactly one window (the one ending at B1) holds
   the most energy and the steps lie well away from every boundary. The base load, rather than
   voltage only, keeps creep (a no-load matter) and the lowest-current accuracy region out of
   the demand.
4. At every evaluation end from B0 to B1 (block: each cycle end; rolling: each interval end) the
   reference energy is read at the boundary (bench.energy, the reference standard's energy
   register; without one, the reference power integrated between load changes) and, just after
   it, the meter's last average demand 1-1:1.5.0. Reference demand = energy of the window /
   cycle length (the divisor is the nominal cycle, standards.md 3.3); a window that began before
   the settings were written starts at the write (the first interval is shortened, 3.3).
5. After B1 the maximum demand 1-1:1.6.0 (value, YYMMDDhhmm) is read: its value against the
   largest reference window, its time stamp against B1 (exact to the stamp's 1 min resolution).
6. The previous demand settings are written back.

Limit: A1000 manual 3.2.2, additional error +-(0.5 + 0.05 Pm/Pn) % (rig.plan.demand_limit_pct;
Pm = power at Imax, PF 1; Pn = the demand the meter shows).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from meter.iec62056_21.readings import Reading
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
    MeterSessions,
    clock_offsets,
    each,
    meter_datetime,
    meter_seconds,
)
from rig.metrology import UncertaintyComponent, combine, normal, rectangular
from rig.plan import DemandItem, demand_limit_pct
from rig.procedures import Context, Declared
from rig.recorder import Recorder, Take
from rig.tariffs import TARIFF, tariff_in_force

SETTLING_S = 5.0
CLOCK_STEP_S = 0.05
# The load steps lie this far (at most half an interval) before a boundary, so no window edge
# is near a step.
STEP_LEAD_S = 60.0
# The base load between the steps, as a fraction of the item current.
BASE_FRACTION = 0.5
# The settings are written this far past half a cycle: not on any 1..5 min boundary.
WRITE_SKEW_S = 7.0
# Holding the reset button takes 8 s (A1000 manual 2.2.1); the programming state is entered
# this long before the write.
PROGRAM_LEAD_S = 10.0
# How long after a boundary the meter registers are read (the meter evaluates at the boundary).
READ_DELAY_S = 2.0
# Demand registers show 4 decimals of kW (A1000 manual 1.2 item 1: 0..99.9999 kW).
DEMAND_DIGIT_KW = 1e-4
# The maximum's time stamp YYMMDDhhmm resolves 1 min (A1000 manual 1.2 item 1).
STAMP_RESOLUTION_S = 60.0
# Rolling intervals the meter accepts, largest first (A1000 manual 1.2 item 2).
WINDOWS_MIN = (5, 3, 2, 1)
#: Maximum demand import, total and tariffs 1..4 (A1000 manual 1.2, Appendix A).
MAXIMA = tuple(f"1-1:1.6.{t}" for t in range(5))
#: The last average demand import, read after each window (module doc).
AVERAGE = "1-1:1.5.0"


def stamp_seconds(stamp: str) -> float | None:
    """Meter seconds of a YYMMDDhhmm stamp; None for the never-set stamp 0000000000."""
    if not stamp.strip("0"):
        return None
    return meter_seconds(stamp[:6], stamp[6:10] + "00")


def settings_writes(
    old: tuple[int, str, int], new: tuple[int, str, int]
) -> list[tuple[str, Sequence[str]]]:
    """W1 writes from `old` to `new` (cycle min, mode, window min) in an order the meter
    accepts at every step: the cycle must stay a multiple of the window (manual 1.2 item 2)."""
    cycle, mode, window = new
    mode_write = ("C.50.0", [mode.upper(), str(window)])
    cycle_write = ("1-1:0.8.0", [str(cycle)])
    if old[0] % window == 0:
        return [mode_write, cycle_write]
    return [cycle_write, mode_write]


#: The demand settings: the cycle (min) and the mode with its interval (A1000 manual 1.2).
SETTINGS = ("1-1:0.8.0", "C.50.0")


def settings_of(position: int, readings: Mapping[str, Reading]) -> tuple[int, str, int]:
    """(cycle, mode, interval) from the readings of SETTINGS at `position`."""
    cycle = readings["1-1:0.8.0"].value
    mode_values = readings["C.50.0"].values
    if cycle is None or len(mode_values) != 2:
        raise AssertionError(
            f"position {position}: demand settings 1-1:0.8.0({readings['1-1:0.8.0'].raw}) "
            f"C.50.0{tuple(v.value for v in mode_values)} not understood"
        )
    return int(cycle), mode_values[0].value.lower(), int(mode_values[1].value)


def read_average(link: MeterLink, more: Sequence[str] = ()) -> tuple[Decimal, dict[str, Reading]]:
    """The last average demand (a number) and `more` addresses, in one session."""
    readings = link.read(AVERAGE, *more)
    return link.numeric(readings, AVERAGE), readings


def item_settings(item: DemandItem, old: tuple[int, str, int]) -> tuple[int, str, int]:
    """The item's (cycle, mode, window). Block mode keeps the meter's power-calculation time
    (manual 1.3 item 3) when the new cycle is a multiple of it, else the largest that fits."""
    if item.interval_min is not None:
        return item.cycle_min, item.mode, item.interval_min
    window = old[2]
    if item.cycle_min % window:
        window = next(w for w in WINDOWS_MIN if item.cycle_min % w == 0)
    return item.cycle_min, item.mode, window


def _steps(item: DemandItem) -> tuple[float, float, int]:
    """The demand cycle, the evaluation step (block demand is evaluated at cycle ends, rolling
    demand at every interval end) in seconds, and the steps in a cycle."""
    cycle_s = item.cycle_min * 60.0
    step_s = (item.interval_min or item.cycle_min) * 60.0 if item.mode == "rolling" else cycle_s
    return cycle_s, step_s, round(cycle_s / step_s)


@dataclass(frozen=True)
class MaximumDemand:
    """Demand windows against the reference energy, the maximum, its stamp (and with a tariff
    item the tariff's maximum); one experiment at every position."""

    item: DemandItem
    rating: Rating

    @property
    def forces_tariff(self) -> bool:
        """A tariff item puts its tariff in force (rig.procedures.forces_tariff)."""
        return self.item.tariff is not None

    @property
    def declared(self) -> tuple[Declared, ...]:
        item = self.item
        rule = "+-(0.5 + 0.05 Pm/Pn) % (A1000 manual 3.2.2)"
        declared = [
            Declared("last average demand 1-1:1.5.0", "%", item.clause, rule=rule),
            Declared("maximum demand 1-1:1.6.0", "%", item.clause, rule=rule),
            Declared("maximum demand time stamp minus window end", "s", item.clause,
                     limit_low=-STAMP_RESOLUTION_S / 2, limit_high=STAMP_RESOLUTION_S / 2),
        ]
        if item.tariff is not None:
            declared += [
                Declared(f"tariff maximum demand {MAXIMA[item.tariff]}", "%", item.clause,
                         rule=rule),
                Declared("other tariffs' maxima not zero", "registers", item.clause,
                         limit_low=0.0, limit_high=0.0),
            ]
        return tuple(declared)

    def descs(self) -> tuple[list[dict], dict, dict, dict[str, dict]]:
        """The points: each window's end, the maximum, its stamp, the tariff maxima."""
        item = self.item
        _, step_s, n_steps = _steps(item)
        base = {"mode": item.mode, "cycle_min": item.cycle_min, "load": item.current,
                "pf": item.pf}
        window_descs = [
            {**base, "window": k, "window_end_min": round(k * step_s / 60.0)}
            for k in range(n_steps + 1)
        ]
        max_desc = {**base, "window": "max"}
        stamp_desc = {**base, "window": "max", "check": "time stamp"}
        tariff_descs = ({"value": {**base, "window": "max", "tariff": item.tariff},
                         "others": {**base, "window": "max", "tariff": "others"}}
                        if item.tariff is not None else {})
        return window_descs, max_desc, stamp_desc, tariff_descs

    def points(self) -> list[dict[str, Any]]:
        window_descs, max_desc, stamp_desc, tariff_descs = self.descs()
        return [*window_descs, max_desc, stamp_desc, *tariff_descs.values()]

    def run(self, ctx: Context, recorder: Recorder) -> None:
        _maximum_demand(self, ctx, recorder)

    def planned_seconds(self) -> float:
        """The test runs on the meter's cycle boundaries: the write half a cycle + WRITE_SKEW_S
        after a boundary, B0 half a cycle later, B1 a cycle after B0, then the reads and the
        settings written back. In a plan, demand tests follow each other: each starts just
        after the boundary the one before ended on (its reads take seconds), so from its start
        to the same point past its B1 is two cycles."""
        cycle_s, _, _ = _steps(self.item)
        return 2 * cycle_s


def _maximum_demand(procedure: MaximumDemand, ctx: Context, recorder: Recorder) -> None:
    """The module's method at every position, one experiment."""
    item, rating = procedure.item, procedure.rating
    rig, bench, timebase, positions, numbers = (ctx.rig, ctx.bench, ctx.timebase,
                                                ctx.positions, ctx.numbers)
    cycle_s, step_s, n_steps = _steps(item)
    window_descs, max_desc, stamp_desc, tariff_descs = procedure.descs()
    descs = procedure.points()
    if not recorder.todo(numbers, descs, together=True):
        recorder.verdicts()
        return

    voltage_only = LoadPoint.voltage_only(rating.un)
    load = active_point(rating, item.current, item.pf)
    base_load = active_point(rating, item.current * BASE_FRACTION, item.pf)
    load_w = metered_power(load, "active", rating.wiring)
    pm_w = metered_power(active_point(rating, rating.imax / rating.in_, "1"), "active",
                         rating.wiring)
    links = {p.number: rig.link(p) for p in positions}
    settle(bench, timebase, base_load, SETTLING_S)
    # The settings are read in the session of the clock polls, right after them.
    with MeterSessions(links) as sessions:
        offsets: dict[int, ClockReading] = clock_offsets(links, timebase, CLOCK_STEP_S, sessions)
        old = {n: settings_of(n, r) for n, r in sessions.read(*SETTINGS).items()}
    first = numbers[0]
    off1 = offsets[first].offset_s

    def true_of(meter_s: float, n: int = first) -> float:
        return meter_s - offsets[n].offset_s

    new = {n: item_settings(item, old[n]) for n in numbers}
    # One experiment, marked started by its first window, committed in one batch.
    take = recorder.start(numbers, window_descs[0])
    reference = ReferenceEnergy(bench, timebase, rating.wiring)
    # With a tariff item the calendar holds that tariff through the whole test (written before
    # the demand settings, so no tariff change falls inside a window).
    calendar = (tariff_in_force(rig, positions, links, item.tariff)
                if item.tariff is not None else contextlib.nullcontext())
    with calendar:
        try:
            # The write moment: half a cycle + 7 s after a cycle boundary, after the programming
            # entry (8 s, all meters together).
            meter_now = timebase.now() + off1
            a = math.floor(meter_now / cycle_s) * cycle_s
            write_at = a + cycle_s / 2 + WRITE_SKEW_S
            if write_at - PROGRAM_LEAD_S < meter_now:
                a += cycle_s
                write_at += cycle_s
            b0 = a + cycle_s
            reference.start()
            # The programming state times out when idle: enter it just before the writes, which
            # go to every position at once.
            dwell_until(timebase, true_of(write_at) - PROGRAM_LEAD_S, "demand settings")
            with rig.programming(*positions):
                dwell_until(timebase, true_of(write_at), "demand settings")
                t0, e0 = timebase.now(), reference.now()
                each(links, lambda link: link.write(
                    settings_writes(old[link.number], new[link.number])))
                # The lines run in parallel, each its own session of the same writes: they end
                # together, at this instant. (Read in the line threads, the clock would depend
                # on how the threads interleave: on the simulated bench a clock reading lets
                # the time the other lines are owed pass first, pushing their exchanges on.)
                written_at = timebase.now()
                each(links, lambda link: link.execute("0.1.0"))  # the maxima start from zero
                t1, e1 = timebase.now(), reference.now()
            write_times = dict.fromkeys(numbers, written_at)
            # Meter time of each write and the reference energy then: the load is constant while
            # the writes go out, so the energy is interpolated between the readings around them.
            share = {n: (t - t0) / (t1 - t0) if t1 > t0 else 0.0 for n, t in write_times.items()}
            written: dict[int, tuple[float, float]] = {
                n: (t + offsets[n].offset_s, e0 + (e1 - e0) * share[n])
                for n, t in write_times.items()
            }
            if timebase.now() > true_of(b0 - min(STEP_LEAD_S, step_s / 2)):
                raise AssertionError(
                    f"{len(numbers)} positions took too long to program before the first window; "
                    "use a longer demand cycle or fewer positions"
                )
            ends = [b0 + k * step_s for k in range(n_steps + 1)]
            b1 = ends[-1]
            lead = min(STEP_LEAD_S, step_s / 2)
            # Cumulative reference energy at meter times (position 1's clock), at every window
            # start after the writes and every window end.
            cumulative: dict[float, float] = {}
            first_write = min(w for w, _ in written.values())
            last_write = max(w for w, _ in written.values())
            for start in (end - cycle_s for end in ends):
                if first_write <= start < last_write:
                    raise AssertionError(
                        f"a demand window starts at {meter_datetime(start)}, between the settings "
                        "writes of the positions: use fewer positions or a longer interval")
                if start >= last_write:
                    dwell_until(timebase, true_of(start), "window start")
                    cumulative[start] = reference.now()
            dwell_until(timebase, true_of(b0 - lead), "to the load step")
            bench.energise(load)
            reference.changed()
            meter_avg: dict[int, list[Decimal]] = {n: [] for n in numbers}
            maxima: dict[int, dict[str, Reading]] = {}
            load_on = True
            for end in ends:
                if load_on and end >= b1:
                    dwell_until(timebase, true_of(b1 - lead), "to the load step")
                    bench.energise(base_load)
                    reference.changed()
                    load_on = False
                dwell_until(timebase, true_of(end), "demand window")
                cumulative[end] = reference.now()
                dwell_until(timebase, max(true_of(end, n) for n in numbers) + READ_DELAY_S,
                            "meter evaluation")
                # The maxima are read with the last window's average, in its session.
                more = MAXIMA if end == ends[-1] else ()
                got = each(links, lambda link, more=more: read_average(link, more))
                for n, (value, readings) in got.items():
                    meter_avg[n].append(value)
                    maxima[n] = readings
        finally:
            reference.stop()
            bench.energise(voltage_only)
            with rig.programming(*positions):
                each(links, lambda link: link.write(
                    settings_writes(new[link.number], old[link.number])))

    def window_kw(n: int, end: float) -> float:
        start = end - cycle_s
        write_s, at_write = written[n]
        return (cumulative[end] - (at_write if start < write_s else cumulative[start])) * (
            3600.0 / cycle_s)

    u_ref, u_note = reference_uncertainty(bench)
    for n in numbers:
        # Window edges for this meter: its clock offset's resolution and its difference from
        # the clock the reference readings were timed by.
        edge_s = offsets[n].half_width_s + offsets[first].half_width_s + abs(
            offsets[n].offset_s - off1)
        ref_kw = [window_kw(n, end) for end in ends]
        for k, (end, desc) in enumerate(zip(ends, window_descs, strict=True)):
            meter_kw = float(meter_avg[n][k])
            # The value read at the previous evaluation and the reference there: a value
            # that stayed while the reference changed was not evaluated at this end.
            previous = (float(meter_avg[n][k - 1]), ref_kw[k - 1]) if k else None
            _record_demand(
                take, n, desc, "last average demand 1-1:1.5.0", meter_kw, ref_kw[k], item,
                pm_w, load_w, edge_s, u_ref, u_note,
                extra={"window_end": meter_datetime(end).isoformat(sep=" ")},
                read=f"1-1:1.5.0 read {READ_DELAY_S:g} s after the window ending "
                     f"{meter_datetime(end):%y%m%d %H:%M} (meter clock)",
                previous=previous,
            )
        reading = maxima[n][MAXIMA[0]]
        if len(reading.values) != 2 or reading.value is None:
            raise AssertionError(
                f"position {n}: 1-1:1.6.0({reading.raw}) is not (value)(stamp)")
        best = max(range(len(ends)), key=lambda k: ref_kw[k])
        stamp = reading.values[1].value
        stamp_s = stamp_seconds(stamp)
        _record_demand(
            take, n, max_desc, "maximum demand 1-1:1.6.0", float(reading.value),
            ref_kw[best], item, pm_w, load_w, edge_s, u_ref, u_note,
            extra={"stamp": stamp, "expected_stamp": meter_datetime(ends[best]).isoformat(" ")},
            read=f"1-1:1.6.0 read after the last window, ending "
                 f"{meter_datetime(ends[-1]):%y%m%d %H:%M} (meter clock)",
        )
        deviation = None if stamp_s is None else stamp_s - ends[best]
        half = STAMP_RESOLUTION_S / 2
        # A stamp off every evaluation boundary of the meter clock proves the window is not
        # aligned to it; a stamp on another boundary says only which window was taken.
        off_boundary = stamp_s is not None and stamp_s % step_s != 0
        take.record(
            n, stamp_desc, "maximum demand time stamp minus window end", deviation, "s",
            limit_low=-half, limit_high=half,
            raw={"stamp": stamp, "window_end": meter_datetime(ends[best]).isoformat(" "),
                 "resolution_s": STAMP_RESOLUTION_S},
            message="" if deviation is not None and abs(deviation) <= half else
            f"1-1:1.6.0 stamped {stamp}, expected {meter_datetime(ends[best]):%y%m%d%H%M} "
            "(the end of the largest reference window)"
            + (f": {stamp} is not on a {step_s / 60:g} min boundary of the meter clock, so "
               "the demand window is not aligned to the meter clock (manual 1.2 item 2; "
               "standards.md 3.3)" if off_boundary else ""),
        )
        if item.tariff is not None:
            _record_tariff_maxima(
                take, n, tariff_descs, item, maxima[n], ref_kw[best], pm_w, load_w,
                edge_s, u_ref, u_note)
    take.commit()
    recorder.verdicts()


def _record_tariff_maxima(take: Take, n, descs, item, maxima, ref_kw, pm_w, load_w, edge_s,
                          u_ref, u_note) -> None:
    """The maximum of the tariff in force against the reference, and the other tariffs' maxima
    at zero (they were reset with the total and no window fell in them)."""
    own = MAXIMA[item.tariff]
    reading = maxima[own]
    _record_demand(
        take, n, descs["value"], f"tariff maximum demand {own}",
        float(reading.value) if reading.value is not None else 0.0, ref_kw, item, pm_w, load_w,
        edge_s, u_ref, u_note, extra={"raw": reading.raw},
        read=f"{own} read after the last window with tariff {item.tariff} in force all test "
             f"({TARIFF} programmed)")
    others = {a: maxima[a].value for a in MAXIMA[1:] if a != own}
    nonzero = {a: str(v) for a, v in others.items() if v is None or v != 0}
    take.record(
        n, descs["others"], "other tariffs' maxima not zero", float(len(nonzero)), "registers",
        limit_low=0.0, limit_high=0.0, raw={"others": {a: str(v) for a, v in others.items()}},
        message="" if not nonzero else
        f"tariff {item.tariff} in force all test, maxima reset at its start: "
        + ", ".join(f"{a} = {v}" for a, v in nonzero.items()) + ", expected 0")


def _record_demand(
    take: Take, n: int, desc: dict, quantity: str, meter_kw: float, ref_kw: float,
    item: DemandItem, pm_w: float, load_w: float, edge_s: float, u_ref: float, u_note: str,
    extra: dict, read: str, previous: tuple[float, float] | None = None,
) -> None:
    """One window: the demand error in % against the limit of A1000 manual 3.2.2."""
    error = (meter_kw - ref_kw) / ref_kw * 100.0 if ref_kw > 0 else None
    # Pn is the demand the meter shows (manual 3.2.2); a meter showing nothing gets the
    # reference's, so its error of -100 % is judged against a finite limit.
    pn_w = meter_kw * 1000.0 if meter_kw > 0 else ref_kw * 1000.0
    limit = demand_limit_pct(item, pm_w, pn_w) if pn_w > 0 else None
    components: list[UncertaintyComponent] = [
        normal("reference standard", u_ref, note=u_note),
        rectangular("source stability", SOURCE_STABILITY),
    ]
    if ref_kw > 0:
        components += [
            rectangular("demand register resolution", DEMAND_DIGIT_KW / 2 / ref_kw * 100.0,
                        "half a digit of 0.0001 kW"),
            rectangular("window edges against the meter clock",
                        load_w * edge_s / 3.6e6 / (ref_kw * item.cycle_min / 60.0) * 100.0,
                        "clock offset resolution and offset between positions"),
        ]
    message = ""
    if error is None:
        message = f"{read}: the reference window holds no energy"
    elif limit is not None and abs(error) > limit:
        message = f"{read}: meter {meter_kw:.4f} kW, reference {ref_kw:.4f} kW"
        if previous is not None and meter_kw == previous[0] and abs(ref_kw - previous[1]) > (
                DEMAND_DIGIT_KW):
            message += (f"; unchanged since the previous end while the reference went from "
                        f"{previous[1]:.4f} kW: not evaluated at this interval end (manual 1.2 "
                        "item 2)")
    take.record(
        n, desc, quantity, error, "%",
        limit_low=-limit if limit is not None else None,
        limit_high=limit if limit is not None else 0.0,
        budget=combine(components),
        raw={"meter": meter_kw, "reference": ref_kw, "unit": "kW",
             "limit_confidence": item.confidence, **extra},
        message=message,
    )
