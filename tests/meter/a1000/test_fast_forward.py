"""The fast-forward over constant spans (meter.a1000.meter, ``A1000._fast_forward``) against the
event-by-event loop: the same meter driven through the same calls, once with the fast path and
once with ``fast_forward=False``, must end in the same state to the last bit: the non-volatile
snapshot (energy registers, demand maxima with their stamps, rolling windows and last averages,
the load profile's ring bytes, running totals and counts stored, the billing history, the event
logs), the registers as displayed (rollover, truncation) and the pulses emitted. The histories
are long (1732 h at Imax, the register-rollover plan item's dose) and cross what ends a constant
span: tariff switches, month ends with their billing, a power cut, a clock setting, a demand
setting. The generated mutants and the named demand defects run through the same comparison:
the fast path books through the functions they patch, so none is hidden."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meter.a1000 import demand
from meter.a1000.demand import DemandSettings
from meter.a1000.meter import A1000
from meter.a1000.registers import QUANTITIES, PulseOutput
from meter.electrical import ElectricalInputs
from tests.meter.a1000.helpers import T0, fixed_tariff_tou, make_config

H = 3600.0
# Current angles of the four quadrants (import Q1, export Q2, export Q3, import Q4).
QUADRANT_ANGLES = (-30.0, -150.0, 150.0, 30.0)


def state(m: A1000) -> tuple[Any, ...]:
    """Everything the two paths must agree on."""
    shown = [m.register_display(q, t) for q in QUANTITIES for t in range(5)]
    return (m.snapshot(), shown, m.pulses_emitted(list(PulseOutput), m.now), m.error_register)


def build(fast: bool, defects: tuple[str, ...] = (), **config: Any) -> A1000:
    """A meter; a defect "mutant:id=X" is the generated mutant X."""
    specs = [{"name": "mutant", "id": d.split("=", 1)[1]} if d.startswith("mutant:") else d
             for d in defects]
    return A1000(make_config(**config), start_time=T0, defects=specs, fast_forward=fast)


def imax(m: A1000, angle: float, share: float = 1.0) -> ElectricalInputs:
    return ElectricalInputs.balanced(m.config.element_voltage, m.config.imax_a * share, angle)


def long_history(m: A1000, hours: float) -> None:
    """`hours` at Imax in each quadrant, advanced in calls of uneven length as the simulator
    makes them; between quadrants a power cut of 2 h, a clock setting and a demand setting."""
    t = T0
    for k, angle in enumerate(QUADRANT_ANGLES):
        m.set_inputs(t, imax(m, angle))
        for part in (0.01, 0.39, 0.6):  # a short call, then two long ones
            t += hours * H * part
            m.advance_to(t)
        t += 17.25
        m.set_inputs(t, ElectricalInputs.dead(m.config.frequency))
        t += 2 * H
        if k == 1:
            m.set_clock(t, m.meter_seconds(t) + 30.0)
        if k == 2:
            m.component("demand").configure(t, DemandSettings("rolling", 15, 5))  # type: ignore[attr-defined]
    m.set_inputs(t, imax(m, 0.0, 0.5))
    m.advance_to(t + 100 * H + 0.125)


def compare(hours: float, defects: tuple[str, ...] = (), **config: Any) -> int:
    """Run both paths; assert the states equal; return the fast path's jumps."""
    fast, slow = build(True, defects, **config), build(False, defects, **config)
    long_history(fast, hours)
    long_history(slow, hours)
    assert slow.jumps == 0
    assert state(fast) == state(slow)
    return fast.jumps


@pytest.mark.parametrize("tou", [None, fixed_tariff_tou(3)], ids=["calendar", "one-tariff"])
def test_1732_hours_in_each_quadrant_equal_event_by_event(tou: Any) -> None:
    # 4 x 1732 h from 2026-03-02 cross the month ends of March..December (billing closes, the
    # demand reset with them), the calendar's daily switches, the April season change.
    jumps = compare(1732.0, **({"tou": tou} if tou else {}))
    assert jumps >= 4 * 3  # at least one per advance_to of a quadrant: it did act


@pytest.mark.parametrize("mode", [("block", 15, 5), ("rolling", 15, 5), ("rolling", 10, 2),
                                  ("block", 60, 5), ("rolling", 30, 3)])
def test_demand_settings_equal_event_by_event(mode: tuple[str, int, int]) -> None:
    cycle = dict(zip(("mode", "cycle_min", "window_min"), mode, strict=True))
    assert compare(400.0, demand=cycle, tou=fixed_tariff_tou(2)) > 0


