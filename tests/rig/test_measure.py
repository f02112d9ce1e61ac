"""rig.measure.measure_errors: repetitions, what is read of a finished gate, failures named."""

from __future__ import annotations

import pytest

from rig.instruments.roles import ECResult, ECState, ECStatus
from rig.measure import MeasurementError, measure_errors
from rig.plan import Measure
from rig.timebase import VirtualTimebase
from tests.rig.ecbench import EC, POINT, RATING, Bench, Clock


class Calculators:
    """An instrument batching the calculators of its positions; each gate is ready once the
    clock passed `gate_s` after its start. `errors[position]`: the error each run reports
    (None: that calculator aborts)."""

    def __init__(self, clock: Clock, errors: dict[int, list[float | None]]) -> None:
        self.clock = clock
        self.errors = {p: list(e) for p, e in errors.items()}
        self.calls: list[str] = []
        self.started = 0.0
        self.gate_s = 5.0

    def _done(self) -> bool:
        return self.clock.t >= self.started + self.gate_s

    def _state(self, ec: EC) -> ECState:
        if not self._done():
            return ECState.RUNNING
        return ECState.ABORTED if self.errors[ec.position][0] is None else ECState.READY

    def configure_many(self, ecs, meter_constant, pulses, quantity, continuous=False):
        self.calls.append(f"configure {pulses}")

    def start_many(self, ecs):
        self.calls.append("start")
        self.started = self.clock.t

    def abort_many(self, ecs):
        self.calls.append("abort")

    def states_of(self, ecs):
        self.calls.append("states")
        return [self._state(ec) for ec in ecs]

    def statuses_of(self, ecs):
        self.calls.append("statuses")
        return [ECStatus(self._state(ec), 40.0, None, 1000, 400, 0) for ec in ecs]

    def results_of(self, ecs):
        self.calls.append("results")
        assert all(self._state(ec) is ECState.READY for ec in ecs)  # only finished gates are read
        return [ECResult(self.errors[ec.position].pop(0), 1000 + ec.position) for ec in ecs]


def run(errors: dict[int, list[float | None]]):
    clock = Clock()
    calculators = Calculators(clock, errors)
    bench = Bench(calculators)
    readings = measure_errors(bench, VirtualTimebase(clock), POINT, "active",  # type: ignore[arg-type]
                              Measure(repetitions=2), sorted(errors), RATING)
    return readings, calculators, bench


def test_every_repetition_is_kept_per_position_from_the_results_alone() -> None:
    readings, calculators, bench = run({1: [0.1, 0.3], 2: [-0.2, -0.2]})
    assert readings[1].errors == (0.1, 0.3) and readings[1].mean == pytest.approx(0.2)
    assert readings[2].errors == (-0.2, -0.2) and readings[2].reference_counts == (1002, 1002)
    assert readings[1].pulses == readings[2].pulses >= Measure().min_pulses
    assert bench.reference.modes == [("3P4W", "active")]
    # Polled with the state alone, read with the short result queries; no full status needed.
    assert calculators.calls == ["configure 20", "start", "states", "results"] * 2


def test_a_calculator_that_did_not_finish_is_named_with_its_progress() -> None:
    with pytest.raises(MeasurementError, match=r"position 2: error calculator aborted after "
                                               r"40 % of \d+ pulses"):
        run({1: [0.1, 0.1], 2: [None]})


def _bench_with_reference(uncertainty):
    from types import SimpleNamespace

    from rig.bench.config import Uncertainty

    stated = None if uncertainty is None else Uncertainty.model_validate(uncertainty)
    reference = SimpleNamespace(uncertainty=stated)
    return SimpleNamespace(config=SimpleNamespace(instruments=SimpleNamespace(reference=reference)))


def test_reference_uncertainty_takes_k_from_the_certificate() -> None:
    from rig.measure import DEFAULT_REFERENCE_UNCERTAINTY, reference_uncertainty
    from rig.metrology import error_budget

    # U = 0.03 % at k = 3 (certificate): u = 0.01 %, handed on as 0.02 % at k = 2.
    u, note = reference_uncertainty(_bench_with_reference({"value": 0.03, "unit": "%", "k": 3}))
    assert u == pytest.approx(0.02) and note == "bench file: 0.03 % (k=3)"
    ref = error_budget(reference_expanded=u).components[0]
    assert ref.standard_uncertainty == pytest.approx(0.01)
    # 50 ppm (k=2) is 0.005 %, not the 0.02 % default the free-text regex gave.
    u, _ = reference_uncertainty(_bench_with_reference("50 ppm (k=2)"))
    assert u == pytest.approx(0.005)
    assert reference_uncertainty(_bench_with_reference(None))[0] == DEFAULT_REFERENCE_UNCERTAINTY
