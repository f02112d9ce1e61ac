"""Procedures that count meter pulses in a window: starting current and no-load (creep).

Starting: the meter starts and continues to register at 0.001 In (active) and 0.003 In
(reactive class 2), PF 1, each direction (standards.md 1.4 [H], 2.1 [H]). The point is applied,
then the error calculators count meter pulses until `pulses` have come, for at most the time
`pulses` + 1 pulses take at the ideal rate times the item's `time_factor` (the limit): a meter
that starts ends the test at its pulse, within `pulses` ideal periods (the first pulse comes
within one period of the load, the others a period apart), not at the end of the window.

No-load: 115 % Un on the voltage circuits, current circuits open; the test output produces at
most one pulse in Delta-t >= C 1e6 / (k m Un Imax) minutes: the active output with C = 600
(class 0.5S, standards.md 1.4 [M] constant, [H] criterion), the reactive output with C = 480
(IEC 62053-23 class 2, standards.md 2.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rig.instruments.loadpoint import LoadPoint
from rig.loads import Rating, metered_power, point_for, pulse_period_s
from rig.measure import count_pulses, settle
from rig.plan import NoLoadItem, StartingItem, current_label, no_load_minutes
from rig.procedures import Context, Declared, EachPoint
from rig.recorder import Take

#: After the source changes, before counting: the meter's and calculators' start-up.
SETTLING_S = 10.0


@dataclass(frozen=True)
class Starting(EachPoint):
    """Pulses at the starting current in one direction, all positions at once."""

    item: StartingItem
    rating: Rating
    direction: str
    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared("pulses at starting current", "pulses", self.item.clause,
                         limit_low=float(self.item.pulses), limit_high=None),)

    def points(self) -> list[dict[str, Any]]:
        item = self.item
        return [{"load": self.rating.multiple(item.current), "pf": item.pf,
                 "direction": self.direction, "energy": item.energy}]

    def load(self) -> LoadPoint:
        return point_for(self.rating, self.item.energy, self.item.current, self.item.pf,
                         self.direction)

    def window_s(self) -> tuple[float, float]:
        """The counting window and the ideal pulse period at the point, in seconds."""
        item = self.item
        period = pulse_period_s(metered_power(self.load(), item.energy, self.rating.wiring),
                                self.rating.constant(item.energy))
        return (item.pulses + 1) * period * item.time_factor, period

    def planned_seconds(self) -> float:
        """Settling, then the pulses of a meter that starts, a period apart after the first:
        that comes on average half an ideal period after the load is applied, but a whole
        period after the item's previous direction, whose test ended on a pulse of the same
        output (the meter's pulse accumulator was empty then); and half a poll step of the
        count (rig.measure.count_pulses polls every 1/20 of the window)."""
        window, period = self.window_s()
        first = 0.5 if self.direction == self.item.directions[0] else 1.0
        return SETTLING_S + (first + self.item.pulses - 1) * period + window / 40

    def measure(self, ctx: Context, take: Take) -> None:
        item, rating = self.item, self.rating
        (desc,) = take.points
        (declared,) = self.declared
        window, period = self.window_s()
        settle(ctx.bench, ctx.timebase, self.load(), SETTLING_S)
        # The gate closes pulses - 1 periods after the first pulse at the earliest.
        counts = count_pulses(ctx.bench, ctx.timebase, item.energy, rating.constant(item.energy),
                              ctx.numbers, item.pulses, window,
                              expected_s=(item.pulses - 1) * period)
        for p, n in counts.items():
            declared.record(
                take, p, desc, float(n),
                raw={"window_s": window, "ideal_period_s": period},
                message="" if n >= item.pulses else
                f"{item.energy} {self.direction} at {current_label(item.current)} "
                f"({rating.multiple(item.current):g} In), PF {item.pf}: {n} pulse(s) "
                f"counted in {window:.0f} s, expected {item.pulses} (ideal period "
                f"{period:.0f} s): the meter does not start at this current",
            )


@dataclass(frozen=True)
class NoLoad(EachPoint):
    """Pulses with voltage only over the formula time, all positions at once."""

    item: NoLoadItem
    rating: Rating
    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared(f"{self.item.energy} pulses without current", "pulses",
                         self.item.clause, limit_low=None,
                         limit_high=float(self.item.max_pulses)),)

    def minutes(self) -> float:
        """The formula time Delta-t in minutes (standards.md 1.4)."""
        rating = self.rating
        return no_load_minutes(self.item.formula_constant, rating.constant(self.item.energy),
                               rating.elements, rating.un, rating.imax)

    def window_s(self) -> float:
        return self.minutes() * 60.0 * self.item.time_factor

    def planned_seconds(self) -> float:
        """Settling, then the formula time times the item's factor."""
        return SETTLING_S + self.window_s()

    def points(self) -> list[dict[str, Any]]:
        item = self.item
        return [{"voltage_factor": item.voltage_factor, "window_s": round(self.window_s(), 1),
                 "energy": item.energy}]

    def measure(self, ctx: Context, take: Take) -> None:
        item, rating = self.item, self.rating
        (desc,) = take.points
        (declared,) = self.declared
        window = self.window_s()
        settle(ctx.bench, ctx.timebase, LoadPoint.voltage_only(rating.un * item.voltage_factor),
               SETTLING_S)
        counts = count_pulses(ctx.bench, ctx.timebase, item.energy,
                              rating.constant(item.energy), ctx.numbers, item.max_pulses + 1,
                              window)
        for p, n in counts.items():
            declared.record(
                take, p, desc, float(n),
                raw={"formula_minutes": self.minutes()},
                message="" if n <= item.max_pulses else
                f"{n} or more {item.energy} pulses in {window / 60:.1f} min at "
                f"{item.voltage_factor:g} Un with no current: the meter creeps",
            )
