"""Automatic monthly reading (billing) and its history (A1000 manual 1.5, 3.2.2; standards.md 6.8).

Method, all positions at once, for each of the item's `months`:

1. The load (balanced, In, PF 1) runs for LOAD_S, so the energy registers move and a demand is
   recorded; then voltage only.
2. The meter clock is set (W1 0.9.2 date, 0.9.1 time, programming state + P1) to LEAD_S before
   the next reading time of the item's day/hour (written to 1-1:0.8.6 DDhh at the start). The
   date and time are separate commands: their order is chosen so that no intermediate clock
   reading steps forward over a reading time (that would be a reading at the setting). The
   clock's offset then follows from the setting (`set_clocks`), to a second or two: enough to
   time the reads below, 30 s either side of the reading time; it is not read.
3. Just before the reading time the registers are read: 0.1.0 (billing counter VZ), 1-1:1.8.0..4
   (active import total and tariffs), 1-1:1.6.0 (maximum demand).
4. Past the reading time: the counter must have advanced by one, 1-1:1.8.x*101 must equal the
   registers read before (within one register digit), 1-1:1.6.0*101 the maximum before, the
   maximum must be reset (1-1:1.6.0 = 0) and 0.1.2*101 must be the reading time.

The last month's reading time falls in a power-down: the source is switched off across it, as
on a lab bench. The meter must read at power-up (time stamp = the power-up minute), once; a
meter that skips the reading fails the counter, history and stamp checks of that month.

After the last month the whole history is read: with more months than the HISTORY_DEPTH
records it keeps, 1-1:1.8.0*1nn must be the register before the nn-th last reading for every
nn = 1..16 (the records filled, then the oldest overwritten) and 0.1.1 must show 16.

A read that fails (no answer, a garbled value) fails that month's checks at that position with
the reason and the time, and the next month goes on.

Each month's checks are committed together. A resumed run (--resume) measures only the months
still missing; the history check then compares the records of this session's readings, and
0.1.1 must show the records the meter held at the start (0.1.1 read then) plus those readings.

At the end the clock is set back to true time + the offset it had at the start, and the
reading day/hour to what it was.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from reports.records import Verdict
from rig.instruments.loadpoint import LoadPoint
from rig.linetime import clock_reading_s, programming_s, read_s
from rig.loads import Rating, active_point
from rig.measure import settle
from rig.meterlink import (
    MeterLink,
    MeterReadError,
    MeterSessions,
    clock_offsets,
    each,
    kept_errors,
    meter_datetime,
    meter_seconds,
)
from rig.plan import BillingItem
from rig.procedures import Context, Declared
from rig.recorder import Recorder, Take
from rig.session import MeterPosition
from rig.timebase import Timebase

SETTLING_S = 5.0
CLOCK_STEP_S = 0.1
LOAD_S = 60.0  # load per month: energy registers move, a demand is recorded
LOAD_IN = 1.0  # multiple of In, PF 1
LEAD_S = 150.0  # the clock is set this long before the reading time
PRE_READ_S = 30.0  # registers read this long before the reading time
POWER_OFF_S = 20.0  # power-down month: the source goes off this long before it ...
POWER_UP_S = 150.0  # ... and back on this long after it (30 s into a minute)
AFTER_S = 30.0  # history read this long after the reading time (or after power-up)
STAMP_RESOLUTION_S = 60.0  # 0.1.2 stamps are YYMMDDhhmm (standards.md 6.8)
DEMAND_DIGIT_KW = 1e-4  # A1000 manual 1.2 item 1: 0..99.9999 kW
VZ_MODULO = 100  # standards.md 6.8: the billing counter runs 0..99
ENERGY = tuple(f"1-1:1.8.{t}" for t in range(5))  # total and tariffs 1..4 (manual 1.1 item 4)
MAX_DEMAND = "1-1:1.6.0"
DAY = 86400.0
HISTORY_DEPTH = 16  # A1000 manual 1.5 item 3: the last 16 readings are kept (*101..*116)
CHECKS = ("counter", "history energy", "history demand", "demand reset", "time stamp")


def reading_time(year: int, month: int, item: BillingItem) -> float:
    return (dt.datetime(year, month, item.day, item.hour) - dt.datetime(1970, 1, 1)).total_seconds()


def next_reading_time(after_s: float, item: BillingItem) -> float:
    """The first reading time (meter seconds) strictly after `after_s`."""
    d = meter_datetime(after_s)
    year, month = d.year, d.month
    while True:
        t = reading_time(year, month, item)
        if t > after_s:
            return t
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def clock_writes(old_s: float, target_s: float, item: BillingItem) -> list[tuple[str, list[str]]]:
    """W1 0.9.2/0.9.1 writes taking the clock from `old_s` to `target_s` without any
    intermediate reading stepping forward over a reading time (a forward setting over it makes
    the meter read at the setting, billing.py / manual 1.5)."""

    def date(s: float) -> tuple[str, list[str]]:
        return ("0.9.2", [meter_datetime(s).strftime("%y%m%d")])

    def tod(s: float) -> tuple[str, list[str]]:
        return ("0.9.1", [meter_datetime(s).strftime("%H%M%S")])

    candidates = [
        [date(target_s), tod(target_s)],
        [tod(target_s), date(target_s)],
        [date(target_s - DAY), tod(target_s), date(target_s)],
    ]
    for writes in candidates:
        state = meter_datetime(old_s)
        safe = True
        for address, (value,) in writes:
            new = (
                dt.datetime.strptime(value + state.strftime("%H%M%S"), "%y%m%d%H%M%S")
                if address == "0.9.2"
                else dt.datetime.strptime(state.strftime("%y%m%d") + value, "%y%m%d%H%M%S")
            )
            a = (state - dt.datetime(1970, 1, 1)).total_seconds()
            b = (new - dt.datetime(1970, 1, 1)).total_seconds()
            if b > a and next_reading_time(a, item) <= b:
                safe = False
                break
            state = new
        if safe:
            return writes
    raise AssertionError(
        f"no order of date/time writes takes the clock from {meter_datetime(old_s)} to "
        f"{meter_datetime(target_s)} without stepping over a reading time"
    )


def set_clocks(
    rig,
    positions: Sequence[MeterPosition],
    links: Mapping[int, MeterLink],
    timebase: Timebase,
    target_of: Callable[[float], float],
    offsets: Mapping[int, float],
    item: BillingItem,
    extra: Mapping[int, Sequence[tuple[str, list[str]]]] | None = None,
) -> dict[int, tuple[float, float]]:
    """Set the clocks of `positions` to `target_of(true now)`, at a moment that makes it whole
    seconds (the clock is written to the second), in one programming state with the writes
    going to every meter at once; `offsets[n]` = meter - true before the setting, `extra[n]`
    more writes for position n in the same session.

    Returns the bracket of each clock's offset (meter - true) after the setting: the meter
    shows the target second from the instant it takes the time write, between the writes going
    out (t0) and their end (t1), and within that second at its own sub-second phase, so the
    offset lies in [target - t1, target + 1 - t0] (a few seconds wide at real line timing)."""
    with rig.programming(*positions):
        target = target_of(timebase.now())
        if target != math.floor(target):
            timebase.dwell(math.ceil(target) - target, label="whole second")
            target = float(round(target_of(timebase.now())))
        now = timebase.now()

        def write(link: MeterLink) -> None:
            old = now + offsets[link.number]
            more = (extra or {}).get(link.number, ())
            link.write([*clock_writes(old, target, item), *more])

        each({p.number: links[p.number] for p in positions}, write)
        written = timebase.now()
    return {p.number: (target - written, target + 1.0 - now) for p in positions}


class ValueUnreadable(ValueError):
    """A value the meter answered is not what its address holds (names address and text)."""


def _decimal(reading, what: str) -> Decimal:
    if reading.value is None:
        raise ValueUnreadable(f"{what}({reading.raw}) is not a number")
    return reading.value


def _digit(reading) -> float:
    return 10.0 ** -len(reading.values[0].value.partition(".")[2])


def stamp_seconds(text: str) -> float | None:
    if not text.strip("0"):
        return None
    return meter_seconds(text[:6], text[6:10] + "00")


@dataclass(frozen=True)
class AutomaticReading:
    """The item's months of readings (the last across a power-down), then the history; each
    month committed on its own, per position."""

    item: BillingItem
    rating: Rating

    @property
    def declared(self) -> tuple[Declared, ...]:
        clause = self.item.clause
        unread = "none: the read failed (the record states why)"
        return (
            *(Declared(f"billing {c}", "", clause, rule=unread) for c in CHECKS),
            Declared("billing counter 0.1.0 advance", "", clause, limit_low=1.0, limit_high=1.0),
            Declared("history *101 minus register before the reading", "kWh", clause,
                     rule="+-one register digit (the register's decimals)"),
            Declared("maximum demand *101 minus maximum before", "kW", clause,
                     limit_low=-DEMAND_DIGIT_KW, limit_high=DEMAND_DIGIT_KW),
            Declared("maximum demand after the reading", "kW", clause,
                     limit_low=0.0, limit_high=0.0),
            Declared("reading time stamp 0.1.2*101 minus expected", "s", clause,
                     limit_low=-STAMP_RESOLUTION_S / 2, limit_high=STAMP_RESOLUTION_S / 2),
            Declared("history records", "", clause, rule=unread),
            Declared("available periods", "", clause, rule=unread),
            Declared("history records not matching their reading", "records", clause,
                     limit_low=0.0, limit_high=0.0),
            Declared("available billing periods 0.1.1", "periods", clause,
                     rule=f"the records held before plus the readings, at most {HISTORY_DEPTH}"),
        )

    def descs(self) -> tuple[dict[tuple[int, str], dict], dict, dict]:
        """Each month's checks, the history records check and the depth check."""
        item = self.item
        power_down_month = item.months - 1
        descs = {
            (m, c): {
                "month": m + 1,
                "reading": "power-down" if m == power_down_month else "on time",
                "check": c,
            }
            for m in range(item.months)
            for c in CHECKS
        }
        history_desc = {"months": item.months, "check": "history records *101..*116"}
        depth_desc = {"months": item.months, "check": "available billing periods 0.1.1"}
        return descs, history_desc, depth_desc

    def points(self) -> list[dict[str, Any]]:
        descs, history_desc, depth_desc = self.descs()
        return [*descs.values(), history_desc, depth_desc]

    def run(self, ctx: Context, recorder: Recorder) -> None:
        _automatic_reading(self, ctx, recorder)

    def planned_seconds(self) -> float:
        """Settling, the clock reading, the settings read in its session and the reading time
        written; per month the load, the clock set LEAD_S before the reading time (in block
        demand mode, the meter's default), the reading, AFTER_S, the registers read (the
        power-down month powers up POWER_UP_S after the reading time); the history read; the
        clock (date and time) and the reading time set back (one position: each is set back
        on its own)."""
        month = (LOAD_S + programming_s(2) + LEAD_S
                 + AFTER_S + read_s(3 + len(ENERGY)))
        return (SETTLING_S + clock_reading_s(CLOCK_STEP_S, reads=4) + programming_s(1)
                + self.item.months * month + POWER_UP_S + read_s(1 + HISTORY_DEPTH)
                + programming_s(3))


