"""Putting one tariff in force on the meters under test, for register and demand tests by tariff.

The A1000 calendar (manual 1.4 items 4-9) chooses the tariff by holiday > weekend > season; a
season, weekend or holiday may name a fixed tariff instead of a daily profile (`T<n>`). Writing
one season from Jan 1 at tariff k, no weekend days and no holidays puts tariff k in force all
year. The tables each meter had are read first and written back afterwards, in the programming
state (rig.session.RigSession.programming: the reset button held, then P1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rig.linetime import programming_s, read_s
from rig.meterlink import MeterLink, each

#: The tariff in force (manual 1.4; standards.md 4.3).
TARIFF = "C.14.0"
#: The calendar tables written: seasons, weekend, public holidays (meter OBIS map).
CALENDAR = ("C.90.5", "C.90.6", "C.90.7")
TARIFFS = (1, 2, 3, 4)  # A1000 manual 1.1 item 4


def forced_tariff(k: int) -> list[tuple[str, list[str]]]:
    """The writes that put tariff k in force all year."""
    if k not in TARIFFS:
        raise ValueError(f"tariff {k}: the A1000 has tariffs {TARIFFS} (manual 1.1 item 4)")
    return [("C.90.5", [f"01-01=T{k}"]), ("C.90.6", ["", f"T{k}"]), ("C.90.7", [""])]


@contextmanager
def tariff_in_force(rig: Any, positions: Sequence[Any], links: Mapping[int, MeterLink],
                    k: int) -> Iterator[None]:
    """Tariff k in force on every meter; each meter's own calendar written back afterwards."""
    writes = forced_tariff(k)
    saved = each(links, lambda link: {a: [v.value for v in r.values]
                                      for a, r in link.read(*CALENDAR).items()})
    with rig.programming(*positions):
        each(links, lambda link: link.write(writes))
    try:
        yield
    finally:
        with rig.programming(*positions):
            each(links, lambda link: link.write(list(saved[link.number].items())))


def in_force_s() -> float:
    """Planned bench time of `tariff_in_force` around what it holds: the calendar read, the
    writes, the calendar written back."""
    return read_s(len(CALENDAR)) + 2 * programming_s(len(CALENDAR))


@dataclass(frozen=True)
class Dose:
    """Registers read before and after a dose given with one tariff in force."""

    before: dict[int, Any]  # position -> what `read` returned
    after: dict[int, Any]
    reference: float  # |energy| the reference standard's register counted
    t_on: float  # bench time the load went on
    timed: Any = None  # what `during` returned (None: the dose was a plain dwell)


def dose_in_tariff(rig: Any, bench: Any, timebase: Any, positions: Sequence[Any],
                   links: Mapping[int, MeterLink], tariff: int, *, load: Any, idle: Any,
                   seconds: float, wiring: str, quantity: Any,
                   read: Callable[[MeterLink], Any], label: str, quiet_s: float,
                   during: Callable[[], Any] | None = None) -> Dose:
    """Tariff `tariff` in force: read every meter, apply `load` for `seconds` counting
    `quantity` (measured as `wiring`) on the reference's energy register, take the current
    off (`idle`), wait
    `quiet_s`, read again. The calendars are written back afterwards. `during`, if given,
    takes the place of the dwell while the load is on (it times the dose itself, the reference
    register running) and what it returns is the Dose's `timed`."""
    if bench.energy is None:
        raise RuntimeError(f"{label}: the bench has no reference energy register: the dosage "
                           "method needs it")
    with tariff_in_force(rig, positions, links, tariff):
        before = each(links, read)
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
        after = each(links, read)
    return Dose(before, after, reference, t_on, timed)
