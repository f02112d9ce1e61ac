"""Physics of the simulated world, with a minimal meter double (no servers, no ports)."""

from __future__ import annotations

import math

import pytest

from rig.sim.physics import PhaseSetting, powers
from rig.sim.positions import Position
from rig.sim.reference import EcStatus, ReferenceSpec
from rig.sim.source import SourceError, SourceSpec
from rig.sim.world import World, WorldConfig, WorldError
from tests.rig.sim.meter_double import MeterDouble

T0 = 1767225600.0


def balanced(u: float, i: float, phi: float) -> list[PhaseSetting]:
    return [PhaseSetting(u, a, i, a - phi) for a in (0.0, -120.0, 120.0)]


def make_world(errors: list[float], wirings: list[str] | None = None, *,
               ref_error: float = 0.0, setting_error: float = 0.0, constant: float = 10000.0
               ) -> World:
    wirings = wirings or ["3P4W"] * len(errors)
    positions = [Position(k + 1, w, MeterDouble(start_time=T0, constant=constant, error=e,
                                                 wiring=w))
                 for k, (e, w) in enumerate(zip(errors, wirings, strict=True))]
    cfg = WorldConfig(start_time=T0, source=SourceSpec(setting_error=setting_error, seed=7),
                      reference=ReferenceSpec(error=ref_error, constant=5e8))
    return World(cfg, positions)


def energise(world: World, phases: list[PhaseSetting]) -> None:
    def change(src):
        for k, ph in enumerate(phases):
            src.set_phase(k, ph)
        src.set_output(True, 0.0, "test")
    world.change_source(change)


def run_ec(world: World, positions: list[int], mrate: int, constant: float = 10000.0) -> None:
    for p in positions:
        world.ec(p).configure(dut_constant=constant, mrate=mrate)
        world.start_ec(p)
    while any(world.ec(p).status is not EcStatus.READY for p in positions):
        world.advance(1.0)
        assert world.t - T0 < 3600, "error calculators never finished"


@pytest.mark.parametrize("phi", [0.0, 60.0, -36.87, 180.0])
def test_error_calculator_reads_the_meter_error_within_one_reference_count(phi: float) -> None:
    errors = [0.0, 0.002, -0.0035]
    world = make_world(errors)
    energise(world, balanced(230.0, 5.0, phi))
    run_ec(world, [1, 2, 3], mrate=50)
    for k, e in enumerate(errors, start=1):
        r = world.ec(k).last
        assert r is not None and r.dut_pulses == 50
        resolution = 100.0 / r.ref_counts
        assert r.error_pct == pytest.approx(e * 100, abs=resolution + 1e-9)
        assert r.target == math.floor(50 * 5e8 / 10000)


def test_reference_error_shifts_the_result_by_minus_its_own_error() -> None:
    world = make_world([0.001], ref_error=2e-4)
    energise(world, balanced(230.0, 10.0, 0.0))
    run_ec(world, [1], mrate=100)
    r = world.ec(1).last
    expected = ((1 + 0.001) / (1 + 2e-4) - 1) * 100
    assert r.error_pct == pytest.approx(expected, abs=100.0 / r.ref_counts)


def test_gate_spans_exactly_n_meter_pulse_periods() -> None:
    world = make_world([0.0])
    energise(world, balanced(230.0, 5.0, 0.0))
    run_ec(world, [1], mrate=20)
    r = world.ec(1).last
    period = 3.6e6 / (10000 * 3 * 230 * 5)
    # Absolute true times near 1.8e9 s resolve to ~0.24 us (float64), far below one period.
    assert r.t_end - r.t_start == pytest.approx(20 * period, abs=1e-6)


def test_reference_reading_equals_world_values_within_reference_error() -> None:
    world = make_world([0.0], ref_error=3e-5, setting_error=1e-3)
    energise(world, balanced(230.0, 5.0, 60.0))
    actual = world.source.actual_phases()
    rd = world.reference.reading()
    truth = powers(actual, "3P4W")
    for k in range(3):
        assert rd.u[k] == pytest.approx(actual[k].u_rms, rel=3.01e-5)
        assert rd.i[k] == pytest.approx(actual[k].i_rms, rel=3.01e-5)
    assert rd.p_total == pytest.approx(truth.p, rel=3.01e-5)
    assert rd.q_total == pytest.approx(truth.q, rel=3.01e-5)
    # The setting error is real: the actual output differs from the setpoint, but within 0.1 %.
    assert any(abs(a.u_rms - 230.0) > 1e-6 for a in actual)
    assert all(abs(a.u_rms / 230.0 - 1) <= 1e-3 for a in actual)


