"""Time-of-use switching: the delay of a tariff switch (A1000 manual 3.2.4: less than 0.1 s)
and the holiday > weekend > season priority with its calendar cases (manual 1.4 items 2-9).

Switch delay, method (standards.md 4.3 item 3, at real line timing): one R1 of the tariff in
force (C.14.0) is an exchange of about 0.43 s at 9600 Bd with tr = 200 ms, four times the
limit, so one boundary polled as fast as the line allows brackets the delay only to 0.43 s.
A vernier over several boundaries does better: the meter clock's offset is bracketed first
(`rig.meterlink.clock_offsets`, 0.02 s), daily profiles with boundaries one minute apart are
written in turn (tariff 1, 2, 1, ... : 9 boundaries a profile, its 10 sections at most,
manual 1.4 item 7) until the item's `boundaries` are done, and around each boundary the
tariff is polled a line exchange apart, the polls of boundary i starting i/K of an exchange
later in the boundary's phase than those of boundary 0. Each poll says whether the switch
had come by then; intersected, the polls bracket the delay to one exchange / K (0.024 s for
K = 18), which is the resolution in the uncertainty budget with the
clock readings' brackets. The meter's latch instant within its answer is common to the clock
and the tariff polls and cancels (one character's time of difference is in the budget). The
clock is read again after the boundaries: the boundaries' true instants are interpolated
between the two readings, so a drifting clock does not bias the delay.

Priority, method: tables worked by hand (below) are written, the meter clock is set to a date
and time in turn and C.14.0 is read; the expected tariffs are the hand-worked calendar. The
tables and the clock are restored afterwards. All of it in one programming state and one
session a meter (rig.linesession.ProgrammingSessions): each date's tariff is read right after
its clock setting, as in a session of its own.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from meter.iec62056_21.readings import Reading
from reports.records import Verdict
from rig.instruments.loadpoint import LoadPoint
from rig.linesession import ProgrammingSessions
from rig.linetime import clock_reading_s, programming_s
from rig.loads import Rating
from rig.measure import settle
from rig.meterlink import (
    ClockReading,
    MeterLink,
    MeterReadError,
    MeterSessions,
    Probe,
    clock_offsets,
    dwell_until,
    each,
    kept_errors,
    meter_datetime,
)
from rig.metrology import combine, rectangular
from rig.plan import TOU_BOUNDARIES_PER_PROFILE, TouItem
from rig.procedures import Context, Declared, EachPoint
from rig.recorder import Recorder, Take
from rig.session import MeterPosition

TARIFF = "C.14.0"
TABLES = ("C.90.1", "C.90.2", "C.90.3", "C.90.4", "C.90.5", "C.90.6", "C.90.7")
SETTLING_S = 2.0
#: Per date of the priority check: the clock written (date and time), the tariff read, each an
#: exchange of the one session the check holds a meter in.
DATE_EXCHANGES = 2 + 1
#: The clock offset the priority check restores the clocks by, bracketed to this.
PRIORITY_CLOCK_S = 0.05
CLOCK_RESOLUTION_S = 0.02  # the clock readings the boundaries are placed by (vernier)
LEAD = dt.timedelta(minutes=2)  # clock reading, programming state (8 s) and writes fit in it
SESSION_LEAD_S = 5.0  # the poll sessions' sign-on (about 2 s at 300 Bd, rig.sim.line) fits in it
# The tariff poll's request is one character longer than the clock poll's, so the meter
# latches it one character time later: 10 bits at 9600 Bd (the A1000's speed, manual ident 5).
LATCH_DIFFERENCE_S = (len(TARIFF) - len("0.9.1")) * 10 / 9600
# Priority calendar (A1000 manual 1.4 items 2-9), worked by hand below:
# - P1 all day tariff 1; P2 and P3 have their first section after midnight, so the hours
#   before it belong to the day's last section (item 8: the end of the last section joins the
#   head of the first "so that uncertain time section will not occur in one day");
# - seasons (item 6) start on working days: Mon 2027-01-04 (P1), Tue 2026-12-01 (P2) and
#   Mon 2026-12-28 (P3); the last one runs over the year end into January (item 8: "or one
#   year") until the first season's start;
# - weekend Saturday and Sunday, fixed tariff 3 (items 3, 5);
# - holidays (item 4): Thu 2026-12-24 with P1, Sat 2026-12-26 (a holiday on a weekend) fixed 4.
PRIORITY_TABLES = {
    "C.90.1": ("00:00=1",),
    "C.90.2": ("06:00=2", "22:00=3"),
    "C.90.3": ("05:00=4", "20:00=1"),
    "C.90.5": ("01-04=P1", "12-01=P2", "12-28=P3"),
    "C.90.6": ("67", "T3"),
    "C.90.7": ("2026-12-24=P1", "2026-12-26=T4"),
}
# (meter date, meter time, tariff): holiday > weekend > season (item 2), then the profile.
EXPECTED = (
    # Mon, no holiday, not weekend; season 01-04 <= 11-30 < 12-01 -> P1 -> 1.
    ("2026-11-30", "12:00:30", 1),
    # Tue, season 12-01 starts today -> P2; 00:30 is before its first section (06:00): the
    # last section (22:00=3) wraps over midnight -> 3.
    ("2026-12-01", "00:30:30", 3),
    ("2026-12-01", "05:59:30", 3),  # still the wrap, one minute before the first section
    ("2026-12-01", "06:00:30", 2),  # P2 06:00=2
    ("2026-12-01", "22:00:30", 3),  # P2 22:00=3
    # Thu, holiday with P1 (beats the season's P2) -> 1.
    ("2026-12-24", "12:00:30", 1),
    # Sat, holiday T4 on a weekend day: the holiday beats the weekend's T3 -> 4.
    ("2026-12-26", "12:00:30", 4),
    # Sun, weekend -> T3 -> 3.
    ("2026-12-27", "12:00:30", 3),
    # Mon, season 12-28 starts today -> P3; 00:30 is before its first section (05:00): its
    # own last section (20:00=1) wraps, not yesterday's weekend T3 -> 1.
    ("2026-12-28", "00:30:30", 1),
    ("2026-12-28", "05:00:30", 4),  # P3 05:00=4
    # Thu, year's last day, season 12-28 -> P3, 23:59 is in 20:00=1 -> 1.
    ("2026-12-31", "23:59:30", 1),
    # Fri, new year (no holiday listed); 01-01 is before the first season (01-04), so the
    # last season (12-28=P3) runs on over the year end; 12:00 is in 05:00=4 -> 4 (P1: 1).
    ("2027-01-01", "12:00:30", 4),
    # Sat -> weekend T3 -> 3 (the P3 season would give 4).
    ("2027-01-02", "12:00:30", 3),
    # Mon, season 01-04 starts today -> P1 -> 1 (the P3 season would give 4).
    ("2027-01-04", "12:00:30", 1),
)


@contextmanager
def programmed(rig, positions: Sequence[MeterPosition], links: Mapping[int, MeterLink],
               tables: dict[str, tuple[str, ...]], *,
               held: ProgrammingSessions | None = None) -> Iterator[None]:
    """Write `tables` to every meter at once; afterwards restore each meter's previous tables.
    `held`: the block writes too (the clock): the caller holds the meters in the programming
    state and a session each (rig.linesession.ProgrammingSessions), in which the tables are
    read, written and written back; else the meters leave the programming state for the block
    and take it again to restore (the A1000 leaves it after 4 minutes without a button, manual
    2.1.1: shorter than the switch-delay check)."""
    if held is not None:
        before = each(links, lambda link: held.step(link, then_read=TABLES))
    else:
        before = each(links, lambda link: link.read(*TABLES))
    saved = {n: {a: tuple(v.value for v in r.values) for a, r in b.items()}
             for n, b in before.items()}

    def back(link: MeterLink) -> list[tuple[str, tuple[str, ...]]]:
        return [(a, v) for a, v in saved[link.number].items() if a in tables]

    if held is not None:
        each(links, lambda link: held.step(link, write=list(tables.items())))
        try:
            yield
        finally:
            each(links, lambda link: held.step(link, write=back(link)))
        return
    with rig.programming(*positions):
        each(links, lambda link: link.write(list(tables.items())))
    try:
        yield
    finally:
        with rig.programming(*positions):
            each(links, lambda link: link.write(back(link)))


def _tariff_of(reading: Reading) -> int:
    if reading.value is None:
        raise AssertionError(f"{TARIFF}({reading.raw}) is not a tariff number")
    return int(reading.value)


@dataclass(frozen=True)
class SwitchDelay(EachPoint):
    """Every position's tariff switch delay, bracketed over the item's boundaries."""

    item: TouItem
    rating: Rating

    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared("tariff switch delay", "s", self.item.clause,
                         rule=f"<= {self.item.limit_s:g} s after the boundary (manual 3.2.4), "
                         "not before it by more than half the bracket"),)

    def points(self) -> list[dict[str, Any]]:
        return [{"check": "switch_delay", "boundaries": self.item.boundaries}]

    def planned_seconds(self) -> float:
        """Settling, the clock read before and after; per daily profile written: LEAD, on
        average half a minute to the whole minute, one minute per further boundary, the polls
        after the last, the meter's tables written back."""
        item = self.item
        seconds = SETTLING_S + 2 * clock_reading_s(CLOCK_RESOLUTION_S)
        left = item.boundaries
        while left > 0:
            count = min(TOU_BOUNDARIES_PER_PROFILE, left)
            seconds += (LEAD.total_seconds() + 30.0 + (count - 1) * 60.0
                        + poll_window_s(item) + programming_s(len(TABLES)))
            left -= count
        return seconds

    def measure(self, ctx: Context, take: Take) -> None:
        item, rating = self.item, self.rating
        (desc,) = take.points
        settle(ctx.bench, ctx.timebase, LoadPoint.at(rating.un, rating.in_, item.current),
               SETTLING_S)
        _switch_all(ctx.rig, ctx.timebase, ctx.positions, item, take, desc, *self.declared)


