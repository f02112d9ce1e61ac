"""rig.measure: a position whose gate does not close within the point's window is a
PulseShortfall with its facts; the others are measured as always (issue 13 item 4).

The calculators here model what a pulse gate sees (rig.instruments.roles.ECState): armed, a
gate waits for its meter's first pulse edge, then counts `pulses` more and is ready; progress is
the share of those counted. Each position's meter pulses at its own period (None: no pulse at
all), from the instant the gate was armed.

The point (rig.measure.measure_errors, the plan's default Measure): 3 x 230 V, 5 A, PF 1 is
3450 W; at 1000 imp/kWh the ideal period is 3.6e6 / (3450 x 1000) = 1.04348 s, so N =
ceil(20 s / 1.04348 s) = 20 pulses, expected (N + 1) x 1.04348 = 21.913 s, and the window three
times that and 30 s: 95.74 s.
"""

from __future__ import annotations

import math

import pytest

from rig.instruments.roles import ECResult, ECState, ECStatus
from rig.measure import ErrorReading, PulseShortfall, measure_errors, shortfall_difference
from rig.plan import Measure
from rig.timebase import VirtualTimebase
from tests.rig.ecbench import EC, POINT, RATING, Bench, Clock

PERIOD = 3.6e6 / (3 * 230.0 * 5.0 * 1000.0)
N = 20
WINDOW = 3 * (N + 1) * PERIOD + 30.0
EPS = 1e-9  # the virtual clock's sums of steps


class Calculators:
    """An instrument batching its positions' calculators. `periods[p]`: the meter's pulse
    period (None: silent); `errors[p]`: the error each closed gate reports. `chains`: its
    calculators chain repetitions in continuous mode (the next gate opens on the closing
    edge; `measurements` counts the closed gates)."""

    def __init__(self, clock: Clock, periods: dict[int, float | None],
                 errors: dict[int, float], chains: bool = False) -> None:
        self.clock = clock
        self.periods = periods
        self.errors = errors
        self.chains = chains
        self.calls: list[tuple[str, tuple[int, ...]]] = []
        self.armed: dict[int, float] = {}
        self.pulses = 0
        self.continuous = False

    def _edges(self, p: int) -> int:
        """Meter pulse edges since the gate was armed."""
        period = self.periods[p]
        if period is None or p not in self.armed:
            return 0
        return math.floor((self.clock.t - self.armed[p]) / period + 1e-9)

    def _status(self, ec: EC) -> ECStatus:
        edges, n = self._edges(ec.position), self.pulses
        if edges == 0:
            return ECStatus(ECState.WAITING, 0.0, None, 1000, 0, 0)
        counted = edges - 1  # after the opening edge
        if self.continuous:
            closed = counted // n
            return ECStatus(ECState.RUNNING, 100.0 * (counted % n) / n,
                            self.errors[ec.position] if closed else None, 100000, 0, closed)
        if counted >= n:
            return ECStatus(ECState.READY, 100.0, self.errors[ec.position], 100000, 0, 1)
        return ECStatus(ECState.RUNNING, 100.0 * counted / n, None, 100000, 0, 0)

    def _log(self, what: str, ecs) -> None:
        self.calls.append((what, tuple(ec.position for ec in ecs)))

    def configure_many(self, ecs, meter_constant, pulses, quantity, continuous=False):
        self._log("configure", ecs)
        self.pulses, self.continuous = pulses, continuous

    def start_many(self, ecs):
        self._log("start", ecs)
        for ec in ecs:
            self.armed[ec.position] = self.clock.t

    def abort_many(self, ecs):
        self._log("abort", ecs)
        for ec in ecs:
            self.armed.pop(ec.position, None)

    def states_of(self, ecs):
        self._log("states", ecs)
        return [self._status(ec).state for ec in ecs]

    def statuses_of(self, ecs):
        self._log("statuses", ecs)
        return [self._status(ec) for ec in ecs]

    def results_of(self, ecs):
        self._log("results", ecs)
        assert all(self._status(ec).state is ECState.READY for ec in ecs)  # finished gates only
        return [ECResult(self.errors[ec.position], 100000) for ec in ecs]


def run(periods: dict[int, float | None], chains: bool = False):
    clock = Clock()
    calculators = Calculators(clock, periods, {p: 0.01 * p for p in periods}, chains)
    readings = measure_errors(Bench(calculators), VirtualTimebase(clock), POINT,  # type: ignore[arg-type]
                              "active", Measure(repetitions=2), sorted(periods), RATING)
    return readings, calculators, clock


def calls(calculators: Calculators, what: str) -> list[tuple[int, ...]]:
    return [positions for name, positions in calculators.calls if name == what]