def test_three_wire_two_element_metering_measures_the_same_power() -> None:
    world = make_world([0.0015, 0.0015], ["3P4W", "3P3W"])
    world.set_reference_mode("3P3W", "P")
    phases = balanced(230.0, 5.0, 60.0)
    p4 = powers(tuple(phases), "3P4W")
    p3 = powers(tuple(phases), "3P3W")
    assert p3.p == pytest.approx(p4.p, rel=1e-12)
    assert p3.q == pytest.approx(p4.q, rel=1e-12)
    assert len(p3.p_elements) == 2
    energise(world, phases)
    # The 3P3W meter gets no L2 current (no element on L2).
    assert world.position(2).inputs.phases[1].current.rms == 0.0
    assert world.position(1).inputs.phases[1].current.rms == 5.0
    run_ec(world, [1, 2], mrate=40)
    for k in (1, 2):
        r = world.ec(k).last
        assert r.error_pct == pytest.approx(0.15, abs=100.0 / r.ref_counts)


def test_three_wire_meter_ignores_an_unbalanced_l2_current() -> None:
    """Two-element metering is blind to the L2 current; the 3-wire reference is too."""
    world = make_world([0.0], ["3P3W"])
    world.set_reference_mode("3P3W", "P")
    phases = balanced(230.0, 5.0, 0.0)
    phases[1] = PhaseSetting(230.0, -120.0, 2.0, -120.0)
    energise(world, phases)
    run_ec(world, [1], mrate=30)
    r = world.ec(1).last
    assert r.error_pct == pytest.approx(0.0, abs=100.0 / r.ref_counts)


def test_continuous_mode_repeats_gates_back_to_back() -> None:
    world = make_world([0.001])
    energise(world, balanced(230.0, 5.0, 0.0))
    ec = world.ec(1)
    ec.configure(dut_constant=10000.0, mrate=10, continuous=True)
    world.start_ec(1)
    world.advance(60.0)
    assert ec.status is EcStatus.RUNNING
    assert len(ec.results) >= 5
    for a, b in zip(ec.results, ec.results[1:], strict=False):
        assert b.t_start == a.t_end
        assert b.error_pct == pytest.approx(0.1, abs=2 * 100.0 / b.ref_counts)


def test_no_pulses_without_current_keeps_waiting_and_abort_stops() -> None:
    world = make_world([0.0])
    energise(world, balanced(230.0, 0.0, 0.0))
    world.ec(1).configure(mrate=5)
    world.start_ec(1)
    world.advance(600.0)
    assert world.ec(1).status is EcStatus.WAITING
    world.abort_ec(1)
    assert world.ec(1).status is EcStatus.ABORTED


def test_dosage_delivers_exactly_the_requested_energy() -> None:
    world = make_world([0.0])
    phases = balanced(230.0, 5.0, 0.0)
    for k, ph in enumerate(phases):
        world.change_source(lambda s, k=k, ph=ph: s.set_phase(k, ph))
    world.start_dosage(0.5)            # kWh at 3.45 kW: 521.7 s
    assert world.source.state.output_on
    world.advance(400.0)
    assert world.dosage_state()["running"]
    world.advance(400.0)
    st = world.dosage_state()
    assert st["done"] and not st["running"]
    assert st["t_end"] - st["t_start"] == pytest.approx(0.5 / 3.45 * 3600, abs=1e-6)
    # The currents are off, the voltages stay (meters stay powered for the register read).
    inputs = world.position(1).inputs
    assert all(ph.current.rms == 0 and ph.voltage.rms == 230.0 for ph in inputs.phases)
    totals = world.position(1).pulse_totals(world.t)
    assert totals["LED_ACTIVE"] == 5000


def test_energy_measurement_between_start_and_stop() -> None:
    world = make_world([0.0])
    energise(world, balanced(230.0, 5.0, 0.0))
    world.start_energy()
    world.advance(3600.0)
    world.stop_energy()
    world.advance(100.0)
    assert world.energy_so_far() == pytest.approx(3.45, rel=1e-12)