def _automatic_reading(procedure: AutomaticReading, ctx: Context, recorder: Recorder) -> None:
    """The module's method at every position."""
    item = procedure.item
    rig, bench, timebase, positions, numbers = (ctx.rig, ctx.bench, ctx.timebase,
                                                ctx.positions, ctx.numbers)
    power_down_month = item.months - 1
    descs, history_desc, depth_desc = procedure.descs()
    all_descs = procedure.points()
    # Each month's checks are committed together: a resumed run measures only the months (and
    # records only the positions' checks) still missing; the stored ones stand.
    todo = {n: recorder.todo([n], all_descs) for n in numbers}
    if not any(todo.values()):
        recorder.verdicts()
        return

    rating = procedure.rating
    voltage_only = LoadPoint.voltage_only(rating.un)
    load = active_point(rating, LOAD_IN, "1")
    links = {p.number: rig.link(p) for p in positions}
    by_number = {p.number: p for p in positions}
    settle(bench, timebase, voltage_only, SETTLING_S)
    # The settings and the records held are read in the session of the clock polls.
    with MeterSessions(links) as sessions:
        clocks = clock_offsets(links, timebase, CLOCK_STEP_S, sessions)
        setup = sessions.read("1-1:0.8.6", "1-1:0.8.0", "C.50.0", "0.1.1")
    original = {n: c.offset_s for n, c in clocks.items()}
    offsets = dict(original)
    old_reading_time = {n: r["1-1:0.8.6"].values[0].value for n, r in setup.items()}
    # Records the meter held before this session's first reading (an earlier session of a
    # resumed run, or readings before the test): the history depth counts on from them.
    held_before = {n: int(r["0.1.1"].value or 0) for n, r in setup.items()}
    # A rolling window keeps the load of the last cycle: then the lead must flush it, so no
    # demand is evaluated with energy at the reading time itself.
    lead = LEAD_S + max(
        int(r["1-1:0.8.0"].value or 0) * 60.0
        if r["C.50.0"].values[0].value.upper() == "ROLLING"
        else 0.0
        for r in setup.values()
    )
    started = time.time()
    # Each month's record 1-1:1.8.0*101 read right after its reading, oldest first (None: not
    # read): the history must shift these, unchanged, towards *116.
    t0 = timebase.now()
    registers: dict[int, list[Decimal | None]] = {n: [] for n in numbers}
    try:
        with rig.programming(*positions):
            each(links, lambda link: link.write(
                [("1-1:0.8.6", [f"{item.day:02d}{item.hour:02d}"])]))
        rt = next_reading_time(timebase.now() + offsets[numbers[0]] + DAY, item)
        for m in range(item.months):
            month_todo = {n: {c: descs[(m, c)] for c in CHECKS if descs[(m, c)] in todo[n]}
                          for n in numbers}
            if not any(month_todo.values()):
                continue  # measured in an earlier session of this run
            take = recorder.start(numbers, descs[(m, "counter")])
            bench.energise(load)
            timebase.dwell(LOAD_S, label="load")
            bench.energise(voltage_only)
            brackets = set_clocks(rig, positions, links, timebase,
                                  lambda _now, t=rt - lead: t, offsets, item)
            offsets = {n: (lo + hi) / 2 for n, (lo, hi) in brackets.items()}
            true_rt = {n: rt - offsets[n] for n in numbers}
            timebase.dwell(
                max(0.0, min(true_rt.values()) - PRE_READ_S - timebase.now()),
                label="to the reading time",
            )
            pre_at = timebase.now()
            pre = each(links, kept_errors(
                lambda link: link.read("0.1.0", *ENERGY, MAX_DEMAND)))
            expected = dict.fromkeys(numbers, rt)
            up = None
            if m == power_down_month:
                timebase.dwell(
                    max(0.0, min(true_rt.values()) - POWER_OFF_S - timebase.now()),
                    label="to the power-down",
                )
                bench.de_energise()
                up = true_rt[numbers[0]] + POWER_UP_S
                timebase.dwell(
                    max(0.0, max(up, max(true_rt.values()) + 1.0) - timebase.now()),
                    label="power-down over the reading time",
                )
                up = timebase.now()
                bench.energise(voltage_only)
                # The healthy meter reads at power-up, stamped with the power-up minute.
                expected = {n: math.floor((up + offsets[n]) / 60.0) * 60.0 for n in numbers}
                timebase.dwell(AFTER_S, label="after power-up")
            else:
                timebase.dwell(
                    max(0.0, max(true_rt.values()) + AFTER_S - timebase.now()),
                    label="past the reading time",
                )
            post_at = timebase.now()
            post = each(links, kept_errors(lambda link: link.read(
                "0.1.0",
                "0.1.2*101",
                *(f"{a}*101" for a in ENERGY),
                f"{MAX_DEMAND}*101",
                MAX_DEMAND,
            )))
            for n in numbers:
                registers[n].append(None if isinstance(post[n], MeterReadError)
                                    else post[n][f"{ENERGY[0]}*101"].value)
            month = _Month(rt, expected_stamp=0.0, power_up=None if up is None else up - t0,
                           pre_at=pre_at - t0, post_at=post_at - t0)
            for n in numbers:
                _record_month(take, n, month_todo[n], pre[n], post[n],
                              replace(month, expected_stamp=expected[n]), started)
            take.commit()  # every position's results of the month in one commit
            rt = next_reading_time(rt + DAY, item)
        history_at = timebase.now()
        history = each(links, kept_errors(lambda link: link.read(
            "0.1.1", *(f"{ENERGY[0]}*{100 + k}" for k in range(1, HISTORY_DEPTH + 1)))))
        take = recorder.start(numbers)
        for n in numbers:
            wanted = {w: d for w, d in (("records", history_desc), ("depth", depth_desc))
                      if d in todo[n]}
            _record_history(take, n, wanted, history[n], registers[n], held_before[n],
                            history_at - t0, started)
        take.commit()
    finally:
        bench.energise(voltage_only)
        # One meter at a time: each goes back to its own offset, to the whole second.
        for n in numbers:
            set_clocks(
                rig,
                [by_number[n]],
                links,
                timebase,
                lambda now, n=n: now + original[n],
                offsets,
                item,
                extra={n: [("1-1:0.8.6", [old_reading_time[n]])]},
            )
    recorder.verdicts()


