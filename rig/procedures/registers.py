"""Energy registers by dosage: the four reactive quadrants, active import and export in each
tariff, and the capacity over 1500 h at Imax.

Four-quadrant reactive registers: a load in quadrant k advances register 5.8.0 + (k - 1)
(OBIS C = 5..8: Q1..Q4, standards.md 7) by the reference reactive energy, and leaves the other
three alone (IEC quadrant convention, standards.md 2.1 [H]). A meter that books reactive energy
in the wrong quadrant fails here even when its pulse outputs are right.

Method: registers read with the current off; the load applied for dose / |Q| (the item's
energy_kvarh, or the dose that resolves one register digit to the item's resolution of the
limit, rig.plan.register_dose); the current removed (voltage kept); registers read again. The
reference energy comes from the reference standard's energy register (or its reactive power
times the dwell). Resolution: one register digit (0.01 kvarh) on each reading. By `method: edge`
(rig.register_edge) the quadrant's own register is read at the instants its last digit steps
with the load on, the reference's running energy read at each poll: each reading known to one
poll of energy (5.72 kvar x 0.43 s = 0.68 varh at Imax), the dose shorter by digit / that; the
other three registers are still read before and after, with the current off. The
before-reading of a quadrant's dose that follows another dose with no current between (a
quadrant's, or a register test's that read these registers) is that dose's after-reading
(rig.tariffs.carried_before; rig.tariffs.dose_in_tariff states why that is stricter).

Active registers by tariff and direction: with the calendar programmed so tariff k is in force
all day, a dose in one direction must advance c.8.0 and c.8.k (c = 1 import, 2 export, A1000
manual Appendix A) by the reference energy within the item's limit plus one digit, and no other
active energy register; C.14.0 is read before and after as the fact of the tariff in force.
The before-reading of a dose that follows another with no current between is the previous
dose's after-reading (rig.tariffs.dose_in_tariff states why that is stricter).
By `method: edge` the total and the tariff's register are each read at the instants their last
digit steps, within the dose (rig.register_edge), and their errors are against the reference
energy between their own edges, the limit widened by the edges' brackets instead of a digit.

Capacity: IEC 62052-11 (standards.md 5.1 [H]): the register does not roll over within 1500 h at
Imax, Un, PF 1. Dosed in virtual time on the simulated bench (62.5 days on a real one): the
advance of 1-1:1.8.0 equals the reference energy; a roll-over shows as a shortfall of the
register's whole range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from reports.records import Verdict
from rig.instruments.loadpoint import NORMAL_SEQUENCE, LoadPoint, PhaseSetting, normalise_angle
from rig.instruments.roles import Quantity
from rig.linetime import read_s
from rig.loads import Rating, metered_power, point_for
from rig.measure import settle
from rig.meterlink import each
from rig.metrology import combine, rectangular
from rig.plan import (
    RegisterCapacityItem,
    RegisterDosageItem,
    RegisterItem,
    current_label,
)
from rig.procedures import Context, Declared, EachPoint
from rig.recorder import Take
from rig.register_edge import Edge, catch_edges, dose_kwh, edge_budget, edge_s, passing_s
from rig.tariffs import TARIFF, QuietReading, carried_before, dose_in_tariff, in_force_s

REGISTERS = {1: "1-1:5.8.0", 2: "1-1:6.8.0", 3: "1-1:7.8.0", 4: "1-1:8.8.0"}
# phi per quadrant (docs/conventions.md 1: P = UI cos phi, Q = UI sin phi):
# Q1 (+P +Q) ... Q4 (+P -Q).
PHI = {1: 60.0, 2: 120.0, 3: -120.0, 4: -60.0}
DIGIT = 0.01  # kvarh, register format 99999.99 (A1000 manual 1.1 item 5)
SETTLING_S = 2.0


def quadrant_point(rating: Rating, x: float, quadrant: int) -> LoadPoint:
    phi = PHI[quadrant]
    phases = tuple(
        PhaseSetting(rating.un, x * rating.in_, ua, normalise_angle(ua - phi))
        for ua in NORMAL_SEQUENCE
    )
    return LoadPoint(phases)  # type: ignore[arg-type]


@dataclass(frozen=True)
class QuadrantRegister(EachPoint):
    """A load in one reactive quadrant: its register advances by the reference energy, the
    other three stay (a stray advance of more than a digit fails the point)."""

    item: RegisterItem
    rating: Rating
    quadrant: int

    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared(f"Q{self.quadrant} register error", "%", self.item.clause,
                         limit_low=-self.item.limit, limit_high=self.item.limit),)

    def points(self) -> list[dict[str, Any]]:
        return [{"load": self.rating.multiple(self.item.current), "quadrant": self.quadrant}]

    def load(self) -> LoadPoint:
        return quadrant_point(self.rating, self.rating.multiple(self.item.current),
                              self.quadrant)

    def energy_kvarh(self) -> float:
        """The dose: the item's, or the one its method needs (rig.register_edge.dose_kwh)."""
        item = self.item
        return item.energy_kvarh or dose_kwh(item.method, DIGIT, self.load().reactive_power,
                                             item.limit, item.resolution)

    def dose_s(self) -> float:
        """How long the quadrant's load runs: the dose at the point's |Q|."""
        return passing_s(self.energy_kvarh(), self.load().reactive_power)

    def planned_seconds(self) -> float:
        """Settling, the four registers read after the quadrant's dose, the dose; by the
        edge method also the quadrant register's two edges. The registers read before come
        from the dose before (rig.tariffs.carried_before), but in the first dose of a series."""
        edges = (2 * edge_s(DIGIT, self.load().reactive_power) if self.item.method == "edge"
                 else 0.0)
        return SETTLING_S + read_s(len(REGISTERS)) + self.dose_s() + edges

    def measure(self, ctx: Context, take: Take) -> None:
        rating, quadrant = self.rating, self.quadrant
        rig, bench, timebase, positions = ctx.rig, ctx.bench, ctx.timebase, ctx.positions
        (declared,) = self.declared
        (desc,) = take.points
        load = self.load()
        idle = load.scaled_current(0.0)
        settle(bench, timebase, idle, SETTLING_S)
        links = {p.number: rig.link(p) for p in positions}
        read = tuple(REGISTERS.values())
        carried = carried_before(rig, links, read)
        if carried is not None and any(v is None for r in carried.values.values()
                                       for v in r.values()):
            carried = None  # a register the last dose did not read is read here
        rig.tariff_carry.dose_reading = None  # set again only by a complete after-reading
        before = (carried.values if carried is not None
                  else each(links, lambda link: link.values(read)))
        bench.reference.set_mode(rating.wiring, Quantity.REACTIVE)
        q_var = abs(load.reactive_power)
        seconds = self.dose_s()
        edge = self.item.method == "edge"
        if edge and bench.energy is None:
            pytest.fail(f"{self.item.id}: the edge method needs the reference's energy register")
        if bench.energy is not None:
            bench.energy.start()
        bench.energise(load)
        if edge:
            own_register = REGISTERS[quadrant]
            starts = catch_edges(links, timebase, bench.energy, own_register, DIGIT, q_var)
            timebase.dwell(seconds, label=f"Q{quadrant} energy")
            ends = catch_edges(links, timebase, bench.energy, own_register, DIGIT, q_var)
        else:
            timebase.dwell(seconds, label=f"Q{quadrant} energy")
        bench.energise(idle)
        if bench.energy is not None:
            bench.energy.stop()
            reference = abs(bench.energy.energy())
        else:
            reference = q_var * seconds / 3.6e6
        afters = each(links, lambda link: link.values(read))
        label = f"Q{quadrant} energy"
        rig.tariff_carry.dose_reading = QuietReading(read, dict(afters),
                                                     len(rig.loads.entries), label)
        for n, after in afters.items():
            advance = {k: float(after[a] - before[n][a]) for k, a in REGISTERS.items()}
            others = {k: v for k, v in advance.items() if k != quadrant}
            raw: dict[str, Any] = {"advance_kvarh": {f"Q{k}": v for k, v in advance.items()},
                                   "method": self.item.method,
                                   "before_from": carried.label if carried else ""}
            if edge:
                start, end = starts[n], ends[n]
                own, ref = end.meter - start.meter, end.reference - start.reference
                budget = combine(edge_budget(start, end, ref, "kvarh"))
                raw.update(edge_start=start.as_dict(), edge_end=end.as_dict())
            else:
                own, ref = advance[quadrant], reference
                budget = combine([rectangular("register digit, two readings",
                                              2 * DIGIT / reference * 100.0)])
            raw["reference_kvarh"] = ref
            error = (own - ref) / ref * 100.0
            stray = max(others.values())
            message = (
                f"Q{quadrant} load: Q{quadrant} register +{own:.2f} kvarh for "
                f"{ref:.3f} kvarh reference; other quadrants "
                + ", ".join(f"Q{k} +{v:.2f}" for k, v in others.items())
            )
            verdict = None
            if stray > DIGIT:
                verdict = Verdict.FAIL
                message += ": energy booked in the wrong quadrant register"
                if carried is not None:
                    message += f" (read before at the end of {carried.label})"
            declared.record(
                take, n, desc, error, budget=budget, raw=raw,
                message=message, verdict=verdict,
            )