def test_power_down_when_output_off_and_time_only_moves_forward() -> None:
    world = make_world([0.0])
    energise(world, balanced(230.0, 5.0, 0.0))
    world.advance(10.0)
    world.change_source(lambda s: s.set_output(False, 0.0, "test"))
    meter = world.position(1).meter
    assert not meter.powered
    assert all(ph.voltage.rms == 0.0 for ph in world.position(1).inputs.phases)
    with pytest.raises(WorldError, match="back in time"):
        world.advance_to(world.t - 1)


def test_watchdog_switches_the_output_off_after_wall_timeout() -> None:
    wall = [100.0]
    world = World(WorldConfig(start_time=T0, watchdog_s=2.0),
                  [Position(1, "3P4W", MeterDouble(start_time=T0))], wall_clock=lambda: wall[0])
    energise(world, balanced(230.0, 5.0, 0.0))
    wall[0] += 1.5
    world.feed_watchdog()
    wall[0] += 1.5
    assert not world.check_watchdog() and world.source.state.output_on
    wall[0] += 0.6
    assert world.check_watchdog()
    assert not world.source.state.output_on
    assert world.source.state.tripped == "watchdog"
    assert world.source.transitions[-1][:2] == (103.6, False)


def test_the_simulators_own_work_is_not_controller_silence() -> None:
    """The meters' catch-up (many positions after a long dose) takes wall time the controller
    spends waiting for the answer: the watchdog's deadline moves on by it."""
    wall = [100.0]
    pos = Position(1, "3P4W", MeterDouble(start_time=T0))
    world = World(WorldConfig(start_time=T0, watchdog_s=2.0), [pos], wall_clock=lambda: wall[0])
    energise(world, balanced(230.0, 5.0, 0.0))
    world.feed_watchdog()
    set_inputs = pos.set_inputs

    def slow(t: float, inputs: object) -> None:
        wall[0] += 5.0  # the meter model computing its catch-up
        set_inputs(t, inputs)  # type: ignore[arg-type]

    pos.set_inputs = slow  # type: ignore[method-assign]
    wall[0] += 1.0
    energise(world, balanced(230.0, 2.0, 0.0))
    world.advance(60.0)  # the meters get the new inputs: 5 s of computing
    assert not world.check_watchdog() and world.source.state.output_on
    wall[0] += 2.0  # 2 s of silence after the last command
    assert world.check_watchdog()
    assert world.source.state.tripped == "watchdog"


def test_interlock_refuses_output_on_and_overload_trips() -> None:
    world = make_world([0.0])
    energise(world, balanced(230.0, 5.0, 0.0))
    world.trip_overload(2)
    assert not world.source.state.output_on
    assert world.source.describe()["tripped_phase"] == 2
    world.set_interlock(True)
    from rig.sim.source import SourceError
    with pytest.raises(SourceError, match="interlock"):
        world.change_source(lambda s: s.set_output(True, 0.0, "test"))
    world.set_interlock(False)
    world.change_source(lambda s: s.set_output(True, 0.0, "test"))
    assert world.source.state.output_on


def test_gate_finds_the_right_edges_of_a_jittery_meter() -> None:
    from tests.rig.sim.meter_double import JitterMeter, PulseOutput
    meter = JitterMeter(start_time=T0, constant=10000.0, jitter=0.3)
    world = World(WorldConfig(start_time=T0), [Position(1, "3P4W", meter)])
    energise(world, balanced(230.0, 5.0, 0.0))
    ec = world.ec(1)
    ec.configure(dut_constant=10000.0, mrate=500)
    world.start_ec(1)
    for _ in range(30):               # segments of 7 s split the gate at arbitrary points
        world.advance(7.0)
    r = ec.last
    assert r is not None
    # Step edge by edge through the model: the gate closes on the 500th edge after the first.
    edge = meter.next_pulse(PulseOutput.LED_ACTIVE, r.t_start)
    for _ in range(499):
        edge = meter.next_pulse(PulseOutput.LED_ACTIVE, edge)
    assert r.t_end == edge


def test_unstable_source_moves_both_meter_and_reference_so_the_error_stays() -> None:
    positions = [Position(1, "3P4W", MeterDouble(start_time=T0, error=0.004))]
    cfg = WorldConfig(start_time=T0, source=SourceSpec(stability=5e-3, stability_interval_s=0.5))
    world = World(cfg, positions)
    energise(world, balanced(230.0, 5.0, 0.0))
    p0 = world.reference.reading().p_total
    run_ec(world, [1], mrate=100)
    assert world.reference.reading().p_total != p0        # the power wandered meanwhile
    r = world.ec(1).last
    assert r.error_pct == pytest.approx(0.4, abs=100.0 / r.ref_counts)


