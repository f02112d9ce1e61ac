"""Events and ERR 1 warning bits against faults injected with the source.

A1000 manual 2.1.2 display codes 03 (over-current, reverse-run and power-down counts), 10..14
(phase voltage loss: count, time, energy, start, stop), 19 (all-phase voltage loss), 20..24
(phase failure; 201/202 one-/two-phase failure: two phases failing together count one
two-phase failure), 30..35 (over current, reverse run, power down start
and stop) and Appendix B (ERR 1 bits). Read through IEC 62056-21 with the meter's
manufacturer-specific codes: C.60.E (count)(cumulative duration s), C.61.E (start)(stop)
YYMMDDhhmmss of the latest occurrence, C.63.E (import)(export) kWh during voltage loss
(E = 1..3) and phase failure (E = 4..6); F.F.1 the ERR 1 byte.

Method for an event: the bench runs at Un, In, PF 1 (import); the meter clock offset is read
(MeterLink.clock_offset); counts, durations and energies are read; the fault is applied at
true time t_on for `duration_s` and removed at t_off; after the end is confirmed they are read
again. Checks, each against the plan item: count +1; duration = t_off - t_on (the meter
confirms start and end after the same `debounce_s`, so the debounce drops out) within
`timestamp_tolerance_s`; start stamp = t_on + debounce_s and stop stamp = t_off + debounce_s
(meter clock) within `timestamp_tolerance_s`; for voltage loss / phase failure the phase's
import energy during the event = the source's phase energy from start to stop confirmation
within one register digit plus the class allowance; the event's ERR 1 bit is set while the
event lasts and clear after. Voltage loss also gets the debounce check: two dips, each
shorter than the debounce, with a short gap between, must count nothing.

Method for an ERR 1 bit: apply the condition; F.F.1 must show the bit midway through it and
not after it is removed.

Thresholds used to size the injections (A1000 model documentation, Q/GDW 1354 family defaults
[L]): voltage loss below 78 % Un with current above 0.5 % In, ends above 85 % Un; phase failure
below 60 % Un with current below 0.5 % In; over current above 1.2 Imax; all-phase loss below
60 % Un with current above 5 % In; reverse run: export above 0.5 % of 3 Un In; over / under
voltage 1.15 / 0.80 Un; missing current: below 0.5 % In with voltage above 70 % Un while
another phase carries more than 5 % In.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from meter.iec62056_21.readings import Reading
from rig.instruments.loadpoint import LoadPoint, normalise_angle
from rig.linetime import clock_reading_s, read_s
from rig.loads import Rating
from rig.measure import settle
from rig.meterlink import (
    ClockReading,
    MeterLink,
    MeterReadError,
    MeterSessions,
    clock_offsets,
    each,
    meter_datetime,
    meter_seconds,
)
from rig.metrology import combine, rectangular
from rig.plan import EventsItem
from rig.procedures import Context, Declared
from rig.recorder import Recorder, Take

# --- injection levels (each well clear of the thresholds in the module doc) ----------------
VOLTAGE_LOSS_U = 0.70  # x Un: below the 78 % loss threshold, above the 60 % failure one
OVER_CURRENT_IMAX = 1.3  # x Imax: above 1.2 Imax
OVER_VOLTAGE_U = 1.20  # x Un: above 1.15 Un
UNDER_VOLTAGE_U = 0.70  # x Un: below 0.80 Un, above the 60 % phase-failure level

# ERR 1 bits (A1000 manual Appendix B), read as the byte F.F.1.
ERR1 = "F.F.1"
OVER_VOLTAGE, UNDER_VOLTAGE, PHASE_VOLTAGE_LOSS, PHASE_FAILURE = 0x01, 0x02, 0x04, 0x08
CURRENT_REVERSAL, ENERGY_REVERSAL, MISSING_CURRENT, PHASE_SEQUENCE = 0x10, 0x20, 0x40, 0x80
BIT_NAMES = {
    OVER_VOLTAGE: "over voltage", UNDER_VOLTAGE: "under voltage",
    PHASE_VOLTAGE_LOSS: "phase voltage loss", PHASE_FAILURE: "phase failure",
    CURRENT_REVERSAL: "current reversal", ENERGY_REVERSAL: "energy reversal",
    MISSING_CURRENT: "missing current", PHASE_SEQUENCE: "phase sequence reversal",
}

#: Event logs: E of C.60.E / C.61.E (the meter's OBIS map, `python -m meter obis-table`).
VOLTAGE_LOSS_E = {1: 1, 2: 2, 3: 3}
PHASE_FAILURE_E = {1: 4, 2: 5, 3: 6}
OVER_CURRENT_E = {1: 7, 2: 8, 3: 9}
ALL_PHASE_LOSS_E, REVERSE_RUN_E, POWER_DOWN_E = 10, 11, 12
ONE_PHASE_FAILURE_E, TWO_PHASE_FAILURE_E = 13, 14

#: Register digit of the event energies (C.63.E, format 0.00 kWh).
ENERGY_DIGIT_KWH = 0.01
#: Class 0.5S limit at In, PF 1 (IEC 60687 Table 9, standards.md 1.2 [H]): allowance on energy.
CLASS_LIMIT_PCT = 0.5
SETTLING_S = 10.0
#: After the confirmation of an end (or a live bit's condition), before reading.
READ_MARGIN_S = 5.0
#: Clock offset resolution asked (s): the poll step of MeterLink.clock_offset.
CLOCK_STEP_S = 0.1
#: The debounce check: dips of DIP_FRACTION x debounce with GAP_FRACTION x debounce between.
DIP_FRACTION = 2.0 / 3.0
GAP_FRACTION = 1.0 / 6.0
DEBOUNCE_CHECK = "debounce: dips shorter than the debounce"


@dataclass(frozen=True)
class Injection:
    """How one plan event is produced and what the meter must show for it."""

    fault: LoadPoint
    normal: LoadPoint
    logs: tuple[tuple[str, int], ...] = ()  # (name, E) of the event logs that must record it
    energy_e: int | None = None  # C.63.E of the phase energy during the event
    phase: int | None = None  # 1..3: the phase whose energy C.63.E books
    # ERR 1 bit shown while the condition lasts: from t_on + debounce_s to t_off + debounce_s
    # (the voltage-loss and phase-failure bits show the confirmed event; the other bits are
    # live: their plan items have debounce_s 0).
    bit: int | None = None
    readable_during: bool = True  # False when the meter is without supply


def _phase_number(item: EventsItem) -> int:
    if item.phase == "balanced":
        raise ValueError(f"{item.id}: event {item.event} needs a phase L1..L3, got 'balanced'")
    return int(item.phase[1])


def _set_phase(point: LoadPoint, k: int, **changes: float) -> LoadPoint:
    phases = list(point.phases)
    phases[k - 1] = replace(phases[k - 1], **changes)
    return replace(point, phases=tuple(phases))


def injection(item: EventsItem, rating: Rating) -> Injection:
    """The fault and the normal load of a plan event (source settings only)."""
    normal = LoadPoint.balanced(rating.un, rating.in_, "1")
    ev = item.event
    if ev == "voltage_loss":
        k = _phase_number(item)
        return Injection(_set_phase(normal, k, voltage=VOLTAGE_LOSS_U * rating.un), normal,
                         ((f"voltage loss L{k}", VOLTAGE_LOSS_E[k]),), VOLTAGE_LOSS_E[k], k,
                         PHASE_VOLTAGE_LOSS)
    if ev == "phase_failure":
        k = _phase_number(item)
        return Injection(_set_phase(normal, k, voltage=0.0, current=0.0), normal,
                         ((f"phase failure L{k}", PHASE_FAILURE_E[k]),
                          ("one-phase failure", ONE_PHASE_FAILURE_E)),
                         PHASE_FAILURE_E[k], k, PHASE_FAILURE)
    if ev == "two_phase_failure":
        kept = _phase_number(item)
        failed = [k for k in (1, 2, 3) if k != kept]
        fault = normal
        for k in failed:
            fault = _set_phase(fault, k, voltage=0.0, current=0.0)
        return Injection(fault, normal,
                         (*((f"phase failure L{k}", PHASE_FAILURE_E[k]) for k in failed),
                          ("two-phase failure", TWO_PHASE_FAILURE_E)),
                         bit=PHASE_FAILURE)
    if ev == "over_current":
        k = _phase_number(item)
        return Injection(_set_phase(normal, k, current=OVER_CURRENT_IMAX * rating.imax), normal,
                         ((f"over current L{k}", OVER_CURRENT_E[k]),))
    if ev == "all_phase_voltage_loss":
        return Injection(normal.with_voltages(0.0, 0.0, 0.0), normal,
                         (("all-phase voltage loss", ALL_PHASE_LOSS_E),), readable_during=False)
    if ev == "reverse_run":
        return Injection(LoadPoint.balanced(rating.un, rating.in_, "1", "export"), normal,
                         (("reverse run", REVERSE_RUN_E),), bit=ENERGY_REVERSAL)
    if ev == "power_down":
        return Injection(LoadPoint.balanced(0.0, 0.0), normal, (("power down", POWER_DOWN_E),),
                         readable_during=False)
    if ev == "over_voltage":
        k = _phase_number(item)
        return Injection(_set_phase(normal, k, voltage=OVER_VOLTAGE_U * rating.un), normal,
                         bit=OVER_VOLTAGE)
    if ev == "under_voltage":
        # No current: with current the phase would go into voltage loss, which shows its own
        # bit instead (Appendix B: one bit per condition).
        quiet = LoadPoint.voltage_only(rating.un)
        k = _phase_number(item)
        return Injection(_set_phase(quiet, k, voltage=UNDER_VOLTAGE_U * rating.un), quiet,
                         bit=UNDER_VOLTAGE)
    if ev == "missing_current":
        k = _phase_number(item)
        return Injection(_set_phase(normal, k, current=0.0), normal, bit=MISSING_CURRENT)
    if ev == "current_reversal":
        k = _phase_number(item)
        turned = normalise_angle(normal.phases[k - 1].current_angle + 180.0)
        return Injection(_set_phase(normal, k, current_angle=turned), normal,
                         bit=CURRENT_REVERSAL)
    if ev == "phase_sequence_reversal":
        return Injection(normal.reversed_sequence(), normal, bit=PHASE_SEQUENCE)
    raise ValueError(f"{item.id}: no injection for event {ev!r}")


# --- reading the meter -------------------------------------------------------------------


def _fields(readings: Mapping[str, Reading], address: str) -> list[str]:
    return [v.value for v in readings[address].values]


def _log(readings: Mapping[str, Reading], e: int) -> tuple[int, float]:
    count, duration = _fields(readings, f"C.60.{e}")[:2]
    return int(count), float(duration)


def _stamps(readings: Mapping[str, Reading], e: int,
            position: int) -> tuple[float | None, float | None]:
    """(start, stop) meter seconds of the latest occurrence; None where the meter shows none."""
    out: list[float | None] = []
    for text in _fields(readings, f"C.61.{e}")[:2]:
        if len(text) != 12 or not text.isdigit():
            raise MeterReadError(f"position {position}: C.61.{e} stamp {text!r} is not "
                                 "YYMMDDhhmmss")
        out.append(None if set(text) == {"0"} else meter_seconds(text[:6], text[6:]))
    return out[0], out[1]


def _energy(readings: Mapping[str, Reading], e: int) -> float:
    return float(_fields(readings, f"C.63.{e}")[0])


def _err1(link: MeterLink) -> int:
    return _err1_byte(link.read(ERR1), link.number)


def _err1_byte(readings: Mapping[str, Reading], position: int) -> int:
    text = _fields(readings, ERR1)[0].replace(" ", "")
    if len(text) != 8 or set(text) - {"0", "1"}:
        raise MeterReadError(f"position {position}: {ERR1} {text!r} is not 8 bits")
    return int(text, 2)


def _meter_time(true_s: float, clock: ClockReading) -> str:
    """A bench instant on the meter's clock, as the meter's stamps show it."""
    return meter_datetime(true_s + clock.offset_s).strftime("%y%m%d %H:%M:%S")


def _until(timebase, t: float, label: str) -> None:
    timebase.dwell(max(0.0, t - timebase.now()), label=label)


# --- the test ------------------------------------------------------------------------------


def _descs(item: EventsItem, inj: Injection) -> dict[str, dict]:
    base = {"event": item.event, "element": item.phase, "duration_s": item.duration_s}
    checks = []
    for name, _ in inj.logs:
        checks += [f"{name}: count", f"{name}: duration", f"{name}: start stamp",
                   f"{name}: stop stamp"]
    if inj.energy_e is not None:
        checks.append("energy during the event")
    if inj.bit is not None:
        checks += ["ERR 1 bit during", "ERR 1 bit after"]
    if item.event == "voltage_loss":
        checks.append(DEBOUNCE_CHECK)
    return {c: {**base, "check": c} for c in checks}


@dataclass(frozen=True)
class Event:
    """One event (or ERR 1 condition) injected with the source and every check of it; the
    voltage-loss debounce check is an experiment of its own."""

    item: EventsItem
    rating: Rating

    @property
    def declared(self) -> tuple[Declared, ...]:
        item = self.item
        inj = injection(item, self.rating)
        tol = item.timestamp_tolerance_s
        declared = []
        for name, _ in inj.logs:
            declared += [
                Declared(f"{name} count increase", "events", item.clause,
                         limit_low=1.0, limit_high=1.0),
                *(Declared(f"{name} {what}", "s", item.clause, limit_low=-tol, limit_high=tol)
                  for what in ("duration error", "start stamp error", "stop stamp error")),
            ]
        if inj.energy_e is not None:
            declared.append(Declared(
                "phase import energy during the event error", "kWh", item.clause,
                rule=f"+-(one {ENERGY_DIGIT_KWH} kWh digit + {CLASS_LIMIT_PCT} % of the source's "
                "phase energy)"))
        if inj.bit is not None:
            declared += [Declared(f"ERR 1 {BIT_NAMES[inj.bit]} bit", "bit", item.clause,
                                  limit_low=want, limit_high=want) for want in (1.0, 0.0)]
        if item.event == "voltage_loss":
            declared.append(Declared("voltage losses counted", "events", item.clause,
                                     limit_low=0.0, limit_high=0.0))
        return tuple(declared)

    def points(self) -> list[dict[str, Any]]:
        return list(_descs(self.item, injection(self.item, self.rating)).values())

    def run(self, ctx: Context, recorder: Recorder) -> None:
        _event(self, ctx, recorder)

    def planned_seconds(self) -> float:
        """The event's checks (settling, the clock reading and the logs read before in its
        session where the event has logs, the fault, the end's confirmation, the logs and the
        bit read after in one session; the bit read during the fault falls within it), then the
        voltage-loss debounce check (two short dips with a gap, then a debounce, the count read
        after; the count before is the one the event's checks read last)."""
        item = self.item
        inj = injection(item, self.rating)
        energy = 1 if inj.energy_e is not None else 0
        bit = 1 if inj.bit is not None else 0
        before = (clock_reading_s(CLOCK_STEP_S, reads=len(inj.logs) + energy)
                  if inj.logs else 0.0)
        seconds = (SETTLING_S + before + item.duration_s + item.debounce_s + READ_MARGIN_S
                   + read_s(2 * len(inj.logs) + energy + bit))
        if item.event == "voltage_loss":
            seconds += ((2 * DIP_FRACTION + GAP_FRACTION + 1) * item.debounce_s
                        + READ_MARGIN_S + read_s())
        return seconds


def _event(procedure: Event, ctx: Context, recorder: Recorder) -> None:
    """The event's checks, then the debounce check, each committed as one experiment."""
    item = procedure.item
    bench, timebase, positions, numbers = ctx.bench, ctx.timebase, ctx.positions, ctx.numbers
    rig = ctx.rig
    inj = injection(item, procedure.rating)
    descs = _descs(item, inj)
    # The event's checks and the debounce check are committed apart: a resumed run takes only
    # the part that is missing (a point is never recorded twice).
    event_todo = recorder.todo(
        numbers, [d for c, d in descs.items() if c != DEBOUNCE_CHECK], together=True)
    debounce_todo = recorder.todo(
        numbers, [d for c, d in descs.items() if c == DEBOUNCE_CHECK], together=True)
    if not event_todo and not debounce_todo:
        recorder.verdicts()
        return
    links = {p.number: rig.link(p) for p in positions}
    counts: dict[int, int] | None = None
    if event_todo:
        with recorder.point(numbers, *event_todo) as take:
            counts = _event_checks(item, inj, _Rows(take, descs, item), bench, timebase, links)
    if debounce_todo:
        with recorder.point(numbers, *debounce_todo) as take:
            if not event_todo:
                settle(bench, timebase, inj.normal, SETTLING_S)
            _debounce_check(item, inj, bench, timebase, links, _Rows(take, descs, item),
                            counts)
    recorder.verdicts()


def _event_checks(item, inj, rec, bench, timebase, links) -> dict[int, int]:
    """The fault with the source, and every check of the event's logs, energy and bits; the
    count of the first log read at the end (the debounce check's count before)."""
    settle(bench, timebase, inj.normal, SETTLING_S)
    # Everything of a meter in one session: counts and durations, stamps, event energy.
    counters = [f"C.60.{e}" for _, e in inj.logs]
    energies = [f"C.63.{inj.energy_e}"] if inj.energy_e is not None else []
    stamps = [f"C.61.{e}" for _, e in inj.logs]
    # The clock offset stands for the stamps only, the logs read before for the counts: an
    # ERR 1 condition has neither (no log), its bit alone is read. The logs are read in the
    # session of the clock polls, right after them (one sign-on a meter).
    clocks: dict[int, ClockReading] = {}
    before: dict[int, dict[str, Reading]] = {n: {} for n in links}
    if inj.logs:
        with MeterSessions(links) as sessions:
            clocks = clock_offsets(links, timebase, CLOCK_STEP_S, sessions)
            before = sessions.read(*counters, *energies)
    logs_before = {n: {e: _log(r, e) for _, e in inj.logs} for n, r in before.items()}
    energy_before = ({n: _energy(r, inj.energy_e) for n, r in before.items()}
                     if inj.energy_e is not None else {})

    # The fault, with the source.
    bench.energise(inj.fault)
    t_on = timebase.now()
    bit_delay = item.debounce_s
    bits_during: dict[int, int] = {}
    if inj.bit is not None and inj.readable_during:
        _until(timebase, t_on + bit_delay + (item.duration_s - bit_delay) / 2, "fault")
        bits_during = each(links, _err1)
    _until(timebase, t_on + item.duration_s, "fault")
    bench.energise(inj.normal)
    t_off = timebase.now()
    # The bit clears bit_delay after the condition, as the end is confirmed debounce_s after
    # it (Injection.bit): both are read at the same instant, in one session.
    _until(timebase, t_off + item.debounce_s + READ_MARGIN_S, "end confirmation")
    bit_read = [ERR1] if inj.bit is not None else []

    def read_after(link: MeterLink) -> tuple[dict, Any, int | None]:
        r = link.read(*counters, *stamps, *energies, *bit_read)
        logs = {e: (_log(r, e), _stamps(r, e, link.number)) for _, e in inj.logs}
        energy = _energy(r, inj.energy_e) if inj.energy_e is not None else None
        return logs, energy, _err1_byte(r, link.number) if bit_read else None

    after = each(links, read_after)
    bits_after = {n: a[2] for n, a in after.items() if a[2] is not None}
    for n in links:
        logs_after, energy_after, _ = after[n]
        for name, e in inj.logs:
            log_after, stamps = logs_after[e]
            rec.log(n, name, logs_before[n][e], log_after, stamps, clocks[n], t_on, t_off)
        if inj.energy_e is not None:
            expected = _phase_energy_kwh(inj, item, t_off - t_on)
            rec.energy(n, energy_after - energy_before[n], expected)
        if inj.bit is not None:
            rec.bit(n, "ERR 1 bit during", bits_during.get(n), inj.bit, True)
            rec.bit(n, "ERR 1 bit after", bits_after.get(n), inj.bit, False)
    return {n: after[n][0][inj.logs[0][1]][0][0] for n in links} if inj.logs else {}


def _phase_energy_kwh(inj: Injection, item: EventsItem, held_s: float) -> float:
    """The source's import energy on the event's phase from the start confirmation (t_on +
    debounce) to the stop confirmation (t_off + debounce): fault power until t_off, normal
    power after."""
    assert inj.phase is not None
    k = inj.phase - 1
    fault_w = max(inj.fault.phases[k].active_power, 0.0)
    normal_w = max(inj.normal.phases[k].active_power, 0.0)
    d = item.debounce_s
    return (fault_w * max(held_s - d, 0.0) + normal_w * min(d, held_s)) / 3.6e6


def _debounce_check(item, inj, bench, timebase, links, rec,
                    counts: Mapping[int, int] | None) -> None:
    """Two dips shorter than the debounce with a gap between: no voltage loss may be counted
    (a meter that does not cancel its timer when the condition clears counts one). `counts`:
    the count the event's checks read at their end, just before (nothing happens between);
    None: read here."""
    dip = DIP_FRACTION * item.debounce_s
    gap = GAP_FRACTION * item.debounce_s
    e = inj.logs[0][1]
    address = f"C.60.{e}"
    before = (dict(counts) if counts is not None
              else each(links, lambda link: _log(link.read(address), e)[0]))
    for k in range(2):
        bench.energise(inj.fault)
        timebase.dwell(dip, label=f"short dip {k + 1}")
        bench.energise(inj.normal)
        timebase.dwell(gap if k == 0 else item.debounce_s + READ_MARGIN_S, label="restored")
    after = each(links, lambda link: _log(link.read(address), e)[0])
    for n in links:
        added = after[n] - before[n]
        rec.record(n, DEBOUNCE_CHECK, "voltage losses counted",
                   float(added), "events", 0.0, 0.0,
                   raw={"dip_s": dip, "gap_s": gap, "debounce_s": item.debounce_s},
                   message="" if added == 0 else
                   f"{added} voltage loss(es) counted for two {dip:.0f} s dips {gap:.0f} s "
                   f"apart: the {item.debounce_s:g} s debounce timer is not cancelled when "
                   "the voltage returns")


class _Rows:
    """The measurements of one event test (one per checked quantity and position)."""

    def __init__(self, take: Take, descs: dict[str, dict], item: EventsItem) -> None:
        self.take, self.descs, self.item = take, descs, item

    def record(self, n: int, check: str, quantity: str, value: float | None, unit: str,
               low: float | None, high: float | None, *, budget=None, raw=None,
               message: str = "") -> None:
        self.take.record(
            n, self.descs[check], quantity, value, unit, limit_low=low, limit_high=high,
            budget=budget, raw={**(raw or {}), "limit_confidence": self.item.confidence},
            message=message)

    def log(self, n: int, name: str, before: tuple[int, float], after: tuple[int, float],
            stamps: tuple[float | None, float | None], clock: ClockReading, t_on: float,
            t_off: float) -> None:
        item, tol, d = self.item, self.item.timestamp_tolerance_s, self.item.debounce_s
        added = after[0] - before[0]
        applied = (f"{item.event} on {item.phase} applied {_meter_time(t_on, clock)} to "
                   f"{_meter_time(t_off, clock)} meter time")
        self.record(n, f"{name}: count", f"{name} count increase", float(added), "events",
                    1.0, 1.0, raw={"before": before[0], "after": after[0]},
                    message="" if added == 1 else
                    f"{applied}: {name} count {before[0]} before, {after[0]} read "
                    f"{item.debounce_s + READ_MARGIN_S:g} s after the end, expected "
                    f"{before[0] + 1}")
        expected_duration = t_off - t_on  # start and end both confirmed after d
        duration = after[1] - before[1]
        self.record(n, f"{name}: duration", f"{name} duration error",
                    duration - expected_duration, "s", -tol, tol,
                    budget=combine([rectangular("duration display", 0.5,
                                                note="whole seconds")]),
                    raw={"meter_s": duration, "injected_s": expected_duration,
                         "debounce_s": d},
                    message="" if abs(duration - expected_duration) <= tol else
                    f"meter {duration:.0f} s for a fault of {expected_duration:.1f} s "
                    f"(debounce {d:g} s at both ends)")
        # A stamp shows the whole second it falls in: its centre is the estimate.
        budget = combine([rectangular("stamp resolution", 0.5, note="whole seconds"),
                          rectangular("clock offset", clock.half_width_s)])
        for which, stamp, edge in (("start", stamps[0], t_on), ("stop", stamps[1], t_off)):
            expected = edge + d + clock.offset_s
            error = None if stamp is None else stamp + 0.5 - expected
            self.record(n, f"{name}: {which} stamp", f"{name} {which} stamp error", error, "s",
                        -tol, tol, budget=budget,
                        raw={"stamp_meter_s": stamp, "expected_meter_s": expected,
                             "clock_offset_s": clock.offset_s, "debounce_s": d},
                        message="" if error is not None and abs(error) <= tol else
                        f"no {which} stamp" if error is None else
                        f"{which} stamped {error:+.1f} s from the fault edge + {d:g} s")

    def energy(self, n: int, got: float, expected: float) -> None:
        allowance = ENERGY_DIGIT_KWH + CLASS_LIMIT_PCT / 100.0 * expected
        self.record(n, "energy during the event", "phase import energy during the event error",
                    got - expected, "kWh", -allowance, allowance,
                    budget=combine([rectangular("reading before", ENERGY_DIGIT_KWH / 2),
                                    rectangular("reading after", ENERGY_DIGIT_KWH / 2)]),
                    raw={"meter_kwh": got, "source_kwh": expected},
                    message="" if abs(got - expected) <= allowance else
                    f"meter booked {got:.2f} kWh to the event, the source delivered "
                    f"{expected:.4f} kWh on the phase")

    def bit(self, n: int, check: str, byte: int | None, bit: int, want: bool) -> None:
        shown = None if byte is None else float(bool(byte & bit))
        self.record(n, check, f"ERR 1 {BIT_NAMES[bit]} bit", shown, "bit",
                    float(want), float(want),
                    raw={"err1": None if byte is None else f"{byte:08b}", "bit": f"{bit:08b}"},
                    message="" if shown == float(want) else
                    "F.F.1 not read" if shown is None else
                    f"F.F.1 = {byte:08b}: {BIT_NAMES[bit]} bit "
                    + ("missing while the condition lasts" if want else
                       "still set after the condition ended"))
