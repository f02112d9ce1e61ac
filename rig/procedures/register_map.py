"""Every energy register by dosage, in each quadrant with each tariff in force.

A load in IEC quadrant k (standards.md 2.1 [H]: Q1 +P +Q, Q2 -P +Q, Q3 -P -Q, Q4 +P -Q) books
its active energy in A+ (1.8) or A- (2.8), its reactive energy in R+ (3.8, QI+QII) or R- (4.8,
QIII+QIV) and in the quadrant's own register (5.8..8.8), and its apparent energy in S+ (9.8,
QI+QIV) or S- (10.8, QII+QIII) (OBIS value group C, standards.md 7 [H]), each in the total
(E = 0) and in the register of the tariff in force (E = 1..4, A1000 manual Appendix A, 1.1
item 4). Every other energy register stays where it was. A meter that books a register into
its partner, a tariff into another or a quadrant into the next fails here.

Method: tariff t in force all day (rig.tariffs.dose_in_tariff), the current off; all 50
registers read (or the previous dose's after-reading carried, no current between), those the
meter's data readout carries from one readout and the rest by R1 (rig.linesession); the load
applied at PF 0.5 in quadrant k until the reference standard's reactive energy register shows
the dose; the current off; the registers read again. Expected advances
from the reference's reactive energy E_Q and the applied displacement phi = 60 deg: active
E_Q / tan(phi), reactive E_Q, apparent E_Q / sin(phi). Each advance within the item's limit plus
one register digit (0.01, A1000 manual 1.1 item 5) of the expected energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reports.records import Verdict
from rig.coverage import booked_registers
from rig.instruments.loadpoint import LoadPoint
from rig.instruments.roles import Quantity
from rig.linetime import read_s, readout_s
from rig.loads import Rating
from rig.measure import settle
from rig.metrology import combine, rectangular
from rig.plan import RegisterMapItem, current_label
from rig.procedures import Context, Declared, EachPoint
from rig.procedures.registers import PHI, quadrant_point
from rig.recorder import Take
from rig.register_edge import passing_s
from rig.tariffs import TARIFF, dose_in_tariff, in_force_s

DIGIT = 0.01  # kWh / kvarh / kVAh, register format 99999.99 (A1000 manual 1.1 item 5)
QUIET_S = 2.0  # current off before the registers are read
REGISTERS = tuple(f"1-1:{c}.8.{e}" for c in range(1, 11) for e in range(5))
#: The energy registers of the A1000's data readout (manual Appendix A: A+, A-, the four
#: quadrants; total and tariffs), for the planned time only: what a meter's readout carries is
#: taken from the readout itself.
A1000_READOUT = tuple(f"1-1:{c}.8.{e}" for c in (1, 2, 5, 6, 7, 8) for e in range(5))
#: Characters of a register's reading, the decimal point included (99999.99 or 999999.9,
#: A1000 manual 1.1 item 5): the register's range follows from the decimals it shows.
REGISTER_WIDTH = 8


def register_advance(before: Decimal, after: Decimal) -> float:
    """How far a register moved from `before` to `after`, across its designed roll-over at the
    end of its range (99999.99 -> 00000.00): a register that passes its full range has not
    lost energy; one that rolls over earlier shows a shortfall of its false range."""
    decimals = max(-int(after.as_tuple().exponent), 0)
    full_range = Decimal(10) ** (REGISTER_WIDTH - 1 - decimals)
    moved = after - before
    return float(moved + full_range if moved < 0 else moved)


@dataclass(frozen=True)
class RegisterMap(EachPoint):
    """One quadrant's dose with one tariff in force: every one of the 50 registers advances by
    what the quadrant books there, or stays."""

    item: RegisterMapItem
    rating: Rating
    quadrant: int
    tariff: int
    forces_tariff = True  # rig.procedures.forces_tariff

    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared("energy registers booking the dose", "%", self.item.clause,
                         limit_low=-self.item.limit, limit_high=self.item.limit),)

    def points(self) -> list[dict[str, Any]]:
        return [{"load": self.rating.multiple(self.item.current), "quadrant": self.quadrant,
                 "tariff": self.tariff, "energy_kvarh": self.item.energy_kvarh}]

    def load(self) -> LoadPoint:
        return quadrant_point(self.rating, self.rating.multiple(self.item.current),
                              self.quadrant)

    def dose_s(self) -> float:
        """How long the load runs: the item's reactive energy at the point's |Q|."""
        return passing_s(self.item.energy_kvarh, self.load().reactive_power)

    def planned_seconds(self) -> float:
        """Settling, the calendar programmed for the tariff and back, the 50 registers read
        after the dose (the A1000's readout, the rest and the tariff by R1), the dose and the
        quiet time after it. The calendar read and the registers read before come from the
        dose before (rig.tariffs), but in the first dose of a series."""
        return (2 * QUIET_S + in_force_s(calendars_known=True) + readout_s()
                + read_s(1 + len(REGISTERS) - len(A1000_READOUT)) + self.dose_s())

    def measure(self, ctx: Context, take: Take) -> None:
        item, rating, quadrant, tariff = self.item, self.rating, self.quadrant, self.tariff
        (declared,) = self.declared
        (desc,) = take.points
        load = self.load()
        idle = load.scaled_current(0.0)
        dose_s = self.dose_s()
        links = {p.number: ctx.rig.link(p) for p in ctx.positions}
        settle(ctx.bench, ctx.timebase, idle, QUIET_S)
        dose = dose_in_tariff(ctx.rig, ctx.bench, ctx.timebase, ctx.positions, links, tariff,
                              load=load, idle=idle, seconds=dose_s, wiring=rating.wiring,
                              quantity=Quantity.REACTIVE, read=(TARIFF, *REGISTERS),
                              label=f"Q{quadrant} dose, tariff {tariff}", quiet_s=QUIET_S,
                              by_readout=True)
        before, after, e_q = dose.before, dose.after, dose.reference
        phi = math.radians(abs(PHI[quadrant]))
        energy = {"active": e_q / abs(math.tan(phi)), "reactive": e_q,
                  "apparent": e_q / math.sin(phi)}
        expected = {f"1-1:{c}.8.{e}": energy[kind]
                    for c, kind in booked_registers(quadrant).items() for e in (0, tariff)}
        applied = (f"Q{quadrant} load at {current_label(item.current)} PF 0.5, {e_q:.4f} kvarh "
                   f"by the reference, tariff {tariff} programmed, {dose_s:.0f} s from bench "
                   f"time {dose.t_on:.0f} s")
        budget = combine([rectangular("register digit, two readings", 2 * DIGIT / e_q * 100.0)])
        for n in ctx.numbers:
            b, a = before[n], after[n]
            wrong: dict[str, str] = {}
            worst = 0.0
            for register in REGISTERS:
                want = expected.get(register, 0.0)
                if a[register] is None or b[register] is None:
                    wrong[register] = "not read"
                    continue
                advance = register_advance(b[register], a[register])
                if abs(advance - want) > item.limit / 100.0 * want + DIGIT:
                    wrong[register] = f"+{advance:.2f} (expected +{want:.2f})"
                if want:
                    worst = max(worst, abs(advance - want) / want * 100.0, key=abs)
            in_force = (str(b[TARIFF]), str(a[TARIFF]))
            declared.record(
                take, n, desc, worst, budget=budget,
                raw={"expected": expected, "wrong": wrong, "tariff_in_force": in_force,
                     "before_from": dose.before_from},
                verdict=Verdict.FAIL if wrong else None,
                message="" if not wrong else
                f"{applied}: " + ", ".join(f"{r} {w}" for r, w in wrong.items())
                + f"; {TARIFF} read {in_force[0]} {dose.before_when} and {in_force[1]} after")