@dataclass(frozen=True)
class Boundary:
    """One tariff boundary of the switch-delay profile, in meter time."""

    meter_s: float
    before: int
    after: int

    @property
    def text(self) -> str:
        return f"{meter_datetime(self.meter_s):%Y-%m-%d %H:%M}"


def boundaries_ahead(meter_now: dt.datetime, count: int) -> list[Boundary]:
    """`count` boundaries one minute apart, the first at least LEAD after `meter_now`, all in
    one meter day and none at 00:00 (the first section's start): tariff 1 from 00:00, then
    2, 1, 2, ... at each (10 sections at most: manual 1.4 item 7)."""
    first = (meter_now + LEAD).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    last = first + dt.timedelta(minutes=count - 1)
    if last.date() != first.date() or first.time() == dt.time(0, 0):
        first = dt.datetime.combine(last.date(), dt.time(0, 1))
    out = []
    for i in range(count):
        at = first + dt.timedelta(minutes=i)
        out.append(Boundary((at - dt.datetime(1970, 1, 1)).total_seconds(),
                            1 if i % 2 == 0 else 2, 2 if i % 2 == 0 else 1))
    return out


def poll_window_s(item: TouItem) -> float:
    """How long the polls go on after each boundary."""
    return max(2.0, 10 * item.limit_s)