def test_the_meters_get_the_last_of_several_commands_at_one_instant() -> None:
    world = make_world([0.0])
    meter = world.positions[1].meter
    seen = len(meter.inputs)
    energise(world, balanced(230.0, 5.0, 0.0))
    energise(world, balanced(230.0, 2.0, 0.0))  # same instant: the first never reaches a meter
    assert len(meter.inputs) == seen
    world.advance(1.0)  # time moves on: the meter got the inputs at the instant they changed
    (t, inputs), = meter.inputs[seen:]
    assert t == T0 and inputs.phases[0].current.rms == pytest.approx(2.0)
    energise(world, balanced(230.0, 1.0, 0.0))
    assert world.position(1).inputs.phases[0].current.rms == pytest.approx(1.0)  # a look flushes


def _a1000_world(step_meters: bool) -> World:
    from meter.a1000.meter import A1000
    from tests.meter.a1000.helpers import ideal_config

    positions = [Position(k, "3P4W", A1000(ideal_config(), start_time=T0)) for k in (1, 2)]
    cfg = WorldConfig(start_time=T0, reference=ReferenceSpec(constant=5e8),
                      step_meters=step_meters)
    return World(cfg, positions)


def test_meters_caught_up_when_looked_at_read_as_meters_stepped_with_time() -> None:
    """Unstepped meters (the simulator's default without a state dir) give the error
    calculators the same edges, and the same registers and pulse totals when looked at. The
    request that moves time brings them up to it (not the meter lines' answers later)."""
    seen = {}
    for step in (True, False):
        world = _a1000_world(step)
        errors = []
        for i, phi in ((0.5, 0.0), (0.25, 60.0), (2.0, 0.0)):
            energise(world, balanced(57.7, i, phi))
            world.advance(10.0)
            run_ec(world, [1, 2], mrate=10)
            errors += [(world.ec(p).last.error_pct, world.ec(p).last.t_end) for p in (1, 2)]
        world.advance(3600.0)
        meter = world.positions[2].meter
        assert meter.now == world.t  # stepped or caught up at the end of the advance
        looked = world.position(2)
        assert looked.meter.now == world.t
        seen[step] = (errors, looked.meter.register("import"), looked.pulse_totals(world.t))
    assert seen[True] == seen[False]


@pytest.mark.parametrize("bad", [
    {"u_angle": math.nan}, {"i_angle": math.inf}, {"u_rms": math.nan}, {"i_rms": -math.inf}])
def test_a_non_finite_setting_is_refused_whole_and_time_still_moves(bad: dict) -> None:
    """A NaN angle used to be accepted, and virtual time then stopped ("phasor angle must be
    finite"): the world refuses the change as a whole and keeps the last settings."""
    world = make_world([0.0])
    energise(world, balanced(230.0, 5.0, 0.0))
    before = world.source.state.phases

    def change(src):
        src.set_phase(0, PhaseSetting(230.0, 0.0, 5.0, 0.0))
        src.update_phase(1, **bad)

    with pytest.raises(SourceError, match=r"not a finite number|outside"):
        world.change_source(change)
    assert world.source.state.phases == before
    world.advance(10.0)
    assert world.t == T0 + 10.0


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_time_and_watchdog_must_be_finite(value: float) -> None:
    world = make_world([0.0])
    for call in (world.advance, world.advance_to, world.arm_watchdog, world.start_dosage):
        with pytest.raises(WorldError, match=r"finite|must be > 0"):
            call(value)
    assert world.t == T0


def test_time_past_the_meters_calendar_is_refused() -> None:
    """0.9.2 is YYMMDD (standards.md): 2100 cannot be read, and a meter asked to catch up
    millennia would stop the simulator for hours."""
    world = make_world([0.0])
    with pytest.raises(WorldError, match=r"past 2099-12-31T23:59:59Z"):
        world.advance(1e12)
    with pytest.raises(WorldError, match=r"past 2099"):
        world.advance_to(4102444800.0)
    assert world.t == T0
    world.advance_to(4102444799.0)  # the last second of the century is still time
