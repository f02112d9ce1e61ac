"""Pulse outputs and LEDs: exact edges, counts, widths, starting current and anti-creep."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meter.a1000.meter import A1000
from meter.a1000.registers import PulseOutput
from meter.electrical import ElectricalInputs, Wiring, measure
from tests.meter.a1000.helpers import T0, ideal_config

U, I_N, C = 57.7, 0.5, 10000
OUT = PulseOutput


def _meter(phi: float = 0.0, current: float = I_N, **cfg: object) -> A1000:
    m = A1000(ideal_config(**cfg), start_time=T0)
    m.set_inputs(T0, ElectricalInputs.balanced(U, current, phi))
    return m


def test_pulse_edges_are_exact_and_consistent_with_count() -> None:
    m = _meter()
    kw = Fraction(measure(m.inputs, Wiring.THREE_PHASE_FOUR_WIRE).p / 1000)
    period = Fraction(3600) / (kw * C)  # seconds per pulse
    t = T0
    edges = []
    for _ in range(50):
        t = m.next_pulse(OUT.ACTIVE_IMPORT, t)
        edges.append(t)
    for k, e in enumerate(edges, start=1):
        exact = Fraction(T0) + k * period  # the largest float not after the exact edge:
        assert Fraction(e) <= exact < Fraction(math.nextafter(e, math.inf))
    assert m.pulse_count(OUT.ACTIVE_IMPORT, T0, edges[-1]) == 49  # [t0, t1) excludes the last
    assert m.pulse_count(OUT.ACTIVE_IMPORT, T0, edges[-1] + 1e-6) == 50
    hour = m.pulse_count(OUT.ACTIVE_IMPORT, T0, T0 + 3600)
    assert hour == int(kw * C)  # 865.5 pulses' worth of energy -> 865 edges in the hour


def test_registers_and_pulses_agree_over_a_day() -> None:
    m = _meter(phi=45)
    m.advance_to(T0 + 86400)
    n = m.pulse_count(OUT.ACTIVE_IMPORT, T0, T0 + 86400)
    assert n == int(m.energy.value("import", 0, m.now) * C)
    nq = m.pulse_count(OUT.REACTIVE_Q1Q2, T0, T0 + 86400)
    assert nq == int(m.energy.value("q1", 0, m.now) * C)
    assert m.pulse_count(OUT.REACTIVE_Q3Q4, T0, T0 + 86400) == 0
    assert m.pulse_count(OUT.ACTIVE_EXPORT, T0, T0 + 86400) == 0


@pytest.mark.parametrize(
    ("phi", "active", "reactive"),
    [
        (30, OUT.ACTIVE_IMPORT, OUT.REACTIVE_Q1Q2),
        (150, OUT.ACTIVE_EXPORT, OUT.REACTIVE_Q1Q2),
        (-150, OUT.ACTIVE_EXPORT, OUT.REACTIVE_Q3Q4),
        (-30, OUT.ACTIVE_IMPORT, OUT.REACTIVE_Q3Q4),
    ],
)
def test_outputs_follow_direction_and_quadrant(phi: float, active: OUT, reactive: OUT) -> None:
    m = _meter(phi=phi)
    for out in OUT:
        running = out in (active, reactive, OUT.LED_ACTIVE, OUT.LED_REACTIVE)
        assert (m.next_pulse(out, T0) is not None) == running, out


def test_history_answers_after_input_changes() -> None:
    m = _meter()
    m.set_inputs(T0 + 100, ElectricalInputs.balanced(U, 2 * I_N, 0))
    m.advance_to(T0 + 200)
    # Across the change: count = energy * C exactly.
    n = m.pulse_count(OUT.ACTIVE_IMPORT, T0, T0 + 200)
    assert n == int(m.energy.value("import", 0, T0 + 200) * C)
    before = m.next_pulse(OUT.ACTIVE_IMPORT, T0 + 50)
    after = m.next_pulse(OUT.ACTIVE_IMPORT, T0 + 150)
    p1 = m.next_pulse(OUT.ACTIVE_IMPORT, before)
    p2 = m.next_pulse(OUT.ACTIVE_IMPORT, after)
    assert (p2 - after) == pytest.approx((p1 - before) / 2, abs=1e-6)  # double current


def test_pulse_width_and_led_duty() -> None:
    m = _meter()
    assert m.pulse_width(OUT.ACTIVE_IMPORT) == 0.080  # manual 1.1
    e1 = m.next_pulse(OUT.LED_ACTIVE, T0)
    e2 = m.next_pulse(OUT.LED_ACTIVE, e1)
    assert m.pulse_width(OUT.LED_ACTIVE) == pytest.approx((e2 - e1) / 2)  # 50 % duty
    assert m.pulse_level(OUT.ACTIVE_IMPORT, e1 + 0.079)
    assert not m.pulse_level(OUT.ACTIVE_IMPORT, e1 + 0.081)
    assert m.pulse_level(OUT.LED_ACTIVE, e1 + 0.49 * (e2 - e1))
    assert not m.pulse_level(OUT.LED_ACTIVE, e1 + 0.51 * (e2 - e1))


def test_starting_current_registers() -> None:
    # standards.md 1.4: start and continue to register at 0.001 In, PF 1.
    m = _meter(current=0.001 * I_N)
    first = m.next_pulse(OUT.ACTIVE_IMPORT, T0)
    assert first is not None
    expected = 3600 / (3 * U * 0.001 * I_N / 1000 * C)
    assert first - T0 == pytest.approx(expected, rel=1e-9)


def test_no_load_at_115_percent_un_gives_no_pulse() -> None:
    m = A1000(ideal_config(), start_time=T0)
    m.set_inputs(T0, ElectricalInputs.no_load(1.15 * U))
    assert m.powered
    m.advance_to(T0 + 4 * 3600)
    for out in OUT:
        assert m.next_pulse(out, T0) is None
        assert m.pulse_count(out, T0, T0 + 4 * 3600) == 0
    assert m.register("import") == 0.0


def test_below_anti_creep_threshold_registers_nothing() -> None:
    m = _meter(current=0.0004 * I_N)
    assert m.next_pulse(OUT.ACTIVE_IMPORT, T0) is None


def test_pulse_constant_change_by_protocol_setter() -> None:
    m = _meter()
    m.set_constant(T0, "active", 5000)
    e1 = m.next_pulse(OUT.ACTIVE_IMPORT, T0 + 10)
    e2 = m.next_pulse(OUT.ACTIVE_IMPORT, e1)
    kw = measure(m.inputs, Wiring.THREE_PHASE_FOUR_WIRE).p / 1000
    assert e2 - e1 == pytest.approx(3600 / (kw * 5000), rel=1e-9)


def _meter_through(changes: list[tuple[float, float, float]]) -> tuple[A1000, float]:
    """A meter at In from T0, then each (wait s, current in In, phi) in turn; and the time of
    the last change."""
    m = A1000(ideal_config(), start_time=T0)
    t = T0
    m.set_inputs(t, ElectricalInputs.balanced(U, I_N, 0))
    for wait, current, phi in changes:
        t += wait
        m.set_inputs(t, ElectricalInputs.balanced(U, current * I_N, phi))
    return m, t


@settings(max_examples=20, deadline=None)
@given(
    changes=st.lists(
        st.tuples(
            st.floats(1.0, 120.0),  # seconds until the change
            st.floats(0.0, 2.0),  # current, multiples of In
            st.sampled_from([0.0, 30.0, 60.0, 180.0, -60.0]),
        ),
        min_size=1,
        max_size=6,
    ),
    window=st.tuples(st.floats(0.001, 1.0), st.floats(0.001, 1.0)),
)
def test_next_pulse_walk_equals_pulse_count_across_changes(
    changes: list[tuple[float, float, float]], window: tuple[float, float]
) -> None:
    m, t = _meter_through(changes)
    end = t + 60.0
    m.advance_to(end)
    a, b = sorted(window)
    outs = (OUT.ACTIVE_IMPORT, OUT.ACTIVE_EXPORT, OUT.LED_REACTIVE)
    # A window anywhere (across the changes), and one in the running segment (its fast path).
    for t0, t1 in ((T0 + a * (end - T0), T0 + b * (end - T0)), (t + a * 60.0, t + b * 60.0)):
        walks = []
        for out in outs:
            walked = 0
            # Edges in [t0, t1): start just below t0 so an edge exactly at t0 counts.
            edge = m.next_pulse(out, math.nextafter(t0, -math.inf))
            while edge is not None and edge < t1:
                walked += 1
                edge = m.next_pulse(out, edge)
            assert walked == m.pulse_count(out, t0, t1), out
            walks.append(walked)
        assert m.pulse_counts(outs, t0, t1) == walks  # all outputs at once: the same counts


@settings(max_examples=40, deadline=None)
@given(
    changes=st.lists(
        st.tuples(st.floats(0.5, 30.0), st.floats(0.05, 4.0), st.sampled_from([0.0, 60.0, 180.0])),
        min_size=1,
        max_size=5,
    ),
    start=st.floats(0.0, 1.0),
    n=st.integers(1, 40),
)
def test_the_nth_edge_in_one_call_is_the_nth_step(
    changes: list[tuple[float, float, float]], start: float, n: int
) -> None:
    """next_pulse(after, n) (one call, what the simulated error calculator uses to close a
    gate) is the edge reached by asking for the next one n times, across input changes."""
    m, t = _meter_through(changes)
    m.advance_to(t + 60.0)
    for out in (OUT.ACTIVE_IMPORT, OUT.LED_ACTIVE):
        after = T0 + start * (t - T0)
        for origin in (after, m.next_pulse(out, after)):  # from anywhere, and from an edge
            if origin is None:
                continue
            stepped = origin
            for _ in range(n):
                stepped = m.next_pulse(out, stepped) if stepped is not None else None
            assert m.next_pulse(out, origin, n) == stepped, (out, origin, n)
