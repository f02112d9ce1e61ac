"""Putting one tariff in force on the meters under test, for register and demand tests by tariff.

The A1000 calendar (manual 1.4 items 4-9) chooses the tariff by holiday > weekend > season; a
season, weekend or holiday may name a fixed tariff instead of a daily profile (`T<n>`). Writing
one season from Jan 1 at tariff k, no weekend days and no holidays puts tariff k in force all
year. The tables each meter had are read first and written back afterwards, in the programming
state (rig.session.RigSession.programming: the reset button held, then P1): once after a series
of tariff tests, not after each (`tariff_in_force`, `write_back`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from meter.iec62056_21.readings import Reading
from rig.hands import positions_text
from rig.linesession import read_by_readout
from rig.linetime import programming_s, read_s
from rig.meterlink import MeterLink, each

#: The tariff in force (manual 1.4; standards.md 4.3).
TARIFF = "C.14.0"
#: The run log's event kind of a tariff left in force at a session's end, with each meter's
#: own calendar tables (rig.session.RigSession: a resumed run writes them back first).
TARIFF_LEFT = "tariff_left"
#: The calendar tables written: seasons, weekend, public holidays (meter OBIS map).
CALENDAR = ("C.90.5", "C.90.6", "C.90.7")
TARIFFS = (1, 2, 3, 4)  # A1000 manual 1.1 item 4


def forced_tariff(k: int) -> list[tuple[str, list[str]]]:
    """The writes that put tariff k in force all year."""
    if k not in TARIFFS:
        raise ValueError(f"tariff {k}: the A1000 has tariffs {TARIFFS} (manual 1.1 item 4)")
    return [("C.90.5", [f"01-01=T{k}"]), ("C.90.6", ["", f"T{k}"]), ("C.90.7", [""])]


@dataclass(frozen=True)
class WrittenBack:
    """The calendars `tariff_in_force` wrote back to each meter, and the session's count of
    programming states entered by then (RigSession.programming_entries)."""

    calendars: dict[int, dict[str, list[str]]]
    entries: int


def _calendars(rig: Any, links: Mapping[int, MeterLink]) -> dict[int, dict[str, list[str]]]:
    """Each meter's calendar tables: the ones the last `tariff_in_force` wrote back if no
    programming state was entered since (no write can reach a meter outside one, A1000 manual
    2.2.1), else read."""
    known = rig.tariff_carry.calendars
    if (known is not None and known.entries == rig.programming_entries
            and set(known.calendars) == set(links)):
        return known.calendars
    return each(links, lambda link: {a: [v.value for v in r.values]
                                     for a, r in link.read(*CALENDAR).items()})


@dataclass(frozen=True)
class ForcedCalendar:
    """A tariff left in force on the meters after a tariff test (`tariff_in_force`), their own
    calendars still to be written back (`write_back`): the positions, the tariff, each meter's
    own calendar tables."""

    positions: tuple[Any, ...]
    links: Mapping[int, MeterLink]
    tariff: int
    saved: dict[int, dict[str, list[str]]]
    #: The session's count of programming states entered when the tariff test ended
    #: (RigSession.programming_entries); -1 while it runs.
    entries: int = -1


@contextmanager
def tariff_in_force(rig: Any, positions: Sequence[Any], links: Mapping[int, MeterLink],
                    k: int, *, end_read: Sequence[str] = (), by_readout: bool = False
                    ) -> Iterator[dict[int, dict[str, Reading]]]:
    """Tariff k in force on every meter for the block; each meter's own calendar (read first,
    or known from the tariff test before: `_calendars`) written back after the series of tariff
    tests the block belongs to. `end_read`: addresses read when the block has ended, still
    with tariff k in force; what they read is in the dict the block is given. `by_readout`:
    what the meters' data readout carries of `end_read` is taken from one readout right before
    the R1 session of the rest (rig.linesession.readout_part).

    A block that completes leaves tariff k in force (`TariffCarry.forced`): the next tariff
    test writes only the tables of its own tariff that differ (none for the same tariff), and
    the calendars go back once, before a plan test that needs the meter's own calendar
    (rig.procedures.run, `forces_tariff`) and at the session's end (`write_back`). Two
    tariff tests in a row then cost one calendar write between them instead of a write back
    and a write, each in a programming state. A block that fails (the writes, the block or
    the end reading) has the calendars written back at once."""
    forced = rig.tariff_carry.forced
    if forced is not None and set(forced.saved) != set(links):
        write_back(rig)  # other meters: each set of meters has its own calendars back first
        forced = None
    if forced is None:
        saved, on_meter = _calendars(rig, links), {}
    else:
        # The tables of the tariff left in force are on the meters while no programming state
        # was entered since (no write can reach a meter outside one, A1000 manual 2.2.1).
        saved = forced.saved
        on_meter = (dict(forced_tariff(forced.tariff))
                    if forced.entries == rig.programming_entries else {})
    # What differs from the tables on the meters now (the forced tariff's, or all of them).
    writes = [(a, v) for a, v in forced_tariff(k) if on_meter.get(a) != v]
    rig.tariff_carry.calendars = None  # known again only once written back
    rig.tariff_carry.forced = ForcedCalendar(tuple(positions), dict(links), k, saved)
    ended: dict[int, dict[str, Reading]] = {}
    completed = False
    try:
        if writes:
            with rig.programming(*positions):
                each(links, lambda link: link.write(writes))
        yield ended
        ended.update(each(links, lambda link: _end_reading(link, end_read, by_readout)))
        completed = True
        rig.tariff_carry.forced = replace(rig.tariff_carry.forced,
                                          entries=rig.programming_entries)
    finally:
        if not completed:
            write_back(rig)


def _end_reading(link: MeterLink, read: Sequence[str], by_readout: bool
                 ) -> dict[str, Reading]:
    """What `read` shows at the end of a tariff block: from the readout where it carries it
    (`by_readout`), the rest by R1 in one session."""
    if not read:
        return {}
    return read_by_readout(link, read) if by_readout else link.read(*read)


def write_back(rig: Any) -> None:
    """Each meter's own calendar written back where a tariff test left a tariff in force
    (`TariffCarry.forced`): all meters in one programming state, each in its own session (one
    that fails leaves the others written back; its error is raised after). Not once a stop
    was requested: no meter is talked to then (rig.meterlink), and the programming state is
    not entered (rig.session.RigSession.programming)."""
    forced = rig.tariff_carry.forced
    if forced is None:
        return
    with rig.programming(*forced.positions):
        rig.tariff_carry.forced = None  # tried once: a meter that fails says so in the error
        each(forced.links, lambda link: link.write(list(forced.saved[link.number].items())))
    rig.tariff_carry.calendars = WrittenBack(forced.saved, rig.programming_entries)


def left_forced(rig: Any) -> str:
    """What a session stopped in a series of tariff tests leaves on the meters, for the run log
    ('' if nothing): the positions, the tariff, the calendar tables to write back by hand."""
    forced = rig.tariff_carry.forced
    if forced is None:
        return ""
    return (f"{positions_text(sorted(forced.saved))}: tariff {forced.tariff} left in force "
            f"(calendar tables {', '.join(CALENDAR)} not written back)")


def in_force_s(calendars_known: bool = False) -> float:
    """Planned bench time of `tariff_in_force` around what it holds: the calendar read (none
    when `calendars_known`: a tariff test came right before) and the tariff's tables written
    (at most all of them: fewer, or none, where the tariff test before forced another tariff,
    or the same). The calendars go back once after the series (`write_back`), counted by
    none of its tests."""
    return (0.0 if calendars_known else read_s(len(CALENDAR))) + programming_s(len(CALENDAR))


@dataclass(frozen=True)
class Dose:
    """Registers read before and after a dose given with one tariff in force."""

    before: dict[int, Any]  # position -> what `read` returned
    after: dict[int, Any]
    reference: float  # |energy| the reference standard's register counted
    t_on: float  # bench time the load went on
    timed: Any = None  # what `during` returned (None: the dose was a plain dwell)
    #: Where the before-reading comes from: "" read for this dose, else the label of the dose
    #: whose after-reading it is (`dose_in_tariff`).
    before_from: str = ""

    @property
    def before_when(self) -> str:
        """When the before-reading was taken, for a record's message."""
        return f"before (at the end of {self.before_from})" if self.before_from else "before"