def _switch_all(rig, timebase, positions, item, take: Take, desc, declared: Declared) -> None:
    """Every position's switch delay over `item.boundaries` boundaries, polled together.

    The vernier: around boundary i the polls are a line exchange (P, about 0.43 s) apart and
    start i*P/K later in the phase of the boundary than around boundary 0 (K boundaries, in
    daily profiles of up to 9, each written in turn and the meter's own restored after it).
    Each poll sent at true time s shows the old or the new tariff: with M(s) the meter clock
    at s (s + the offset against send instants, interpolated between the clock readings
    before and after), the delay D is > M(s) - B (old) or <= M(s) - B (new). Intersected over
    all boundaries they bracket D to about P/K (0.024 s for K = 18), the meter's latch
    instant cancelling (it is in M(s) and in the tariff poll alike). A meter whose switch
    instants disagree leaves no bracket: a failure stating the polls."""
    links = {p.number: rig.link(p) for p in positions}
    clock_before = clock_offsets(links, timebase, CLOCK_RESOLUTION_S)
    window = poll_window_s(item)
    polls: dict[int, list[tuple[int, Probe]]] = {n: [] for n in links}
    marks: list[Boundary] = []
    period = 0.0
    while len(marks) < item.boundaries:  # a profile of up to 9 boundaries at a time
        meter_now = meter_datetime(
            timebase.now() + min(c.sent_offset_s for c in clock_before.values()))
        batch = boundaries_ahead(
            meter_now, min(TOU_BOUNDARIES_PER_PROFILE, item.boundaries - len(marks)))
        profile = ("00:00=1", *(f"{meter_datetime(b.meter_s):%H:%M}={b.after}" for b in batch))
        tables = {"C.90.1": profile, "C.90.5": ("01-01=P1",), "C.90.6": ("", "T1"),
                  "C.90.7": ("",)}
        with programmed(rig, positions, links, tables):
            if not period:  # one exchange, the same for every boundary: the vernier's step
                with MeterSessions(links) as sessions:
                    first = sessions.read_timed(timebase, TARIFF)
                period = math.ceil(max(p.taken - p.sent for p in first.values()) * 1000) / 1000
            # The sessions open shortly before the first boundary, not across LEAD: a meter
            # ends a session silent for its inactivity time-out (60..120 s, standards.md 6.6).
            # Between boundaries a minute apart a session is silent less than that.
            first_poll = _poll_start(batch[0], len(marks), clock_before, period, item.boundaries)
            dwell_until(timebase, first_poll - SESSION_LEAD_S, "to boundary")
            with MeterSessions(links) as sessions:
                for mark in batch:
                    i = len(marks)
                    marks.append(mark)
                    start = _poll_start(mark, i, clock_before, period, item.boundaries)
                    end = max(mark.meter_s - c.sent_offset_s for c in clock_before.values()) \
                        + window
                    dwell_until(timebase, start - 0.01, "to boundary")
                    j = 0
                    while (t := start + j * period) <= end:
                        dwell_until(timebase, t, "tariff poll")
                        for n, probe in sessions.read_timed(timebase, TARIFF).items():
                            polls[n].append((i, probe))
                        j += 1
                        if all(ps[-1][0] == i and _tariff_of(ps[-1][1].reading) == mark.after
                               for ps in polls.values()):
                            break  # every meter has switched
    clock_after = clock_offsets(links, timebase, CLOCK_RESOLUTION_S)
    for n in links:
        _delay_row(declared, take, n, desc, item, marks, polls[n],
                   (clock_before[n], clock_after[n]))


