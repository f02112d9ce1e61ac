"""Putting one tariff in force on the meters under test, for register and demand tests by tariff.

The A1000 calendar (manual 1.4 items 4-9) chooses the tariff by holiday > weekend > season; a
season, weekend or holiday may name a fixed tariff instead of a daily profile (`T<n>`). Writing
one season from Jan 1 at tariff k, no weekend days and no holidays puts tariff k in force all
year. The tables each meter had are read first and written back afterwards, in the programming
state (rig.session.RigSession.programming: the reset button held, then P1).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

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