@pytest.mark.parametrize("chunk", [1, 2])
@pytest.mark.parametrize("mode", [("rolling", 15, 5), ("block", 60, 5), ("rolling", 30, 3)])
def test_demand_walked_in_small_chunks_equals_event_by_event(
        mode: tuple[str, int, int], chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # After a load step the jump walks its spans until the registers settle (as in the test
    # below), a chunk of spans at a time; chunks shorter than the walk put chunk edges in it.
    monkeypatch.setattr(demand, "_SPAN_CHUNK", chunk)
    walked: list[int] = []
    spans = demand._spans

    def counted(hours: Any, closing: Any, stop: int) -> Any:
        walked.append(0)
        for pair in spans(hours, closing, stop):
            walked[-1] += 1
            yield pair

    monkeypatch.setattr(demand, "_spans", counted)
    cycle = dict(zip(("mode", "cycle_min", "window_min"), mode, strict=True))
    runs = []
    for fast in (True, False):
        m = build(fast, clock={"drift_ppm": 0.0}, demand=cycle, tou=fixed_tariff_tou(2))
        m.set_inputs(T0, imax(m, -30.0, 0.2))
        m.advance_to(T0 + 10 * H + 7 * 60.0)
        m.set_inputs(m.now, imax(m, -30.0))
        m.advance_to(T0 + 30 * H)
        runs.append(state(m))
    assert runs[0] == runs[1]
    assert max(walked) > chunk  # the walk crossed a chunk edge


@pytest.mark.parametrize("stop", [0, 1, 255, 256, 257, 600])
def test_the_walks_spans_are_the_arrays_up_to_stop(stop: int) -> None:
    hours = np.arange(600, dtype=float) / 12.0
    closing = np.arange(600) % 3 == 2
    assert list(demand._spans(hours, closing, stop)) == list(
        zip(hours[:stop].tolist(), closing[:stop].tolist(), strict=True))


# Mutants of the families the fast path touches (meter.a1000.mutations: register booking and
# rollover, tariff booking, quadrant booking, load-profile channels, history depth, a calendar
# rule) and the named demand defects (there the loop goes event by event: DemandRegisters).
MUTANTS = (
    "mutant:id=register.import-t0.rollover", "mutant:id=register.q1-t2.booking",
    "mutant:id=tariff.t1.booking", "mutant:id=quadrant.q1.booking",
    "mutant:id=channel.import.lost", "mutant:id=channel.q3.lost",
    "mutant:id=history.billing.depth", "mutant:id=calendar.wrap-around",
    "demand_window_misaligned", "demand_rolling_interval_ignored",
)


@pytest.mark.parametrize("defect", MUTANTS)
def test_mutants_equal_event_by_event(defect: str) -> None:
    compare(400.0, (defect,))


def test_channel_mutant_acts_in_the_fast_path() -> None:
    # The channel mutant patches LoadProfileComponent.channels, which the jump books through:
    # a profile whose import channel is lost holds zeros where the healthy one holds energy.
    lost, healthy = build(True, ("mutant:id=channel.import.lost",)), build(True)
    for m in (lost, healthy):
        m.set_inputs(T0, imax(m, 0.0))
        m.advance_to(T0 + 300 * H)
        assert m.jumps > 0
    last = [lp.profile.select(None, None)[-1] for lp in
            (lost.component("load_profile"), healthy.component("load_profile"))]  # type: ignore[attr-defined]
    # Imax 6 A x 57.7 V x 3 = 1.0386 kW: 0.25965 kWh in 15 min (error model within 1 %).
    assert last[0].values[0] == 0.0
    assert last[1].values[0] == pytest.approx(0.25965, rel=0.01)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.floats(0.0, 200.0), st.floats(0.0, 1.0), st.floats(-180.0, 180.0),
                          st.sampled_from(["block", "rolling"])), min_size=1, max_size=4))
def test_random_histories_equal_event_by_event(
    steps: list[tuple[float, float, float, str]],
) -> None:
    # Seeded (derandomize): each step holds a load for up to 200 h, then sets the demand mode.
    runs = []
    for fast in (True, False):
        m = build(fast)
        t = T0
        for hours, share, angle, mode in steps:
            m.set_inputs(t, imax(m, angle, share))
            t += hours * H
            m.advance_to(t)
            m.component("demand").configure(t, DemandSettings(mode, 15, 5))  # type: ignore[attr-defined]
        runs.append(state(m))
    assert runs[0] == runs[1]


