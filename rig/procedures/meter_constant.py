"""Meter constant: the register advance against the test-output pulses (standards.md 1.4:
IEC gives no number; the French verification rule is a relative error of the constant below
1/10 of the MPE, i.e. 0.05 % for class 0.5S [H]; "measured at one current for long enough to
resolve the register").

Method, on all positions at once:

a) the error by pulses e_pulse at the point (rig.measure.measure_errors: the error calculator
   compares the meter's pulses, through the nameplate constant, with the reference);
b) the register error by dosage e_reg: read 1-1:1.8.0 with the currents off (voltage on, the
   register is still), start the reference energy register, energise the point for
   energy_kwh / P, take the current off (keep the voltage), stop the reference, read 1-1:1.8.0
   again: e_reg = (dR - E_ref) / E_ref.

The reactive LED (plan item `energy: reactive`) is checked the same way against the total
reactive import register R+ (3.8.0) at sin phi 1, with the limit 1/10 of reactive class 2
(0.2 %) and the reactive constant: a reactive LED on a wrong constant is within the reactive
accuracy limits at 1 % off, so only this check sees it.

Both errors are against the same reference, so its systematic error cancels in
e_const = e_reg - e_pulse: the error of the pulse constant relative to the register (a meter
whose pulse output runs on a wrong constant shows e_pulse != e_reg). The register error itself
is also recorded against the class limit of the point.

Resolution: the A1000 register shows 0.01 kWh (format 99999.99); two readings give at most one
digit over the dose, so the dose is derived from the item's `resolution` of the limit
(rig.plan.register_dose: 0.01 kWh in 200 kWh = 0.005 %, a tenth of the 0.05 % limit) unless
the item gives `energy_kwh`; the plan doses at the highest current it measures at (Imax), where
it takes least time. The simulated bench doses it in virtual time; the procedure's planned time
(the plan's estimate) shows the hours a real bench needs.

`method: edge` (rig.register_edge) reads the register instead at the instants its last digit
steps, at the start and the end of the dose, with the load on: each reading is then known to
the energy of one poll interval (6.6 kW x 0.43 s = 0.79 Wh at Imax) rather than a 10 Wh digit,
and the dose for the same resolution shrinks by that factor (200 kWh -> 15.8 kWh, 30.3 h ->
2.4 h). The dose time no longer depends on the current: P x dt / (r x limit) / P.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from rig.instruments.loadpoint import LoadPoint
from rig.linetime import read_s
from rig.loads import Rating, metered_power, point_for
from rig.measure import (
    PulseShortfall,
    expected_error_seconds,
    measure_errors,
    reference_uncertainty,
    settle,
    shortfall_difference,
)
from rig.meterlink import MeterLink, each
from rig.metrology import (
    UncertaintyComponent,
    combine,
    quantisation,
    rectangular,
    reference_standard,
    repeatability,
)
from rig.plan import MeterConstantItem
from rig.procedures import Context, Declared, EachPoint
from rig.recorder import Take
from rig.register_edge import catch_edges, dose_kwh, edge_budget, edge_s, passing_s

#: The register each LED is checked against: total active import (A1000 manual 2.1.2 "->0
#: Energy"; OBIS 1.8.0) and total reactive import R+ = QI + QII (OBIS 3.8.0, standards.md 7),
#: which a load at sin phi 1 (inductive, Q1/Q2 boundary) advances by all its reactive energy.
REGISTERS = {"active": "1-1:1.8.0", "reactive": "1-1:3.8.0"}
UNITS = {"active": "kWh", "reactive": "kvarh"}
#: The register's last digit, kWh or kvarh (A1000 display format 99999.99, manual 2.1.2).
REGISTER_DIGIT_KWH = 0.01
#: The class limit from 0.05 In to Imax, PF 1 (sin phi 1) for the register error: class 0.5S
#: (IEC 60687 Table 9, standards.md 1.2 [H]) and reactive class 2 (IEC 62053-23 Table 6,
#: standards.md 2.1 [M]); the plan item's `limit` is the constant's (1/10 of it).
CLASS_LIMIT_PCT = {"active": 0.5, "reactive": 2.0}
#: After the current is taken off, before the register is read: the meter has booked the
#: energy of the dose (the register is integrated to the instant the inputs changed).
QUIET_S = 2.0


def _register_kwh(links: dict[int, MeterLink], energy: str) -> dict[int, Decimal]:
    return each(links, lambda link: link.value(REGISTERS[energy]))


@dataclass(frozen=True)
class MeterConstant(EachPoint):
    """The pulse error at the point, then the register error over a dosage; both checks of
    every position are one experiment."""

    item: MeterConstantItem
    rating: Rating
    together = True

    @property
    def declared(self) -> tuple[Declared, ...]:
        return (
            Declared("register error by dosage", "%", self.item.clause,
                     limit_low=-CLASS_LIMIT_PCT[self.item.energy],
                     limit_high=CLASS_LIMIT_PCT[self.item.energy]),
            Declared("meter constant error (register against pulses)", "%", self.item.clause,
                     limit_low=-self.item.limit, limit_high=self.item.limit),
        )

    def points(self) -> list[dict[str, Any]]:
        item = self.item
        register = {"load": self.rating.multiple(item.current), "pf": item.pf,
                    "direction": "import", "energy": item.energy,
                    "energy_kwh": self.energy_kwh(),
                    "check": "register error"}
        return [register, {**register, "check": "constant error"}]

    def load(self) -> LoadPoint:
        return point_for(self.rating, self.item.energy, self.item.current, self.item.pf)

    def power_w(self) -> float:
        return metered_power(self.load(), self.item.energy, self.rating.wiring)

    def energy_kwh(self) -> float:
        """The dose: the item's, or the one its method needs (rig.register_edge.dose_kwh)."""
        item = self.item
        return item.energy_kwh or dose_kwh(item.method, REGISTER_DIGIT_KWH, self.power_w(),
                                           item.limit, item.resolution)

    def dose_s(self) -> float:
        """How long the dosage runs: the dose at the point's power."""
        return passing_s(self.energy_kwh(), self.power_w())

    def planned_seconds(self) -> float:
        """The error by pulses at the point, the register read before and after the dosage
        (each after the quiet time) or at its edges, the dosage."""
        pulses = expected_error_seconds(self.power_w(), self.rating.constant(self.item.energy),
                                        self.item.measure)
        if self.item.method == "edge":
            return pulses + 2 * edge_s(REGISTER_DIGIT_KWH, self.power_w()) + self.dose_s()
        return pulses + 2 * (QUIET_S + read_s()) + self.dose_s()

    def measure(self, ctx: Context, take: Take) -> None:
        _measure(self, ctx, take)