@dataclass(frozen=True)
class _Month:
    """One month's reading: its time (meter seconds), the stamp expected, the power-up and when
    the registers were read (bench seconds since the test began; None: no power-down)."""

    reading_time: float
    expected_stamp: float
    power_up: float | None
    pre_at: float
    post_at: float

    def applied(self) -> str:
        when = meter_datetime(self.reading_time).strftime("%y%m%d%H%M")
        if self.power_up is None:
            return f"reading time {when}"
        return f"reading time {when} inside a power-down (power back at {self.power_up:.0f} s)"

    def reads(self) -> str:
        return f"registers read at {self.pre_at:.0f} s and {self.post_at:.0f} s into the test"


def _record_month(take: Take, n, descs, pre, post, month: _Month, started: float) -> None:
    """The checks of one month's reading at one position (`descs`: check -> point, the five
    of CHECKS less those an earlier session of the run recorded)."""
    failed = next((r for r in (pre, post) if isinstance(r, MeterReadError)), None)
    if failed is not None:
        for c, d in descs.items():
            take.record(n, d, f"billing {c}", None, "", limit_low=None, limit_high=None,
                        started_at=started, verdict=Verdict.ERROR,
                        message=f"{month.applied()}: {month.reads()}: {failed}")
        return
    for check, desc in descs.items():
        try:
            _MONTH_CHECKS[check](take, n, desc, pre, post, month, started)
        except ValueUnreadable as exc:
            take.record(
                n, descs[check], f"billing {check}", None, "", limit_low=None, limit_high=None,
                started_at=started, verdict=Verdict.ERROR,
                message=f"{month.applied()}: {month.reads()}: {exc}")