@pytest.mark.parametrize("chains", [False, True], ids=["restarted", "chained"])
def test_a_gate_that_never_fills_is_a_shortfall_and_the_others_are_measured(chains) -> None:
    readings, calculators, _ = run({1: PERIOD, 2: None, 3: PERIOD}, chains)
    for p in (1, 3):
        r = readings[p]
        assert isinstance(r, ErrorReading) and r.errors == (0.01 * p, 0.01 * p)
        assert r.pulses == N
    short = readings[2]
    assert isinstance(short, PulseShortfall)
    assert (short.position, short.gate, short.needed, short.seen) == (2, N, N + 1, 0)
    assert (short.repetition, short.repetitions, short.errors) == (1, 2, ())
    # The window waited out: the expected time three times and 30 s (a poll step's rounding).
    assert WINDOW - EPS <= short.window_s < WINDOW + PERIOD
    assert short.period_s == pytest.approx(PERIOD)
    # No pulse in 95.7 s where one comes every 1.043 s: below 1.043 / 95.7 - 1 = -98.9 %.
    assert short.error_bound == pytest.approx(100 * (PERIOD / short.window_s - 1))
    assert short.error_bound < -98.8
    facts = short.facts()
    assert "230 V 5 A 0°" in facts and "0 meter pulse(s) counted in 95." in facts
    assert "21 expected in 21.9 s" in facts and "repetition 1 of 2" in facts
    assert "1970-01-01 00:00:00 to 1970-01-01 00:01:35 bench clock" in facts
    if chains:
        # One continuous measurement: the second gate waited for positions 1 and 3 only.
        assert calls(calculators, "configure") == [(1, 2, 3)]
        assert calls(calculators, "statuses")[-1] == (1, 3)
    else:
        # The silent gate stopped, the second repetition started without it.
        assert calls(calculators, "abort") == [(2,)]
        assert calls(calculators, "start") == [(1, 2, 3), (1, 3)]
        assert calls(calculators, "results") == [(1, 3), (1, 3)]
        # Once positions 1 and 3 closed, only position 2 was polled until its window ended.
        first = calculators.calls[:calculators.calls.index(("abort", (2,)))]
        polled = [positions for name, positions in first if name == "states"]
        assert polled[0] == (1, 2, 3) and polled[-1] == (2,) and len(set(polled)) == 2


def test_a_gate_that_fills_late_but_inside_the_window_is_measured() -> None:
    """A meter at -60 % (pulses 2.5 x apart): its gate closes at 21 x 2.609 = 54.8 s, inside
    the 95.7 s window, and it is measured like the others (its error is the calculator's)."""
    readings, calculators, clock = run({1: PERIOD, 2: 2.5 * PERIOD})
    assert all(isinstance(r, ErrorReading) for r in readings.values())
    assert readings[2].errors == (0.02, 0.02)  # type: ignore[union-attr]
    assert not calls(calculators, "abort") and not calls(calculators, "statuses")
    assert calls(calculators, "start") == [(1, 2), (1, 2)]
    # Each repetition waited for the slow gate: two of its 54.8 s, a poll step each.
    assert 2 * 21 * 2.5 * PERIOD - EPS <= clock.t < 2 * (21 * 2.5 + 1) * PERIOD


def test_every_gate_silent_or_short_each_is_a_shortfall_with_what_it_saw() -> None:
    """Position 1 silent; position 2 pulses 5 x apart (-80 %): by the window's end (95.7 s)
    its gate opened on the edge at 5.22 s and counted 17 more (progress 85 %), 18 pulses, so
    its error is below 19 x 1.0435 / 95.7 - 1 = -79.3 %: true of its -80 %."""
    readings, calculators, clock = run({1: None, 2: 5 * PERIOD})
    one, two = readings[1], readings[2]
    assert isinstance(one, PulseShortfall) and isinstance(two, PulseShortfall)
    assert (one.seen, two.seen) == (0, 18)
    assert two.error_bound == pytest.approx(100 * (19 * PERIOD / two.window_s - 1))
    assert -80.0 < two.error_bound < -79.0
    # No second repetition and nothing read as a result: nothing closed.
    assert calls(calculators, "start") == [(1, 2)] and not calls(calculators, "results")
    assert calls(calculators, "abort") == [(1, 2)]
    assert WINDOW - EPS <= clock.t < WINDOW + PERIOD


def test_a_shortfall_in_a_later_repetition_keeps_the_earlier_errors() -> None:
    """A meter that stops pulsing after its first gate: the first repetition's error is kept
    with the shortfall of the second, which waited its own window."""
    clock = Clock()
    calculators = Calculators(clock, {1: PERIOD, 2: PERIOD}, {1: 0.01, 2: 0.02})
    original = calculators.start_many

    def start_many(ecs):
        if calculators.calls.count(("start", (1, 2))) == 1:
            calculators.periods[2] = None  # silent from the second gate on
        original(ecs)

    calculators.start_many = start_many  # type: ignore[method-assign]
    readings = measure_errors(Bench(calculators), VirtualTimebase(clock), POINT,  # type: ignore[arg-type]
                              "active", Measure(repetitions=3), [1, 2], RATING)
    short = readings[2]
    assert isinstance(short, PulseShortfall)
    assert (short.repetition, short.repetitions, short.errors) == (2, 3, (0.02,))
    assert "earlier repetitions +0.0200 %" in short.facts()
    assert readings[1].errors == (0.01, 0.01, 0.01)  # type: ignore[union-attr]
    assert calls(calculators, "start") == [(1, 2), (1, 2), (1,)]


def test_a_difference_with_a_shortfall_is_bounded_on_its_side() -> None:
    short = PulseShortfall(2, POINT, "active", N, N + 1, 0, PERIOD, 0.0, WINDOW, 1, 2)
    measured = ErrorReading(2, N, (0.1, 0.3), (1, 1))
    bound = short.error_bound
    # The shortfall's error is below its bound: minus a measured error, the difference is
    # below too; a measured error minus it is above.
    value, verdict, text = shortfall_difference(short, measured, "the difference")
    assert value == pytest.approx(bound - 0.2) and str(verdict) == "fail"
    assert text == f"the difference is at most {bound - 0.2:+.2f} %"
    value, verdict, text = shortfall_difference(0.5, short, "e_reg - e_pulse")
    assert value == pytest.approx(0.5 - bound) and text.startswith("e_reg - e_pulse is at least")
    # Two bounds bound no difference: no value, so no fail verdict either (it needs a value).
    assert shortfall_difference(short, short, "x") == (None, "error",
                                                       "x is not bounded by two shortfalls")
    with pytest.raises(ValueError, match="neither error is a shortfall"):
        shortfall_difference(measured, 0.1, "x")
