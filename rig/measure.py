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

A position whose gate does not close within the point's window (`gate_window_s`: three times
the expected time and 30 s) does not stop the others: the wait ends when every gate closed or
the window is over; the gates that closed are read as always, and each one still open is a
`PulseShortfall`: the facts of a meter that was energised at the point and gave fewer pulses
than the window allowed (the procedures record it as a failure at that position), not measured
again at this point's later repetitions. The next point measures every position again.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from reports.records import Verdict
from rig.bench import Bench
from rig.instruments.ecgroup import ECGroup
from rig.instruments.loadpoint import LoadPoint
from rig.instruments.roles import ECState, ECStatus, Quantity
from rig.loads import Rating, metered_power, pulse_period_s
from rig.metrology import DEFAULT_COVERAGE_FACTOR, UncertaintyBudget, error_budget
from rig.plan import Measure, pulses_for
from rig.progress import load_text
from rig.timebase import Timebase, TimebaseTimeout

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

    def facts(self) -> str:
        return f"error {self.mean:+.4f} %"

    def raw(self) -> dict[str, Any]:
        return {"errors": list(self.errors), "reference_counts": list(self.reference_counts),
                "pulses": self.pulses}

    def budget(self, reference_expanded: float) -> UncertaintyBudget:
        return error_budget(
            reference_expanded=reference_expanded,
            reference_counts=min(self.reference_counts),
            readings_stdev=self.stdev,
            readings_n=len(self.errors),
            source_half_width=SOURCE_STABILITY,
        )


@dataclass(frozen=True)
class PulseShortfall:
    """A position whose error calculator's gate did not close within the point's window: the
    meter, energised at `load`, gave `seen` of the `needed` pulses the gate waits for between
    `start` and `end` (the bench clock: virtual time on the simulated bench, wall time on a lab
    bench), at repetition `repetition` of `repetitions`; `errors`: the repetitions before it.
    `gate`: the gate's pulse count N; it needs N + 1 edges when it opens on the first, N when it
    opened on the previous gate's closing edge (chained)."""

    position: int
    load: LoadPoint
    energy: str
    gate: int
    needed: int
    seen: int
    period_s: float  # ideal pulse period at the load's power and the nameplate constant
    start: float  # the gate armed (read after the start command returned)
    end: float  # the window over (read before the gate's last status)
    repetition: int
    repetitions: int
    errors: tuple[float, ...] = ()

    @property
    def window_s(self) -> float:
        return self.end - self.start

    @property
    def error_bound(self) -> float:
        """The meter's error is below this, in %: what the pulses seen prove.

        A meter emits a pulse each time its registered energy crosses a multiple of 1/C, so
        in any interval it registers less than (n + 1)/C for n pulses seen. The calculator
        counted over at least [start, end] (armed before `start`, read after `end`), in which
        the load delivered P (end - start); so the error E/E_ref - 1 < (n + 1) T0 /
        (end - start) - 1, T0 = 3.6e6 / (P C) the ideal period. P is the set point's, which
        the reference standard verified after settling within the bench file's load check
        (rig.bench.loadcheck: a few %, which moves the bound by that share of (n + 1) T0 / T,
        itself under 2/3: see below). An upper bound, not an estimate: a gate that
        did not close saw at most the N + 1 pulses (N chained) it needed minus one, in a
        window of three times their ideal time and 30 s, so the bound is below -66 % (-33 %
        for a chained gate of one pulse), outside every limit of the plan."""
        return 100.0 * ((self.seen + 1) * self.period_s / self.window_s - 1.0)

    def facts(self) -> str:
        """What was applied, expected, seen and when, as a message states it."""
        def clock(t: float) -> str:
            return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))

        before = ("" if not self.errors else
                  "; earlier repetitions " + ", ".join(f"{e:+.4f} %" for e in self.errors))
        return (f"{load_text(self.load)}, {self.energy} energy: {self.seen} meter pulse(s) "
                f"counted in {self.window_s:.1f} s ({clock(self.start)} to {clock(self.end)} "
                f"bench clock, repetition {self.repetition} of {self.repetitions}), "
                f"{self.needed} expected in {self.needed * self.period_s:.1f} s at the ideal "
                f"period {self.period_s:.4g} s: error below {self.error_bound:+.1f} %{before}")

    def raw(self) -> dict[str, Any]:
        """The facts for a record's raw data."""
        return {"pulses": self.gate, "pulses_needed": self.needed, "pulses_seen": self.seen,
                "ideal_period_s": self.period_s, "window_start": self.start,
                "window_end": self.end, "repetition": self.repetition,
                "errors_before": list(self.errors), "error_upper_bound": self.error_bound}