def _counter(take: Take, n, desc, pre, post, month, started) -> None:
    before = int(_decimal(pre["0.1.0"], "0.1.0"))
    after = int(_decimal(post["0.1.0"], "0.1.0"))
    advance = (after - before) % VZ_MODULO
    take.record(
        n, desc, "billing counter 0.1.0 advance", float(advance), "",
        limit_low=1.0, limit_high=1.0, raw={"before": before, "after": after},
        started_at=started,
        message="" if advance == 1 else
        f"{month.applied()}: counter 0.1.0 {before:02d} before, {after:02d} after, expected "
        f"{(before + 1) % VZ_MODULO:02d} ({month.reads()}): "
        + ("no reading was made" if advance == 0 else f"{advance} readings were made"),
    )


def _history_energy(take: Take, n, desc, pre, post, month, started) -> None:
    deviations = {}
    frozen = {}
    digit = 0.0
    for address in ENERGY:
        frozen[address] = _decimal(post[f"{address}*101"], f"{address}*101")
        register = _decimal(pre[address], address)
        deviations[address] = float(frozen[address] - register)
        digit = max(digit, _digit(pre[address]))
    worst_at = max(deviations, key=lambda a: abs(deviations[a]))
    worst = deviations[worst_at]
    take.record(
        n, desc, "history *101 minus register before the reading", worst, "kWh",
        limit_low=-digit, limit_high=digit,
        raw={"deviations_kwh": deviations, "digit_kwh": digit}, started_at=started,
        message="" if abs(worst) <= digit else
        f"{month.applied()}: {worst_at}*101 = {frozen[worst_at]} kWh, expected "
        f"{pre[worst_at].value} kWh (the register before the reading; {month.reads()})",
    )