@dataclass(frozen=True)
class QuietReading:
    """What `read` (addresses) showed on every meter at the end of a dose, the current off, and
    how many loads the session's bench had applied by then (rig.schedule.LoadLog): the next
    dose's before-reading while no current has flowed since (`dose_in_tariff`)."""

    read: tuple[str, ...]
    values: dict[int, dict[str, Decimal | None]]
    loads_applied: int
    label: str


@dataclass
class TariffCarry:
    """What one tariff test leaves the next in a session (`tariff_in_force`, `dose_in_tariff`):
    the calendars written back or the tariff still in force, the registers read at the end of
    the last dose (of a tariff test or of a register test: `carried_before`)."""

    calendars: WrittenBack | None = None
    dose_reading: QuietReading | None = None
    #: A tariff left in force, the meters' own calendars still to be written back.
    forced: ForcedCalendar | None = None


def carried_before(rig: Any, links: Mapping[int, MeterLink],
                   read: Sequence[str]) -> QuietReading | None:
    """The session's last dose's after-reading, if it can stand as this dose's before-reading:
    it read every register of `read` (those of this dose are taken from it, in `read`'s order)
    of the same meters, and every load applied since it was taken carried no current (voltage
    only, or the source off)."""
    last = rig.tariff_carry.dose_reading
    if last is None or not set(read) <= set(last.read) or set(last.values) != set(links):
        return None
    since = rig.loads.entries[last.loads_applied:]
    if any(e.point is not None and e.point.max_current > 0 for e in since):
        return None
    if tuple(read) == last.read:
        return last
    return replace(last, read=tuple(read),
                   values={n: {a: v[a] for a in read} for n, v in last.values.items()})


