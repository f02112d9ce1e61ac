"""Pulse outputs: each output's constant against the LED of its energy, with the error calculator
counting that output.

The accuracy items measure a meter on its test output, the LED (IEC 62052-11 / 62053-22: the
test output; standards.md 1.4 and 5.1); its four pulse outputs (A1000 manual 1.1 and Appendix C:
active import, active export, reactive Q1+Q2, reactive Q3+Q4) pulse at the nameplate constant
too, and a meter whose output runs on another constant bills a customer's pulse counter wrong
while its LED passes. Method, on all positions at once, at one load that drives the output
(rig.bench.outputs: its energy and direction):

a) the error e_led of the LED of that energy (the counted input cabled to the LED);
b) the counted input cabled to the output (rig.session.cabled_to: the operator moves the
   scanning head or pulse cable on a lab bench, the simulator its cable), the error e_out with
   the same nameplate constant; then cabled back as the bench file says.

Both errors are against the same reference standard at the same load minutes apart, so the
meter's own error and the reference's systematic error cancel in e_out - e_led: the output's
constant relative to the LED's (the active LED's against the register is the meter-constant
item). The limit is the meter-constant rule, a tenth of the class limit (standards.md 1.4:
relative error of the constant < 1/10 of the MPE [H] FR-VP), 0.05 % for class 0.5S active and
0.2 % for IEC 62053-23 class 2 reactive (the same rule on class 2 [L]).

The bench time is small: one short gate per output at Imax (at 1000 imp/kWh, 3 x 220 V,
10 A: 1.8 pulses/s), two operator steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reports.records import Repetitions
from rig.bench.outputs import LED_OF, METER_OUTPUTS
from rig.hands import CABLE_MOVE_S
from rig.instruments.loadpoint import LoadPoint
from rig.loads import Rating, metered_power, point_for
from rig.measure import (
    SOURCE_STABILITY,
    ErrorReading,
    PulseShortfall,
    expected_error_seconds,
    measure_errors,
    settle,
    shortfall_difference,
)
from rig.metrology import combine, quantisation, repeatability, source_stability
from rig.plan import PulseOutputItem
from rig.procedures import Context, Declared, EachPoint
from rig.recorder import Take

#: What is recorded per position (the declared measurement's quantity).
QUANTITY = "pulse output constant against the LED"


@dataclass(frozen=True)
class PulseOutputConstant(EachPoint):
    """e_out - e_led of one pulse output at one load, all positions at once."""

    item: PulseOutputItem
    rating: Rating

    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared(QUANTITY, "%", self.item.clause,
                         limit_low=-self.item.limit, limit_high=self.item.limit),)

    @property
    def energy(self) -> str:
        return METER_OUTPUTS[self.item.output].energy

    @property
    def led(self) -> str:
        return LED_OF[self.energy]

    def points(self) -> list[dict[str, Any]]:
        item = self.item
        return [{"load": self.rating.multiple(item.current), "pf": item.pf,
                 "direction": METER_OUTPUTS[item.output].direction, "output": item.output}]

    def load(self) -> LoadPoint:
        item = self.item
        return point_for(self.rating, self.energy, item.current, item.pf,
                         METER_OUTPUTS[item.output].direction)

    def planned_seconds(self) -> float:
        """Bench time on a real bench: the settling once, the gates of both errors (each
        expected_error_seconds counts a settling), two cable moves (rig.hands)."""
        power = metered_power(self.load(), self.energy, self.rating.wiring)
        gates = expected_error_seconds(power, self.rating.constant(self.energy), self.item.measure)
        return 2 * CABLE_MOVE_S + 2 * gates - self.item.measure.settling_s

    def measure(self, ctx: Context, take: Take) -> None:
        item, rig = self.item, ctx.rig
        (desc,) = take.points
        (declared,) = self.declared
        load = self.load()
        settle(ctx.bench, ctx.timebase, load, item.measure.settling_s)

        def errors() -> dict[int, ErrorReading | PulseShortfall]:
            return measure_errors(ctx.bench, ctx.timebase, load, self.energy, item.measure,
                                  ctx.numbers, self.rating)

        with rig.cabled_to(ctx.positions, self.led) as led_inputs:
            at_led = errors()
        with rig.cabled_to(ctx.positions, item.output) as out_inputs:
            at_out = errors()
        constant = self.rating.constant(self.energy)
        for n in ctx.numbers:
            led, out = at_led[n], at_out[n]
            output = (f"{METER_OUTPUTS[item.output].text} ({item.output}) on input "
                      f"{out_inputs[n]}")
            if isinstance(led, PulseShortfall) or isinstance(out, PulseShortfall):
                self._record_shortfall(take, n, desc, led, out, led_inputs[n], output,
                                       out_inputs[n])
                continue
            difference = out.mean - led.mean
            parts = [quantisation(min(out.reference_counts)),
                     quantisation(min(led.reference_counts)),
                     source_stability(SOURCE_STABILITY), source_stability(SOURCE_STABILITY)]
            parts += [repeatability(r.stdev, len(r.errors)) for r in (out, led)
                      if r.stdev is not None]
            declared.record(
                take, n, desc, difference, budget=combine(parts),
                repetitions=Repetitions(len(out.errors), out.mean, out.stdev),
                raw={"output": item.output, "output_input": out_inputs[n],
                     "output_errors": list(out.errors),
                     "output_reference_counts": list(out.reference_counts),
                     "led": self.led, "led_input": led_inputs[n],
                     "led_errors": list(led.errors),
                     "led_reference_counts": list(led.reference_counts),
                     "pulses": out.pulses, "constant": constant},
                message="" if abs(difference) <= item.limit else
                f"{output}: error {out.mean:+.4f} %, {self.led} on input {led_inputs[n]}: "
                f"{led.mean:+.4f} %, at the same load ({desc['load']:g} In, {self._pf_text()}, "
                f"{desc['direction']}, {out.pulses} pulses at the nameplate "
                f"{constant:g} imp/k{self._unit()}h): the output gives "
                f"{1 + difference / 100:.4f} of the LED's pulses per k{self._unit()}h")

    def _record_shortfall(self, take: Take, n: int, desc: dict[str, Any],
                          led: ErrorReading | PulseShortfall, out: ErrorReading | PulseShortfall,
                          led_input: str, output: str, out_input: str) -> None:
        """e_out - e_led where the LED or the output gave fewer pulses than its window allowed:
        the value, verdict and conclusion of rig.measure.shortfall_difference, the facts of
        each as the message. No cause is named: a cable, the output and its wiring look the
        same from the calculator."""
        (declared,) = self.declared
        value, verdict, conclusion = shortfall_difference(
            out, led, "the output's error against the LED's")
        declared.record(
            take, n, desc, value, verdict=verdict,
            raw={"output": self.item.output, "output_input": out_input, "led": self.led,
                 "led_input": led_input, "at_output": out.raw(), "at_led": led.raw(),
                 "constant": self.rating.constant(self.energy)},
            message=f"at {desc['load']:g} In, {self._pf_text()}, {desc['direction']}: "
                    f"{output}: {out.facts()}; {self.led} on input {led_input}: {led.facts()}: "
                    f"{conclusion}")

    def _pf_text(self) -> str:
        return f"PF {self.item.pf}" if self.energy == "active" else f"sin phi {self.item.pf}"

    def _unit(self) -> str:
        return "W" if self.energy == "active" else "var"
