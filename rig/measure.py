"""Measurement procedures shared by the plans: error-calculator runs on all positions at once.

The method (instruments.md section 3): apply the load point, let the meters settle, then arm
every position's error calculator with a pulse count N chosen from the meter constant and the
power (rig.plan.pulses_for), wait through the bench timebase until all are ready, read the
errors; repeat. The gate opens and closes on meter pulse edges, so the only quantisation is
+-1 reference count. All positions are measured at the same time.

Repetitions chained on the closing edge: a calculator that restarts waits for the meter's next
pulse edge to open its gate, up to one pulse period per repetition. In continuous mode a ZERA
COM5003 error calculator on a scanning-head or frequency input runs on instead: its result is
set at each gate's end and the calculator is not restarted (STATUS READY + STARTED, MEASNUM
counting up; zera-classes sec1modulemeasprogram.cpp setECResultAndResetInt, checkForRestart:
a restart, with MWAIT, only on an HK input), so the closing edge opens the next gate. Where
every calculator of the group does (`chains_repetitions`, rig.instruments) and the point's
`measure.chain` allows, the repetitions run as one continuous measurement and each gate's
result is read while the next one counts; the planned time is one first-edge wait and N pulse
periods per repetition. Other calculators (a ZERA MAD, whose repetition mode's gate timing is
not documented) restart per repetition, one pulse period more each than planned.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from rig.bench import Bench
from rig.instruments.ecgroup import ECGroup
from rig.instruments.loadpoint import LoadPoint
from rig.instruments.roles import ECState, ECStatus, Quantity
from rig.loads import Rating, metered_power, pulse_period_s
from rig.metrology import DEFAULT_COVERAGE_FACTOR, UncertaintyBudget, error_budget
from rig.plan import Measure, pulses_for
from rig.timebase import Timebase

# Stated expanded uncertainty of the reference when the bench file gives none (k = 2), in %:
# a class 0.02 reference standard (instruments.md 1: PRS 600.3 class 0.02).
DEFAULT_REFERENCE_UNCERTAINTY = 0.02
# Source stability during a gate, half-width in % of power (a figure a lab states for its
# source; the simulated source is configured within it).
SOURCE_STABILITY = 0.005


class MeasurementError(RuntimeError):
    """A measurement could not be taken (no pulses, calculator aborted); names the position."""


@dataclass(frozen=True)
class ErrorReading:
    """The readings of one position at one point."""

    position: int
    pulses: int
    errors: tuple[float, ...]
    reference_counts: tuple[int, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.errors)

    @property
    def stdev(self) -> float | None:
        if len(self.errors) < 2:
            return None
        # In floats: statistics.stdev works in exact fractions, costly once per point and
        # position, and no more exact than the readings themselves.
        mean = self.mean
        return math.sqrt(sum((e - mean) ** 2 for e in self.errors) / (len(self.errors) - 1))

    def budget(self, reference_expanded: float) -> UncertaintyBudget:
        return error_budget(
            reference_expanded=reference_expanded,
            reference_counts=min(self.reference_counts),
            readings_stdev=self.stdev,
            readings_n=len(self.errors),
            source_half_width=SOURCE_STABILITY,
        )


def reference_uncertainty(bench: Bench) -> tuple[float, str]:
    """The reference standard's expanded uncertainty in % re-expressed at k = 2 (what the
    budgets take, `error_budget(reference_k=2)`), from the certificate's value, unit and k in the
    bench file: U = 0.03 % at k = 3 gives 0.02 % at k = 2 (the same standard uncertainty,
    0.01 %). The default when the file states none."""
    stated = bench.config.instruments.reference.uncertainty
    if stated is not None:
        return stated.percent_at(DEFAULT_COVERAGE_FACTOR), f"bench file: {stated}"
    return DEFAULT_REFERENCE_UNCERTAINTY, "default: class 0.02 reference (no figure in bench file)"


def settle(bench: Bench, timebase: Timebase, point: LoadPoint, seconds: float) -> None:
    """Apply `point` (checked against the bench limits first), let the meters settle, then
    verify the reference standard sees that load (rig.bench.loadcheck): nothing is measured on
    a wrong load."""
    bench.energise(point)
    timebase.dwell(seconds, label="settling")
    bench.verify_load(point)


def measure_errors(
    bench: Bench,
    timebase: Timebase,
    point: LoadPoint,
    energy: str,
    measure: Measure,
    positions: list[int],
    rating: Rating,
) -> dict[int, ErrorReading]:
    """Percentage error of every position at `point` (already applied and settled)."""
    quantity = Quantity.ACTIVE if energy == "active" else Quantity.REACTIVE
    bench.reference.set_mode(rating.wiring, quantity)  # type: ignore[arg-type]
    power = metered_power(point, energy, rating.wiring)
    constant = rating.constant(energy)
    pulses = pulses_for(constant, power, measure)
    period = pulse_period_s(power, constant)
    # Up to one period until the first edge opens the gate, then N periods.
    expected = period * (pulses + 1)
    errors: dict[int, list[float]] = {p: [] for p in positions}
    counts: dict[int, list[int]] = {p: [] for p in positions}
    group = bench.ec_group(positions)
    if measure.chain and measure.repetitions > 1 and chains_repetitions(group):
        _chained(group, timebase, constant, pulses, quantity, period, measure.repetitions,
                 errors, counts)
        return {p: ErrorReading(p, pulses, tuple(errors[p]), tuple(counts[p]))
                for p in positions}
    for _ in range(measure.repetitions):
        group.configure(constant, pulses, quantity)
        group.start()
        states = _stopped_states(group, timebase, expected, period, pulses)
        failed = [p for p, state in states.items() if state is not ECState.READY]
        if failed:
            status = group.subset(failed[:1]).statuses()[failed[0]]  # its progress, for the message
            raise MeasurementError(
                f"position {failed[0]}: error calculator {status.state.value} "
                f"after {status.progress:.0f} % of {pulses} pulses"
            )
        for p, r in group.results().items():
            errors[p].append(r.error)
            counts[p].append(r.reference_counts)
    return {p: ErrorReading(p, pulses, tuple(errors[p]), tuple(counts[p])) for p in positions}


def chains_repetitions(group: ECGroup) -> bool:
    """Whether every calculator of the group opens its next gate on the closing edge in
    continuous mode (an optional attribute of the drivers: module doc)."""
    return all(getattr(ec, "chains_repetitions", False) for ec in group.ecs.values())


def _chained(group: ECGroup, timebase: Timebase, constant: float, pulses: int,
             quantity: Quantity, period: float, repetitions: int,
             errors: dict[int, list[float]], counts: dict[int, list[int]]) -> None:
    """`repetitions` gates of `pulses` pulses as one continuous measurement (module doc): each
    gate's error read after it closed, while the next one counts. A gate that closed unread
    (a meter much faster than its constant) is skipped: the next one read stands in for it,
    every result still a whole gate of the same pulses."""
    group.configure(constant, pulses, quantity, continuous=True)
    group.start()
    seen = {p: 0 for p in group.positions}
    latest: dict[int, ECStatus] = {}

    def closed() -> bool:
        latest.update(group.statuses())
        return all(s.state is ECState.ABORTED or s.measurements > seen[p]
                   for p, s in latest.items())

    try:
        for k in range(repetitions):
            # The first gate opens on the next edge; the others on the closing edge.
            expected = period * (pulses + (1 if k == 0 else 0))
            timebase.wait_until(closed, expected_s=expected, timeout_s=expected * 3 + 30.0,
                                poll_s=max(period / 4, 0.05), label=f"{pulses} pulses",
                                check_first=False)
            for p, status in latest.items():
                if status.state is ECState.ABORTED or status.error is None:
                    raise MeasurementError(
                        f"position {p}: error calculator {status.state.value} after "
                        f"{status.progress:.0f} % of {pulses} pulses (repetition {k + 1}, "
                        "continuous)")
                seen[p] = status.measurements
                errors[p].append(status.error)
                # The gate's reference count from its error and target, as a single result's.
                counts[p].append(round(status.target / (1 + status.error / 100)))
    finally:
        group.abort()


def _stopped_states(
    group: ECGroup, timebase: Timebase, expected: float, period: float, pulses: int
) -> dict[int, ECState]:
    """Poll the states (the cheap query) until every gate has stopped; the states last read."""
    states: dict[int, ECState] = {}

    def stopped() -> bool:
        states.update(group.states())
        return all(s in (ECState.READY, ECState.ABORTED) for s in states.values())

    timebase.wait_until(
        stopped,
        expected_s=expected,
        timeout_s=expected * 3 + 30.0,
        poll_s=max(period / 4, 0.05),
        label=f"{pulses} pulses",
        check_first=False,  # just armed: no gate has closed yet
    )
    return states


def count_pulses(
    bench: Bench,
    timebase: Timebase,
    energy: str,
    constant: float,
    positions: list[int],
    at_least: int,
    window_s: float,
    expected_s: float | None = None,
) -> dict[int, int]:
    """Meter pulses seen at each position within `window_s`, counted up to `at_least`.

    The error calculator's gate opens on the first pulse and counts `at_least - 1` more, so
    its state tells the count: waiting = 0, running = 1 + pulses seen in the gate, ready =
    `at_least` (or more). The wait ends early once every position reached `at_least`;
    `expected_s`: when that is due (default the whole window): the simulated bench's virtual
    time jumps there before it polls, so a window set for the worst case is not waited out.
    """
    if at_least < 1:
        raise ValueError(f"count_pulses: at_least must be >= 1, got {at_least}")
    quantity = Quantity.ACTIVE if energy == "active" else Quantity.REACTIVE
    gate = max(at_least - 1, 1)
    group = open_pulse_gates(bench, positions, constant, gate, quantity)

    def seen() -> dict[int, int]:
        states = group.states()  # the cheap query decides ...
        running = [p for p, state in states.items() if state is ECState.RUNNING]
        # ... only a running gate needs its progress
        statuses = group.subset(running).statuses() if running else {}
        return {
            p: pulses_seen(statuses[p].state, statuses[p].progress, gate)
            if p in statuses
            else pulses_seen(state, 0.0, gate)
            for p, state in states.items()
        }

    def all_reached() -> bool:
        return all(n >= at_least for n in seen().values())

    # When the window is over, what was seen is the result.
    with contextlib.suppress(TimeoutError):
        timebase.wait_until(
            all_reached,
            expected_s=window_s if expected_s is None else min(expected_s, window_s),
            timeout_s=window_s,
            poll_s=max(window_s / 20, 0.1),
            label="pulse count",
            check_first=False,  # just armed: no pulse has been seen yet
        )
    counts = {p: min(n, at_least) for p, n in seen().items()}
    group.abort()
    return counts


def open_pulse_gates(
    bench: Bench, positions: list[int], constant: float, gate: int, quantity: Quantity
) -> ECGroup:
    """Error calculators counting meter pulses: each gate opens on a pulse and closes after
    `gate` more (read with `pulses_seen`)."""
    group = bench.ec_group(positions)
    group.configure(constant, gate, quantity)
    group.start()
    return group


def pulses_seen(state: ECState, progress: float, gate: int) -> int:
    """Meter pulses seen by a pulse gate of `gate` pulses: waiting = 0, running = 1 + pulses
    in the gate (from the progress in %), ready = gate + 1."""
    if state is ECState.READY:
        return gate + 1
    if state is ECState.RUNNING:
        return 1 + math.floor(progress * gate / 100.0 + 1e-9)
    return 0


#: Whether the bench the plan is planned for chains repetitions: every position's calculator
#: does (rig.bench.calculators.chains_repetitions). A group that cannot chain restarts each
#: gate, so an estimate that assumed chaining would be short by a first edge per repetition.
_BENCH_CHAINS: ContextVar[bool] = ContextVar("bench_chains", default=True)


@contextlib.contextmanager
def planned_for_bench(chains: bool) -> Iterator[None]:
    """Planned error-point times inside this block are for a bench whose calculators chain
    (`chains`) or restart each repetition."""
    token = _BENCH_CHAINS.set(chains)
    try:
        yield
    finally:
        _BENCH_CHAINS.reset(token)


def expected_error_seconds(power: float, constant: float, measure: Measure) -> float:
    """Wall time of one error point on a real bench: settling plus the repetitions' gates,
    each waiting for its first edge, or chained on the closing edge (one first edge in all:
    module doc) where the plan allows it and the bench's calculators chain."""
    if power <= 0:
        return measure.settling_s
    pulses = pulses_for(constant, power, measure)
    chained = measure.chain and _BENCH_CHAINS.get() and measure.repetitions > 1
    first_edges = 1 if chained else measure.repetitions
    return measure.settling_s + pulse_period_s(power, constant) * (
        measure.repetitions * pulses + first_edges)


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