def _history_demand(take: Take, n, desc, pre, post, month, started) -> None:
    max_before = float(_decimal(pre[MAX_DEMAND], MAX_DEMAND))
    max_frozen = float(_decimal(post[f"{MAX_DEMAND}*101"], f"{MAX_DEMAND}*101"))
    take.record(
        n, desc, "maximum demand *101 minus maximum before", max_frozen - max_before, "kW",
        limit_low=-DEMAND_DIGIT_KW, limit_high=DEMAND_DIGIT_KW,
        raw={"before_kw": max_before, "frozen_kw": max_frozen}, started_at=started,
        message="" if abs(max_frozen - max_before) <= DEMAND_DIGIT_KW else
        f"{month.applied()}: 1-1:1.6.0*101 = {max_frozen:.4f} kW, expected the maximum "
        f"{max_before:.4f} kW read before the reading ({month.reads()})",
    )


def _demand_reset(take: Take, n, desc, pre, post, month, started) -> None:
    max_before = float(_decimal(pre[MAX_DEMAND], MAX_DEMAND))
    max_after = float(_decimal(post[MAX_DEMAND], MAX_DEMAND))
    take.record(
        n, desc, "maximum demand after the reading", max_after, "kW",
        limit_low=0.0, limit_high=0.0, raw={"before_kw": max_before, "after_kw": max_after},
        started_at=started,
        message="" if max_after == 0.0 else
        f"{month.applied()}: 1-1:1.6.0 = {max_after:.4f} kW after the reading, expected 0 "
        f"(reset, manual 1.5 item 3; {max_before:.4f} kW before; {month.reads()})",
    )