def gate_window_s(expected_s: float) -> float:
    """How long a point's gates may take before a gate still open counts as a shortfall: three
    times the expected time and 30 s (a meter's own error, the first edge's wait and the
    simulated bench's poll steps stay far inside it)."""
    return expected_s * 3 + 30.0


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
) -> dict[int, ErrorReading | PulseShortfall]:
    """Percentage error of every position at `point` (already applied and settled); a position
    whose gate did not close within the window: its shortfall (module doc)."""
    quantity = Quantity.ACTIVE if energy == "active" else Quantity.REACTIVE
    bench.reference.set_mode(rating.wiring, quantity)  # type: ignore[arg-type]
    power = metered_power(point, energy, rating.wiring)
    constant = rating.constant(energy)
    pulses = pulses_for(constant, power, measure)
    period = pulse_period_s(power, constant)
    errors: dict[int, list[float]] = {p: [] for p in positions}
    counts: dict[int, list[int]] = {p: [] for p in positions}
    short: dict[int, PulseShortfall] = {}

    def shortfall(p: int, needed: int, status: ECStatus, start: float, end: float,
                  k: int) -> PulseShortfall:
        return PulseShortfall(p, point, energy, pulses, needed,
                              pulses_seen(status.state, status.progress, pulses), period,
                              start, end, k + 1, measure.repetitions, tuple(errors[p]))

    group = bench.ec_group(positions)
    if measure.chain and measure.repetitions > 1 and chains_repetitions(group):
        _chained(group, timebase, constant, pulses, quantity, period, measure.repetitions,
                 errors, counts, short, shortfall)
    else:
        live = group
        for k in range(measure.repetitions):
            live.configure(constant, pulses, quantity)
            live.start()
            start = timebase.now()
            # Up to one period until the first edge opens the gate, then N periods.
            states = _stopped_states(live, timebase, period * (pulses + 1), period, pulses)
            aborted = [p for p, state in states.items() if state is ECState.ABORTED]
            if aborted:
                # its progress, for the message
                status = live.subset(aborted[:1]).statuses()[aborted[0]]
                raise MeasurementError(
                    f"position {aborted[0]}: error calculator {status.state.value} "
                    f"after {status.progress:.0f} % of {pulses} pulses"
                )
            open_ = [p for p, state in states.items() if state is not ECState.READY]
            if open_:
                end = timebase.now()
                still = live.subset(open_)
                for p, status in still.statuses().items():
                    short[p] = shortfall(p, pulses + 1, status, start, end, k)
                still.abort()
                live = live.subset([p for p in live.positions if p not in short])
                if not live.positions:
                    break
            for p, r in live.results().items():
                errors[p].append(r.error)
                counts[p].append(r.reference_counts)
    return {p: short[p] if p in short else
            ErrorReading(p, pulses, tuple(errors[p]), tuple(counts[p])) for p in positions}


def shortfall_difference(minuend: float | ErrorReading | PulseShortfall,
                         subtrahend: float | ErrorReading | PulseShortfall,
                         what: str) -> tuple[float | None, Verdict, str]:
    """`minuend - subtrahend` of two errors in % (a float, a reading) where a shortfall stands
    for one or both: the value, the verdict and the conclusion that states it (`what`: the
    difference's name). A shortfall's error bound (PulseShortfall.error_bound) is an upper
    bound of its error, so the difference is "at most" the value with it as the minuend, "at
    least" as the subtrahend; the meter, energised at a load it must register, fails. Two
    shortfalls bound no difference: no value, and so the verdict error (a failed verdict needs
    a value, reports.records); the facts of both windows say why."""
    def value(x: float | ErrorReading | PulseShortfall) -> float:
        if isinstance(x, PulseShortfall):
            return x.error_bound
        return x.mean if isinstance(x, ErrorReading) else x

    first, second = isinstance(minuend, PulseShortfall), isinstance(subtrahend, PulseShortfall)
    if not (first or second):
        raise ValueError("shortfall_difference: neither error is a shortfall")
    if first and second:
        return None, Verdict.ERROR, f"{what} is not bounded by two shortfalls"
    diff = value(minuend) - value(subtrahend)
    return diff, Verdict.FAIL, f"{what} is {'at most' if first else 'at least'} {diff:+.2f} %"