def _poll_start(mark: Boundary, i: int, clocks: Mapping[int, ClockReading], period: float,
                boundaries: int) -> float:
    """True time of the first poll around boundary `i` (the vernier's staggered phases, see
    `_switch_all`): two exchanges before the earliest meter reaches it, i/K of one later."""
    true_at = min(mark.meter_s - c.sent_offset_s for c in clocks.values())
    return true_at - 2 * period + i * period / boundaries


def _delay_row(declared: Declared, take: Take, n, desc, item, marks, polls, clocks) -> None:
    """The record of one position's switch delay from its polls (see `_switch_all`)."""
    before, after = clocks
    span = after.true_time - before.true_time

    def meter_time(s: float) -> float:  # the meter clock at send instant s, interpolated
        w = (s - before.true_time) / span if span > 0 else 0.0
        return s + before.sent_offset_s + w * (after.sent_offset_s - before.sent_offset_s)

    lo, hi = -math.inf, math.inf
    facts = []
    for i, mark in enumerate(marks):
        mine = [p for k, p in polls if k == i]
        shown = [_tariff_of(p.reading) for p in mine]
        odd = sorted({t for t in shown if t not in (mark.before, mark.after)})
        if odd:
            facts.append(f"tariff {odd} around the {mark.text} boundary "
                         f"(expected {mark.before} then {mark.after})")
        if mark.after not in shown:
            last = meter_time(mine[-1].sent) - mark.meter_s if mine else 0.0
            facts.append(f"no switch to tariff {mark.after} by {last:.2f} s after the "
                         f"{mark.text} boundary")
        for probe, tariff in zip(mine, shown, strict=True):
            since = meter_time(probe.sent) - mark.meter_s
            if tariff == mark.after:
                hi = min(hi, since)
            elif tariff == mark.before:
                lo = max(lo, since)
    width = hi - lo
    raw = {"boundaries": [m.text for m in marks], "polls": len(polls),
           "clock_offset_s": before.offset_s, "bracket_s": [lo, hi]}
    if facts or not width > 0:
        if not facts:
            facts.append(f"the {len(marks)} boundaries disagree: the switch came within "
                         f"{hi:.3f} s of one boundary but later than {lo:.3f} s of another")
        declared.record(take, n, desc, None, limits=(0.0, item.limit_s), raw=raw,
                        message="; ".join(facts))
        return
    delay = (lo + hi) / 2
    budget = combine([
        rectangular("vernier bracket", width / 2,
                    f"{len(polls)} polls around {len(marks)} boundaries"),
        rectangular("clock offset", max(before.resolution_s, after.resolution_s) / 2,
                    "meter clock at the send instants, interpolated between two readings"),
        rectangular("request length", LATCH_DIFFERENCE_S,
                    f"R1 {TARIFF}() is {len(TARIFF) - len('0.9.1')} character(s) longer than "
                    "R1 0.9.1() at 9600 Bd"),
    ])
    declared.record(
        take, n, desc, delay,
        # Not before the boundary, within the bracket: hi >= 0.
        limits=(-width / 2, item.limit_s), budget=budget,
        raw={**raw, "resolution_s": width},
        message=f"switch {delay * 1000:.0f} ms after the boundary (limit "
                f"{item.limit_s * 1000:.0f} ms, manual 3.2.4; bracket "
                f"{lo * 1000:.0f}..{hi * 1000:.0f} ms over {len(marks)} boundaries)",
    )