# --- energy registers by dosage, per direction and tariff -----------------------------------

#: Active energy registers (OBIS C = 1 import, 2 export; E = 0 total, 1..4 tariffs: A1000
#: manual Appendix A, 1.1 item 4).
ACTIVE_C = {"import": 1, "export": 2}
ENERGY_DIGIT = 0.01  # kWh, register format 99999.99 (A1000 manual 1.1 item 5)
#: After the current is taken off, before the registers are read.
QUIET_S = 2.0
#: The register the capacity test doses (active import total).
CAPACITY_REGISTER = f"1-1:{ACTIVE_C['import']}.8.0"


#: The registers a dose by tariff reads before and after: the tariff in force and every active
#: energy register.
DOSAGE_READ = (TARIFF, *(f"1-1:{c}.8.{e}" for c in ACTIVE_C.values() for e in range(5)))


@dataclass(frozen=True)
class RegisterDosage(EachPoint):
    """Every energy register before and after a dose at the tariff: the total and the tariff's
    own register advance by the reference energy, no other register moves."""

    item: RegisterDosageItem
    rating: Rating
    direction: str
    tariff: int
    together = True
    forces_tariff = True  # rig.procedures.forces_tariff

    def registers(self) -> tuple[str, str]:
        """The direction's total register and the tariff's own."""
        c = ACTIVE_C[self.direction]
        return f"1-1:{c}.8.0", f"1-1:{c}.8.{self.tariff}"

    @property
    def declared(self) -> tuple[Declared, ...]:
        rule = (f"+-({self.item.limit:g} % + one {ENERGY_DIGIT} kWh digit in the reference "
                "energy)" if self.item.method == "whole-digit" else
                f"+-({self.item.limit:g} % + the two edges' brackets in the reference energy)")
        return (*(Declared(f"{r} error by dosage", "%", self.item.clause, rule=rule)
                  for r in self.registers()),
                Declared("other energy registers' advance", "registers", self.item.clause,
                         limit_low=0.0, limit_high=0.0))

    def points(self) -> list[dict[str, Any]]:
        item = self.item
        base = {"load": self.rating.multiple(item.current), "pf": item.pf,
                "direction": self.direction, "tariff": self.tariff,
                "energy_kwh": self.energy_kwh()}
        return [{**base, "register": what} for what in (*self.registers(), "others")]

    def load(self) -> LoadPoint:
        return point_for(self.rating, "active", self.item.current, self.item.pf, self.direction)

    def power_w(self) -> float:
        return metered_power(self.load(), "active", self.rating.wiring)

    def energy_kwh(self) -> float:
        """The dose: the item's, or the one its method needs (rig.register_edge.dose_kwh)."""
        item = self.item
        return item.energy_kwh or dose_kwh(item.method, ENERGY_DIGIT, self.power_w(),
                                           item.limit, item.resolution)

    def dose_s(self) -> float:
        """How long the load runs: the dose at the point's power."""
        return passing_s(self.energy_kwh(), self.power_w())

    def planned_seconds(self) -> float:
        """Settling, the calendar programmed for the tariff and back, the registers read
        after the dose, the dose and the quiet time after it; by the edge method also each
        register's two edges. The calendar read and the registers read before come from the
        dose before (rig.tariffs), but in the first dose of a series."""
        edges = (4 * edge_s(ENERGY_DIGIT, self.power_w()) if self.item.method == "edge"
                 else 0.0)
        return (SETTLING_S + in_force_s(calendars_known=True) + read_s(len(DOSAGE_READ))
                + self.dose_s() + QUIET_S + edges)

    def measure(self, ctx: Context, take: Take) -> None:
        item, rating, direction, tariff = self.item, self.rating, self.direction, self.tariff
        rig, bench, timebase, positions, numbers = (ctx.rig, ctx.bench, ctx.timebase,
                                                    ctx.positions, ctx.numbers)
        descs = {d["register"]: d for d in take.points}
        by_register = dict(zip((*self.registers(), "others"), self.declared, strict=True))
        c = ACTIVE_C[direction]
        total, own = f"1-1:{c}.8.0", f"1-1:{c}.8.{tariff}"
        if bench.energy is None:
            pytest.fail(f"{item.id}: the bench has no reference energy register: the dosage method "
                        "needs it")
        load = self.load()
        idle = LoadPoint.voltage_only(rating.un)
        dose_s = self.dose_s()
        links = {p.number: rig.link(p) for p in positions}
        settle(bench, timebase, idle, SETTLING_S)
        label = f"dosage T{tariff} {direction}"
        power_w = self.power_w()

        def at_edges() -> tuple[dict[str, dict[int, Edge]], dict[str, dict[int, Edge]]]:
            """Each register's edges at the start and the end of the dose (rig.register_edge)."""
            def edges() -> dict[str, dict[int, Edge]]:
                return {r: catch_edges(links, timebase, bench.energy, r, ENERGY_DIGIT, power_w)
                        for r in (total, own)}
            starts = edges()
            timebase.dwell(dose_s, label=label)
            return starts, edges()

        dose = dose_in_tariff(rig, bench, timebase, positions, links, tariff, load=load,
                              idle=idle, seconds=dose_s, wiring=rating.wiring,
                              quantity=Quantity.ACTIVE, read=DOSAGE_READ,
                              label=label, quiet_s=QUIET_S,
                              during=at_edges if item.method == "edge" else None)
        before, after, reference, t_on = dose.before, dose.after, dose.reference, dose.t_on
        applied = (f"{reference:.4f} kWh {direction} at {current_label(item.current)} PF {item.pf} "
                   f"with tariff {tariff} programmed, {dose_s:.0f} s from bench time {t_on:.0f} s")
        for n in numbers:
            b, a = before[n], after[n]
            in_force = (str(b[TARIFF]), str(a[TARIFF]))
            for register in (total, own):
                raw: dict[str, Any] = {"before": str(b[register]), "after": str(a[register]),
                                       "tariff_in_force": in_force, "method": item.method,
                                       "before_from": dose.before_from}
                if dose.timed is not None:
                    start, end = dose.timed[0][register][n], dose.timed[1][register][n]
                    advance: float | None = end.meter - start.meter
                    ref = end.reference - start.reference
                    parts = edge_budget(start, end, ref, "kWh")
                    resolution_pct = 100.0 * (start.half + end.half) / ref
                    raw.update(edge_start=start.as_dict(), edge_end=end.as_dict())
                else:
                    advance = None if a[register] is None or b[register] is None else float(
                        a[register] - b[register])
                    ref = reference
                    parts = [rectangular("register digit, two readings",
                                         2 * ENERGY_DIGIT / reference * 100.0)]
                    resolution_pct = ENERGY_DIGIT / reference * 100.0
                raw["reference_kwh"] = ref
                error = None if advance is None else (advance - ref) / ref * 100.0
                limit = item.limit + resolution_pct
                by_register[register].record(
                    take, n, descs[register], error, limits=(-limit, limit),
                    budget=combine(parts), raw=raw,
                    message="" if error is not None and abs(error) <= limit else
                    f"{applied}: {register} {b[register]} -> {a[register]} kWh, expected an "
                    f"advance of {ref:.4f} kWh; {TARIFF} read {in_force[0]} "
                    f"{dose.before_when} and {in_force[1]} after")
            moved = {r: float(a[r] - b[r]) for r in b
                     if r not in (total, own, TARIFF) and a[r] is not None and b[r] is not None
                     and a[r] != b[r]}
            by_register["others"].record(
                take, n, descs["others"], float(len(moved)),
                raw={"moved_kwh": moved, "tariff_in_force": in_force,
                     "before_from": dose.before_from},
                message="" if not moved else
                f"{applied}: " + ", ".join(f"{r} +{v:.2f} kWh" for r, v in moved.items())
                + f" (expected only {total} and {own} to move; {TARIFF} read {in_force[0]} "
                f"{dose.before_when} and {in_force[1]} after)")