@dataclass(frozen=True)
class _Advance:
    """One position's register advance over the dosage against the reference energy, with
    what the readings are known to."""

    advance: float
    reference: float
    resolution: list[UncertaintyComponent]
    raw: dict[str, Any]
    shown: str  # the register's readings, for messages


def _measure(procedure: MeterConstant, ctx: Context, take: Take) -> None:
    """a) and b) of the module's method, then both checks of every position."""
    item, rating, rig, bench, timebase = (procedure.item, procedure.rating, ctx.rig, ctx.bench,
                                          ctx.timebase)
    register_error, constant_error = procedure.declared
    desc_reg, desc_const = take.points
    numbers = ctx.numbers
    if bench.energy is None:
        pytest.fail(f"{item.id}: the bench has no reference energy register (instruments."
                    "energy or a reference providing one): the dosage method needs it")
    energy, unit = item.energy, UNITS[item.energy]
    load, power_w, dose_s = procedure.load(), procedure.power_w(), procedure.dose_s()
    links = {p.number: rig.link(p) for p in ctx.positions}

    # a) error by pulses at the point.
    settle(bench, timebase, load, item.measure.settling_s)
    pulse = measure_errors(bench, timebase, load, energy, item.measure, numbers, rating)

    # b) register error over a dosage.
    dosage = _edge_dosage if item.method == "edge" else _whole_digit_dosage
    advances = dosage(procedure, ctx, links)

    u_ref, u_note = reference_uncertainty(bench)
    for n in numbers:
        got = advances[n]
        advance, reference_kwh, resolution = got.advance, got.reference, got.resolution
        e_reg = 100.0 * (advance - reference_kwh) / reference_kwh
        p = pulse[n]
        raw = {**got.raw, "register_advance_kwh": advance, "reference_kwh": reference_kwh,
               "dose_s": dose_s, "power_w": power_w, "method": item.method,
               "reference_uncertainty": u_note,
               "constant_imp_per_kwh": rating.constant(energy),
               **({"pulse": p.raw()} if isinstance(p, PulseShortfall) else
                  {"pulse_errors": list(p.errors), "pulse_error_mean": p.mean,
                   "pulses": p.pulses})}
        reg_budget = combine([*resolution, reference_standard(u_ref)])
        register_error.record(
            take, n, desc_reg, e_reg, budget=reg_budget, raw=raw,
            message=f"{REGISTERS[energy]} advanced {advance:.2f} {unit} for "
                    f"{reference_kwh:.4f} {unit} "
                    "of reference energy")
        if isinstance(p, PulseShortfall):
            # The pulses fell short of the window at the point (rig.measure): the register
            # error stands on its own, the constant's is bounded by the pulses seen.
            value, verdict, conclusion = shortfall_difference(
                e_reg, p, "the register error minus the pulse error")
            constant_error.record(
                take, n, desc_const, value, verdict=verdict, raw=raw,
                message=f"pulses: {p.facts()}; register error {e_reg:+.4f} %: {conclusion}")
            continue
        e_const = e_reg - p.mean
        # The reference's systematic error cancels in the difference; what remains is the
        # register resolution and the pulse measurement's own scatter and count quantisation.
        const_parts = [*resolution, quantisation(min(p.reference_counts))]
        if p.stdev is not None and len(p.errors) > 1:
            const_parts.append(repeatability(p.stdev, len(p.errors)))
        # None: the register did not advance (no constant is implied by a dead register).
        implied = (rating.constant(energy) * (1 + p.mean / 100) / (1 + e_reg / 100)
                   if advance > 0 else None)
        constant_error.record(
            take, n, desc_const, e_const, budget=combine(const_parts),
            raw={**raw, "implied_constant_imp_per_kwh": implied},
            message=f"pulse error {p.mean:+.4f} %, register error {e_reg:+.4f} %: the pulse "
                    f"output runs at {implied:.2f} imp/{unit} against the nameplate "
                    f"{rating.constant(energy):g} imp/{unit}"
                    if abs(e_const) > item.limit and implied is not None else
                    f"pulse error {p.mean:+.4f} %, register error {e_reg:+.4f} %: the "
                    f"register did not advance ({got.shown} {unit})"
                    if implied is None else
                    f"pulse error {p.mean:+.4f} %, register error {e_reg:+.4f} %")