@dataclass(frozen=True)
class Priority:
    """The tariff in force at each date and time of the hand-worked calendar (EXPECTED); each
    committed on its own."""

    item: TouItem
    rating: Rating

    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared("tariff in force", "tariff", self.item.clause,
                         rule="the tariff of the hand-worked calendar at the date and time"),)

    def points(self) -> list[dict[str, Any]]:
        return [{"date": day, "time": clock} for day, clock, _ in EXPECTED]

    def planned_seconds(self) -> float:
        """Settling, the clock reading; then one programming state and one session a meter
        (after P1, one exchange each): the tables read and written, per date the clock set and
        the tariff read, the clock (date and time) and the tables written back."""
        exchanges = (len(TABLES) + 2 * len(PRIORITY_TABLES) + len(EXPECTED) * DATE_EXCHANGES
                     + 2)
        return SETTLING_S + clock_reading_s(PRIORITY_CLOCK_S) + programming_s(exchanges)

    def run(self, ctx: Context, recorder: Recorder) -> None:
        rating = self.rating
        rig, bench, timebase, positions, numbers = (ctx.rig, ctx.bench, ctx.timebase,
                                                    ctx.positions, ctx.numbers)
        (declared,) = self.declared
        settle(bench, timebase, LoadPoint.voltage_only(rating.un), SETTLING_S)
        started = time.time()
        links = {p.number: rig.link(p) for p in positions}
        offsets = {n: c.offset_s for n, c in clock_offsets(links, timebase,
                                                            PRIORITY_CLOCK_S).items()}
        descs = self.points()
        todo = recorder.todo(numbers, descs)
        # Every step in one session a meter, the programming state held throughout: the
        # tables read and written, each date's clock setting with the tariff read after it,
        # the clock and the tables written back (rig.linesession.ProgrammingSessions).
        with rig.programming(*positions), ProgrammingSessions(links) as held, \
                programmed(rig, positions, links, PRIORITY_TABLES, held=held):
            try:
                for desc, (day, clock, expected) in zip(descs, EXPECTED, strict=True):
                    if desc not in todo:
                        continue  # stored by an earlier session of this run
                    with recorder.point(numbers, desc) as take:
                        at = [("0.9.2", (day[2:].replace("-", ""),)),
                              ("0.9.1", (clock.replace(":", ""),))]
                        got = each(links, kept_errors(lambda link, at=at: int(link.numeric(
                            held.step(link, write=at, then_read=(TARIFF,)), TARIFF))))
                        weekday = f"{dt.date.fromisoformat(day):%A}"
                        for n, tariff in got.items():
                            if isinstance(tariff, MeterReadError):
                                declared.record(
                                    take, n, desc, None,
                                    limits=(float(expected), float(expected)),
                                    started_at=started, verdict=Verdict.ERROR,
                                    raw={"expected": expected},
                                    message=f"{day} ({weekday}) {clock}: the clock set, the "
                                            f"tariff read: {tariff}")
                                continue
                            declared.record(
                                take, n, desc, float(tariff),
                                limits=(float(expected), float(expected)),
                                started_at=started, raw={"expected": expected},
                                message=f"{day} ({weekday}) {clock}: tariff {tariff}, "
                                        f"expected {expected}",
                            )
            finally:
                # Back to true time plus each meter's own offset (to the second). The time is
                # read once, before the parallel writes: read in each position's thread it was
                # dated by how far the other lines had got (the machine's scheduling), and the
                # store comparison's clock rows differed by it (tests/reports/
                # test_store_backends.py).
                now = timebase.now()

                def restore(link: MeterLink) -> None:
                    back = meter_datetime(now + offsets[link.number])
                    held.step(link, write=[("0.9.2", (f"{back:%y%m%d}",)),
                                           ("0.9.1", (f"{back:%H%M%S}",))])

                each(links, restore)
        recorder.verdicts()