def _time_stamp(take: Take, n, desc, pre, post, month, started) -> None:
    del pre
    stamp = post["0.1.2*101"].values[0].value
    stamp_s = stamp_seconds(stamp)
    deviation = None if stamp_s is None else stamp_s - month.expected_stamp
    half = STAMP_RESOLUTION_S / 2
    expected = meter_datetime(month.expected_stamp).strftime("%y%m%d%H%M")
    take.record(
        n, desc, "reading time stamp 0.1.2*101 minus expected", deviation, "s",
        limit_low=-half, limit_high=half, raw={"stamp": stamp, "expected": expected},
        started_at=started,
        message="" if deviation is not None and abs(deviation) <= half else
        f"{month.applied()}: 0.1.2*101 = {stamp}, expected {expected} ({month.reads()})",
    )


_MONTH_CHECKS = {"counter": _counter, "history energy": _history_energy,
                 "history demand": _history_demand, "demand reset": _demand_reset,
                 "time stamp": _time_stamp}
assert tuple(_MONTH_CHECKS) == CHECKS


def _record_history(take: Take, n, descs, history, registers, held_before, read_at,
                    started) -> None:
    """After more readings than the history holds: *1nn is the record *101 read right after the
    nn-th last reading of this session, unchanged, for every record (filled, then the oldest
    overwritten), and 0.1.1 shows the records held before this session plus its readings, at
    most HISTORY_DEPTH. `descs`: "records"/"depth" -> point, less those recorded before."""
    compared = min(len(registers), HISTORY_DEPTH)
    expected_depth = min(held_before + len(registers), HISTORY_DEPTH)
    if isinstance(history, MeterReadError):
        quantity = {"records": "history records", "depth": "available periods"}
        for what, d in descs.items():
            take.record(n, d, quantity[what], None, "", limit_low=None, limit_high=None,
                        started_at=started, verdict=Verdict.ERROR,
                        message=f"history read at {read_at:.0f} s: {history}")
        return
    if "records" in descs:
        wrong = {}
        for k in range(1, compared + 1):
            want = registers[-k]
            got = history[f"{ENERGY[0]}*{100 + k}"].value
            if want is None or got is None or got != want:
                wrong[f"*{100 + k}"] = f"{got} (expected {want})"
        take.record(
            n, descs["records"], "history records not matching their reading",
            float(len(wrong)), "records", limit_low=0.0, limit_high=0.0,
            raw={"wrong": wrong, "readings": len(registers), "compared": compared},
            started_at=started,
            message="" if not wrong else
            f"after {len(registers)} readings, {ENERGY[0]} records read at {read_at:.0f} s: "
            + ", ".join(f"{k} = {v}" for k, v in list(wrong.items())[:6]))
    if "depth" in descs:
        depth = history["0.1.1"].value
        take.record(
            n, descs["depth"], "available billing periods 0.1.1",
            None if depth is None else float(depth), "periods",
            limit_low=float(expected_depth), limit_high=float(expected_depth),
            raw={"readings": len(registers), "held_before": held_before}, started_at=started,
            message="" if depth is not None and int(depth) == expected_depth else
            f"after {len(registers)} readings ({held_before} records held before) 0.1.1 = "
            f"{history['0.1.1'].raw}, expected {expected_depth} (manual 1.5 item 3: "
            f"{HISTORY_DEPTH} kept)")