def dose_in_tariff(rig: Any, bench: Any, timebase: Any, positions: Sequence[Any],
                   links: Mapping[int, MeterLink], tariff: int, *, load: Any, idle: Any,
                   seconds: float, wiring: str, quantity: Any,
                   read: Sequence[str], label: str, quiet_s: float,
                   during: Callable[[], Any] | None = None, by_readout: bool = False) -> Dose:
    """Tariff `tariff` in force: read the addresses `read` on every meter (their values by
    address: a Dose's `before` and `after`), apply `load` for `seconds` counting `quantity`
    (measured as `wiring`) on the reference's energy register, take the current off (`idle`),
    wait `quiet_s`, read again, in the session that writes the calendar back.
    `during`, if given, takes the place of the dwell while the load is on (it times the dose
    itself, the reference register running) and what it returns is the Dose's `timed`.
    `by_readout`: each reading takes what the meters' data readout carries of `read` from one
    readout and reads only the rest by R1 (rig.linesession; for long lists of registers).

    Doses in a row share a reading: when the previous dose of the session read the same
    registers of the same meters (`read`) and no load with current has been applied since
    (`carried_before`), its after-reading is this dose's before-reading, not read again.
    Between the two only the calendars are written (back, and for this tariff) and the meters
    stand with no current, where a good meter books less than a register digit (no-load: not
    more than one pulse, standards.md 1.4; the calendar only chooses the tariff register that
    books, A1000 manual 1.4). A register that moves in between, at a calendar write or in the
    quiet, is charged to this dose and fails it: stricter than a before-reading taken after
    the writes, which would not see that move at all. The doses' records say which reading
    was carried (`Dose.before_from`)."""
    if bench.energy is None:
        raise RuntimeError(f"{label}: the bench has no reference energy register: the dosage "
                           "method needs it")
    read = tuple(read)
    carried = carried_before(rig, links, read)
    rig.tariff_carry.dose_reading = None  # set again only by a complete after-reading
    with tariff_in_force(rig, positions, links, tariff, end_read=read,
                         by_readout=by_readout) as ended:
        before = (carried.values if carried is not None
                  else each(links, lambda link: _values(
                      read_by_readout(link, read) if by_readout else link.read(*read))))
        bench.reference.set_mode(wiring, quantity)
        t_on = timebase.now()
        bench.energy.start()
        bench.energise(load)
        timed = None
        if during is None:
            timebase.dwell(seconds, label=label)
        else:
            timed = during()
        bench.energise(idle)
        timebase.dwell(quiet_s, label="after dosage")
        bench.energy.stop()
        reference = abs(bench.energy.energy())
    after = {n: _values(ended[n]) for n in links}
    rig.tariff_carry.dose_reading = QuietReading(read, after, len(rig.loads.entries), label)
    return Dose(before, after, reference, t_on, timed,
                before_from=carried.label if carried is not None else "")


def _values(readings: Mapping[str, Reading]) -> dict[str, Decimal | None]:
    return {a: r.value for a, r in readings.items()}