def chains_repetitions(group: ECGroup) -> bool:
    """Whether every calculator of the group opens its next gate on the closing edge in
    continuous mode (an optional attribute of the drivers: module doc)."""
    return all(getattr(ec, "chains_repetitions", False) for ec in group.ecs.values())


def _chained(group: ECGroup, timebase: Timebase, constant: float, pulses: int,
             quantity: Quantity, period: float, repetitions: int,
             errors: dict[int, list[float]], counts: dict[int, list[int]],
             short: dict[int, PulseShortfall],
             shortfall: Callable[[int, int, ECStatus, float, float, int], PulseShortfall],
             ) -> None:
    """`repetitions` gates of `pulses` pulses as one continuous measurement (module doc): each
    gate's error read after it closed, while the next one counts. A gate that closed unread
    (a meter much faster than its constant) is skipped: the next one read stands in for it,
    every result still a whole gate of the same pulses. A gate still open when its window is
    over goes into `short` (made by `shortfall`); the others go on."""
    group.configure(constant, pulses, quantity, continuous=True)
    group.start()
    seen = {p: 0 for p in group.positions}
    latest: dict[int, ECStatus] = {}
    live = group

    def closed() -> bool:
        latest.update(live.statuses())
        return all(latest[p].state is ECState.ABORTED or latest[p].measurements > seen[p]
                   for p in live.positions)

    try:
        end = timebase.now()
        for k in range(repetitions):
            # Each gate starts where the one before ended (only bookkeeping between: on a
            # simulated bench each reading of the time is a request to it).
            start = end
            # The first gate opens on the next edge; the others on the closing edge.
            needed = pulses + (1 if k == 0 else 0)
            expected = period * needed
            with contextlib.suppress(TimebaseTimeout):  # the window is over: see below
                timebase.wait_until(closed, expected_s=expected,
                                    timeout_s=gate_window_s(expected),
                                    poll_s=max(period / 4, 0.05), label=f"{pulses} pulses",
                                    check_first=False)
            end = timebase.now()
            for p in live.positions:
                status = latest[p]
                if status.state is ECState.ABORTED or (
                        status.measurements > seen[p] and status.error is None):
                    raise MeasurementError(
                        f"position {p}: error calculator {status.state.value} after "
                        f"{status.progress:.0f} % of {pulses} pulses (repetition {k + 1}, "
                        "continuous)")
                if status.measurements <= seen[p] or status.error is None:
                    short[p] = shortfall(p, needed, status, start, end, k)
                    continue
                seen[p] = status.measurements
                errors[p].append(status.error)
                # The gate's reference count from its error and target, as a single result's.
                counts[p].append(round(status.target / (1 + status.error / 100)))
            if short.keys() & set(live.positions):
                if not set(live.positions) - short.keys():
                    break
                live = group.subset([p for p in live.positions if p not in short])
    finally:
        group.abort()


#: The states in which a gate has stopped.
STOPPED = (ECState.READY, ECState.ABORTED)


def _stopped_states(
    group: ECGroup, timebase: Timebase, expected: float, period: float, pulses: int
) -> dict[int, ECState]:
    """Poll the states (the cheap query) until every gate has stopped or the window is over
    (`gate_window_s`); the states last read: a gate still open then had fewer pulses than the
    window allowed. Once a gate has stopped, only the others are polled."""
    states: dict[int, ECState] = {}
    polled = group

    def stopped() -> bool:
        nonlocal polled
        states.update(polled.states())
        open_ = [p for p in polled.positions if states[p] not in STOPPED]
        if open_ and len(open_) < len(polled.positions):
            polled = group.subset(open_)
        return not open_

    with contextlib.suppress(TimebaseTimeout):  # the window is over: the states tell who
        timebase.wait_until(
            stopped,
            expected_s=expected,
            timeout_s=gate_window_s(expected),
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