# The jump lands on the last common boundary before what ends the span, and demand closes the
# last cycle of the jump itself (DemandComponent.fast_forward). The edges of that landing: a
# switch exactly on a boundary (no switch delay, a clock without drift: the landing would be the
# switch itself, so it is one period earlier), targets exactly on a boundary and just either
# side of one, a demand cycle longer than the load-profile interval, spans that split a demand
# sub-interval (window 2 min against the 15-min entries).
EDGE_CLOCKS = [{"drift_ppm": 0.0, "tariff_switch_delay_s": 0.0}, {"drift_ppm": -37.0}]


@pytest.mark.parametrize("clock", EDGE_CLOCKS, ids=["no-delay-no-drift", "drift"])
@pytest.mark.parametrize("mode", [("block", 15, 5), ("rolling", 10, 2), ("block", 60, 5)])
def test_landings_on_and_beside_boundaries_equal_event_by_event(
    clock: dict[str, float], mode: tuple[str, int, int],
) -> None:
    cycle = dict(zip(("mode", "cycle_min", "window_min"), mode, strict=True))
    runs = []
    for fast in (True, False):
        m = build(fast, clock=clock, demand=cycle)
        m.set_inputs(T0, imax(m, -30.0))
        t = T0
        # 40 h to a boundary, 40 h to just before one, 40 h to just after one, then whole days.
        for dt_ in (40 * H, 40 * H - 1e-3, 40 * H + 2e-3, 24 * H, 24 * H, 0.0):
            t += dt_
            m.advance_to(t)
        runs.append((state(m), m.jumps))
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] > 0


def test_a_jump_lands_on_the_last_boundary_before_the_target() -> None:
    # One tariff, a steady load, a clock without drift (the default UTC offset is whole
    # hours): from 02:00 the jump lands on 50:00, the last 15-min boundary before the target
    # 50:10, and the loop fires only demand's sub-interval end 50:05 and the target (a jump
    # that left two periods to the loop landed on 49:30 and fired 8 events).
    m = build(True, clock={"drift_ppm": 0.0}, tou=fixed_tariff_tou(1))
    m.set_inputs(T0, imax(m, -30.0))
    m.advance_to(T0 + 2 * H)  # steady: demand has its cycles, the profile its entries
    fired: list[float] = []
    jumps = m.jumps
    original = m._fire

    def counting() -> None:
        fired.append(m.now)
        original()

    m._fire = counting  # type: ignore[method-assign]
    target = T0 + 50 * H + 10 * 60.0  # 10 min after a 15-min boundary
    m.advance_to(target)
    assert m.jumps == jumps + 1
    assert fired == [T0 + 50 * H + 300.0, target]


@pytest.mark.parametrize("mode", [("block", 15, 5), ("rolling", 15, 5), ("block", 30, 3)])
def test_a_jump_right_after_a_load_step_equals_event_by_event(mode: tuple[str, int, int]) -> None:
    # A higher load from 10:07: its first blocks set new maxima (and their stamps) inside the
    # jump, which demand closes span by span until settled (DemandComponent.fast_forward); the
    # jump starts at the first boundary common to demand and the load profile, 10:15, and the
    # loop fires only the events before it and in the last period before the target.
    cycle = dict(zip(("mode", "cycle_min", "window_min"), mode, strict=True))
    runs = []
    fired: list[float] = []
    for fast in (True, False):
        m = build(fast, clock={"drift_ppm": 0.0}, demand=cycle, tou=fixed_tariff_tou(2))
        m.set_inputs(T0, imax(m, -30.0, 0.2))
        m.advance_to(T0 + 10 * H + 7 * 60.0)
        m.set_inputs(m.now, imax(m, -30.0))
        if fast:
            original = m._fire

            def counting(m: A1000 = m, original: Any = original) -> None:
                fired.append(m.now - T0)
                original()

            m._fire = counting  # type: ignore[method-assign]
        m.advance_to(T0 + 30 * H)
        runs.append(state(m))
    assert runs[0] == runs[1]
    # The jump's period P: the demand period (the cycle in block mode, the sub-interval in
    # rolling mode) and the profile's 15 min, least common multiple. Events: every sub-interval
    # end from 10:07 to the first multiple of P, then those of the last period before 30:00.
    window = mode[2] * 60
    period = math.lcm(window if mode[0] == "rolling" else mode[1] * 60, 900)
    step = 10 * H + 7 * 60
    start = math.ceil(step / period) * period
    before = range(math.ceil(step / window) * window, int(start) + 1, window)
    after = range(int(30 * H - period + window), int(30 * H) + 1, window)
    assert fired == [float(t) for t in (*before, *after)]
    assert max(runs[0][0]["components"]["demand"]["maxima"][0]) > 0