class ReferenceEnergy:
    """Cumulative reference energy (kWh) since `start()`: the reference standard's energy
    register when the bench has one, else its power integrated between load changes (the load
    is constant between two calls of `changed()`)."""

    def __init__(self, bench: Bench, timebase: Timebase, wiring: str) -> None:
        self.bench = bench
        self.timebase = timebase
        self.wiring = wiring
        self._sum = 0.0
        self._t = 0.0
        self._p = 0.0

    def start(self) -> None:
        self.bench.reference.set_mode(self.wiring, Quantity.ACTIVE)  # type: ignore[arg-type]
        if self.bench.energy is not None:
            self.bench.energy.start()
            return
        self._sum, self._t, self._p = 0.0, self.timebase.now(), self.bench.reference.read().p

    def changed(self, off: bool = False) -> None:
        """Call right after the load changed (fallback integration only); `off`: the source
        delivers nothing now (no reading is taken of a dead source)."""
        if self.bench.energy is None:
            self.now()
            self._p = 0.0 if off else self.bench.reference.read().p

    def now(self) -> float:
        if self.bench.energy is not None:
            return self.bench.energy.energy()
        t = self.timebase.now()
        self._sum += self._p * (t - self._t) / 3.6e6
        self._t = t
        return self._sum

    def stop(self) -> None:
        if self.bench.energy is not None:
            self.bench.energy.stop()


def dwell_until(timebase: Timebase, true_s: float, label: str) -> None:
    timebase.dwell(max(0.0, true_s - timebase.now()), label=label)
