"""How long a plan takes on a real bench: the sum of dwells and settling, per family.

The plugin prints this before a run (on the simulated bench the same plan takes seconds,
because virtual time jumps). The figures follow the methods the plan tests use; where a
method waits for the meter (demand cycles, load-profile intervals, a clock day) the wait is
the estimate.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from rig.loads import Rating, metered_power, point_for, pulse_period_s
from rig.measure import expected_error_seconds
from rig.plan import TOU_BOUNDARIES_PER_PROFILE, Measure, no_load_minutes
from rig.procedures.pulse_outputs import PulseOutputConstant
from rig.procedures.registers import QuadrantRegister

#: Meter communication per test (sign-on, readouts before and after) on a lab bench.
READ_S = 15.0
#: Entering the programming state: the reset button held 8 s (A1000 manual 2.2.1) and the writes.
PROGRAMMING_S = 15.0
#: The switch-delay test: for each profile written the lead to its first boundary
#: (rig/procedures/tou.py LEAD), then a minute per boundary; two clock readings (vernier
#: polling, below) around them.
TOU_LEAD_S = 120.0
#: One clock offset bracketed by vernier polling: up to 1/resolution polls an R1 exchange
#: (0.43 s at 9600 Bd, tr 200 ms) apart: 50 polls for 0.02 s.
CLOCK_READING_S = 25.0
#: Per date and time checked by the TOU priority test (set clock, read tariff).
TOU_DATE_S = 20.0
TOU_PRIORITY_DATES = 14
#: Events: settling at the normal load, the clock-offset reading and the wait after the
#: end's confirmation (the debounce itself is the item's debounce_s).
EVENT_MARGIN_S = 20.0
#: Billing: per month, the load (60 s), setting the clock (8 s per position) 150 s before the
#: reading time, the reading (or the power-down across it) and reading the history.
BILLING_MONTH_S = 360.0
#: Dips and interruptions: recovery and register reads around each test.
INTERRUPTION_MARGIN_S = 60.0
#: Dips, interruptions, power-down: rest at Un beyond the meter's 60 s save interval (plus
#: settling); the power-down test then loads at Imax for less than the save interval, energy
#: only a power-down save keeps (rig/procedures/interruption.py).
POWER_DOWN_REST_S = 70.0
POWER_DOWN_LOAD_S = 40.0
#: A plan item's own time limit (pytest-timeout): its planned wall time on a real bench times
#: the factor, plus the margin (instrument retries, an operator step, and the session start the
#: first item's setup carries). The project's `timeout = 300` is for tests/ only.
TIME_LIMIT_FACTOR = 1.5
TIME_LIMIT_MARGIN_S = 900.0


def planned_seconds(item: Any, point: Any, direction: str | None, rating: Rating) -> float:
    """Wall seconds one parametrised plan test takes on a real bench."""
    family = item.family
    if family == "accuracy":
        load = point_for(
            rating, item.energy, point.current, item.pf, direction or "import", item.element
        )
        power = metered_power(load, item.energy, rating.wiring)
        return expected_error_seconds(power, rating.constant(item.energy), item.measure)
    if family == "single_vs_balanced":
        load = point_for(rating, "active", item.current, item.pf)
        balanced = expected_error_seconds(
            metered_power(load, "active", rating.wiring), rating.meter_constant, item.measure
        )
        single = expected_error_seconds(
            metered_power(load, "active", rating.wiring) / 3, rating.meter_constant, item.measure
        )
        return balanced + len(item.elements) * single
    if family == "starting":
        load = point_for(rating, item.energy, item.current, item.pf)
        period = pulse_period_s(
            metered_power(load, item.energy, rating.wiring), rating.constant(item.energy)
        )
        directions = 1 if direction else len(item.directions)
        return directions * (item.pulses + 1) * period * item.time_factor
    if family == "no_load":
        minutes = no_load_minutes(
            item.formula_constant, rating.constant(item.energy), rating.elements, rating.un,
            rating.imax,
        )
        return minutes * 60.0 * item.time_factor
    if family == "meter_constant":
        load = point_for(rating, "active", item.current, item.pf)
        power = metered_power(load, "active", rating.wiring)
        # The error by pulses at the point, then the dosage.
        pulses = expected_error_seconds(power, rating.meter_constant, item.measure)
        return pulses + item.energy_kwh * 3.6e6 / power + 2 * READ_S
    if family == "pulse_output":
        return PulseOutputConstant(item, rating).planned_s()
    if family == "register":
        # One collected test is one quadrant; every quadrant's load has the same |Q|, so the
        # dose of Q1 as the procedure runs it (its own load angle) stands for each.
        return QuadrantRegister(item, rating, 1).dose_s() + 2 * READ_S
    if family == "register_dosage":
        # One collected test is one tariff in one direction: programming the calendar twice
        # (8 s button hold each, manual 2.2.1), the dose, the reads.
        load = point_for(rating, "active", item.current, item.pf, direction or "import")
        power = metered_power(load, "active", rating.wiring)
        return 2 * PROGRAMMING_S + item.energy_kwh * 3.6e6 / power + 2 * READ_S
    if family == "register_map":
        # One collected test is one quadrant in one tariff: the calendar programmed twice, the
        # reactive dose at PF 0.5, the reads.
        load = point_for(rating, "reactive", item.current, "0.5L")
        return (2 * PROGRAMMING_S + 2 * READ_S
                + item.energy_kvarh * 3.6e6 / metered_power(load, "reactive", rating.wiring))
    if family == "register_capacity":
        return item.hours * 3600.0 + 2 * READ_S
    if family == "influence":
        load = point_for(rating, "active", item.current, item.pf)
        power = metered_power(load, "active", rating.wiring)
        return 2 * expected_error_seconds(power, rating.meter_constant, item.measure)
    if family == "demand":
        return 2 * item.cycle_min * 60.0 + (item.interval_min or item.cycle_min) * 60.0 + READ_S
    if family == "tou":
        if item.check == "switch_delay":
            profiles = math.ceil(item.boundaries / TOU_BOUNDARIES_PER_PROFILE)
            return (profiles * TOU_LEAD_S + item.boundaries * 60.0 + 2 * CLOCK_READING_S
                    + READ_S)
        return TOU_PRIORITY_DATES * TOU_DATE_S
    if family == "clock":
        return item.duration_h * 3600.0 + 2 * READ_S + CLOCK_READING_S
    if family == "events":
        seconds = item.duration_s + item.debounce_s + EVENT_MARGIN_S + READ_S
        if item.event == "voltage_loss":
            # Debounce check: two dips of 2/3 debounce 1/6 debounce apart, then one debounce.
            seconds += (2 * 2 / 3 + 1 / 6 + 1) * item.debounce_s + EVENT_MARGIN_S
        return seconds
    if family == "billing":
        return item.months * BILLING_MONTH_S
    if family == "load_profile":
        # Up to one interval to the first boundary, the partial interval, the whole ones and
        # the two intervals of the power-down.
        return (item.intervals + 4) * 900.0 + READ_S
    if family == "interruption":
        seconds = item.duration_s * item.repetitions + item.gap_s * (item.repetitions - 1)
        # Rest at Un beyond the meter's save interval first; the power-down then loads.
        seconds += POWER_DOWN_REST_S
        if item.kind == "power_down":
            seconds += POWER_DOWN_LOAD_S
        return seconds + INTERRUPTION_MARGIN_S
    raise ValueError(f"no estimate for plan family {family!r}")


def time_limit_s(planned_s: float) -> float:
    """Seconds after which a plan item that was planned to take `planned_s` is stopped."""
    return planned_s * TIME_LIMIT_FACTOR + TIME_LIMIT_MARGIN_S


def estimate(items: Iterable[tuple[Any, Any, str | None]], rating: Rating) -> dict[str, float]:
    """Seconds per family for the given (item, point, direction) tests."""
    totals: dict[str, float] = defaultdict(float)
    for item, point, direction in items:
        totals[item.family] += planned_seconds(item, point, direction, rating)
    return dict(totals)


def _hms(seconds: float) -> str:
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600:d} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min {s % 60:02d} s"


def estimate_lines(items: Iterable[tuple[Any, Any, str | None]], rating: Rating) -> list[str]:
    totals = estimate(items, rating)
    lines = ["meter-test-rig: estimated wall time on a real bench (dwells and settling):"]
    for family, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {family:<20} {_hms(seconds):>14}")
    lines.append(f"  {'total':<20} {_hms(sum(totals.values())):>14}")
    return lines


__all__ = ["Measure", "estimate", "estimate_lines", "planned_seconds", "time_limit_s"]
