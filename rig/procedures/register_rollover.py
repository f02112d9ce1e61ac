"""Register capacity of every energy register: no roll-over within 1500 h at Imax, Un.

IEC 62052-11 (standards.md "Other general facts" [H], FR-D 5.4): a register must not roll over
within 1500 h at Imax, Un, PF 1. The plan's `registers.capacity` item doses that into 1-1:1.8.0
only; a meter whose tariff, export, reactive or apparent register rolls over early passes it.
This procedure gives every one of the 50 registers C.8.E (C = 1..10, E = total and tariff,
OBIS, standards.md 7) the energy of `hours` at Imax, Un in its own quantity.

Method (the register-map method, rig.procedures.register_map, with the capacity's dose): with
tariff t in force all day, a load at Imax, Un in IEC quadrant k at 60 deg (PF 0.5) for
hours / sin(60 deg): the quadrant's reactive register (5.8..8.8), R+ or R-, and the tariff's
ones get exactly the reactive energy of `hours` at Imax, Un (3 x 220 V x 10 A x 1500 h =
9 900 kvarh on the 5(10) A bench meter); the apparent register S+ or S- gets 1.15 times it; the
active register A+ or A- gets 0.58 times it in each of the two quadrants that book it (Q1 and
Q4 import, Q2 and Q3 export), 1.15 times it over both. All 50 registers are read before and
after each dose (a dose's after-reading is the next one's before-reading, rig.tariffs
.dose_in_tariff); each advance must equal what the quadrant books there. A register that rolls
over before its 1500 h energy shows a shortfall of its false range in the dose that passes it;
passing the register's full range (99999.99 -> 00000.00, A1000 manual 1.1 item 5) is its design
and is counted across (register_map.register_advance).

Why this method: on a real bench 16 doses of 1732 h are 3.2 years, which no lab spends; it
takes the register's range from its display (8 characters, 5 integer digits: 99 999 kWh >
9 900 kWh) and, where the firmware's internal counter is in doubt, presets the registers below
the 1500 h energy with the manufacturer's tool and doses across it. The simulated bench has no
preset (the A1000 registers are not writable over IEC 62056-21), so it doses the full energy in
virtual time, which is the requirement itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rig.plan import RegisterRolloverItem
from rig.procedures import Declared
from rig.procedures.register_map import RegisterMap
from rig.procedures.registers import PHI


@dataclass(frozen=True)
class RegisterRollover(RegisterMap):
    """One quadrant's 1500 h dose at Imax with one tariff in force: every register advances by
    what the quadrant books there (no roll-over), or stays."""

    item: RegisterRolloverItem  # type: ignore[assignment]

    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared(f"energy registers booking {self.item.hours:g} h at "
                         f"{self.item.current}", "%", self.item.clause,
                         limit_low=-self.item.limit, limit_high=self.item.limit),)

    def points(self) -> list[dict[str, Any]]:
        return [{"load": self.rating.multiple(self.item.current), "quadrant": self.quadrant,
                 "tariff": self.tariff, "hours": self.item.hours}]

    def dose_s(self) -> float:
        """`hours` of reactive energy at the load's apparent power: hours / sin(phi)."""
        return self.item.hours * 3600.0 / math.sin(math.radians(abs(PHI[self.quadrant])))