def _whole_digit_dosage(procedure: MeterConstant, ctx: Context,
                        links: dict[int, MeterLink]) -> dict[int, _Advance]:
    """The register read with the currents off (voltage on, the register is still) before and
    after the dose; the reference register counts only while current flows. Each reading lies
    within one digit: the advance within +-1 digit (two rectangular half-digits)."""
    item, rating, bench, timebase = procedure.item, procedure.rating, ctx.bench, ctx.timebase
    energy, unit = item.energy, UNITS[item.energy]
    settle(bench, timebase, LoadPoint.voltage_only(rating.un), QUIET_S)
    before = _register_kwh(links, energy)
    bench.energy.start()
    bench.energise(procedure.load())
    timebase.dwell(procedure.dose_s(), label=f"dosage {procedure.energy_kwh():g} {unit}")
    bench.energise(LoadPoint.voltage_only(rating.un))
    timebase.dwell(QUIET_S, label="after dosage")
    bench.energy.stop()
    reference_kwh = bench.energy.energy()
    after = _register_kwh(links, energy)
    if not reference_kwh > 0:
        pytest.fail(f"{item.id}: the reference energy register read {reference_kwh} {unit} "
                    "after the dosage")
    digit_pct = 100.0 * REGISTER_DIGIT_KWH / reference_kwh
    note = f"{REGISTER_DIGIT_KWH} {unit} digit in {reference_kwh:.3f} {unit}"
    resolution = [rectangular("register reading before", digit_pct / 2, note=note),
                  rectangular("register reading after", digit_pct / 2, note=note)]
    return {n: _Advance(float(after[n] - before[n]), reference_kwh, resolution,
                        {"register_before_kwh": str(before[n]),
                         "register_after_kwh": str(after[n]), "register_digit_pct": digit_pct},
                        f"{before[n]} -> {after[n]}")
            for n in links}


def _edge_dosage(procedure: MeterConstant, ctx: Context,
                 links: dict[int, MeterLink]) -> dict[int, _Advance]:
    """The register read at the instant its last digit steps, at the start and the end of the
    dose, the reference's running energy read before each poll (rig.register_edge): the
    advance between the two steps against the reference energy between them."""
    item, rating, bench, timebase = procedure.item, procedure.rating, ctx.bench, ctx.timebase
    energy, unit = item.energy, UNITS[item.energy]
    address, power_w = REGISTERS[energy], procedure.power_w()
    bench.energy.start()
    bench.energise(procedure.load())
    starts = catch_edges(links, timebase, bench.energy, address, REGISTER_DIGIT_KWH, power_w)
    timebase.dwell(procedure.dose_s(), label=f"dosage {procedure.energy_kwh():g} {unit}")
    ends = catch_edges(links, timebase, bench.energy, address, REGISTER_DIGIT_KWH, power_w)
    bench.energise(LoadPoint.voltage_only(rating.un))
    bench.energy.stop()
    out = {}
    for n in links:
        start, end = starts[n], ends[n]
        reference_kwh = end.reference - start.reference
        if not reference_kwh > 0:
            pytest.fail(f"{item.id}: the reference energy register counted {reference_kwh} "
                        f"{unit} between the register's edges")
        out[n] = _Advance(end.meter - start.meter, reference_kwh,
                          edge_budget(start, end, reference_kwh, unit),
                          {"edge_start": start.as_dict(), "edge_end": end.as_dict()},
                          f"{start.meter:.3f} -> {end.meter:.3f}")
    return out