@dataclass(frozen=True)
class RegisterCapacity(EachPoint):
    """1-1:1.8.0 over `hours` at the item's load: its advance against the reference energy."""

    item: RegisterCapacityItem
    rating: Rating

    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared(f"{CAPACITY_REGISTER} advance error over {self.item.hours:g} h", "%",
                         self.item.clause,
                         rule=f"+-({self.item.limit:g} % + one {ENERGY_DIGIT} kWh digit in the "
                         "reference energy)"),)

    def points(self) -> list[dict[str, Any]]:
        item = self.item
        return [{"load": self.rating.multiple(item.current), "pf": item.pf,
                 "hours": item.hours}]

    def planned_seconds(self) -> float:
        """Settling, the register read before and after, the hours, the quiet time."""
        return SETTLING_S + 2 * read_s() + self.item.hours * 3600.0 + QUIET_S

    def measure(self, ctx: Context, take: Take) -> None:
        item, rating, register = self.item, self.rating, CAPACITY_REGISTER
        rig, bench, timebase, numbers = ctx.rig, ctx.bench, ctx.timebase, ctx.numbers
        positions = ctx.positions
        (declared,) = self.declared
        (desc,) = take.points
        if bench.energy is None:
            pytest.fail(f"{item.id}: the bench has no reference energy register")
        load = point_for(rating, "active", item.current, item.pf)
        idle = LoadPoint.voltage_only(rating.un)
        links = {p.number: rig.link(p) for p in positions}
        settle(bench, timebase, idle, SETTLING_S)
        before = each(links, lambda link: link.value(register))
        bench.reference.set_mode(rating.wiring, Quantity.ACTIVE)
        bench.energy.start()
        bench.energise(load)
        timebase.dwell(item.hours * 3600.0, label=f"{item.hours:g} h at {item.current}")
        bench.energise(idle)
        timebase.dwell(QUIET_S, label="after dosage")
        bench.energy.stop()
        reference = abs(bench.energy.energy())
        after = each(links, lambda link: link.value(register))
        limit = item.limit + ENERGY_DIGIT / reference * 100.0
        for n in numbers:
            advance = float(after[n] - before[n])
            error = (advance - reference) / reference * 100.0
            declared.record(
                take, n, desc, error, limits=(-limit, limit),
                raw={"before": str(before[n]), "after": str(after[n]),
                     "reference_kwh": reference},
                message="" if abs(error) <= limit else
                f"{reference:.2f} kWh at {current_label(item.current)} PF {item.pf} for "
                f"{item.hours:g} h: {register} {before[n]} -> {after[n]} kWh"
                + (" (lower after: the register rolled over)" if advance < 0 else ""))
