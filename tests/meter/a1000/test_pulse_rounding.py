"""Regression: float pulse edges of exact (Fraction) edges, next_pulse versus pulse_count.

Reported by the sim helper: an edge rounded to a float could be asked for again from itself
and counted twice, or land on the other side of `after` from what pulse_count says. Each
edge is now the largest float not after the exact edge (registers.py module doc).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

from meter.a1000.meter import A1000
from meter.a1000.registers import PulseOutput
from meter.electrical import ElectricalInputs, Wiring, measure
from tests.meter.a1000.helpers import T0, ideal_config

U, I_N, C = 57.7, 0.5, 10000
OUT = PulseOutput.ACTIVE_IMPORT
EDGES = 300


def _up(t: float) -> float:
    return math.nextafter(t, math.inf)


def _down(t: float) -> float:
    return math.nextafter(t, -math.inf)


def _largest_float_not_after(x: Fraction) -> float:
    f = float(x)
    while Fraction(f) > x:
        f = _down(f)
    while Fraction(_up(f)) <= x:
        f = _up(f)
    return f


def _meter_and_exact_edges() -> tuple[A1000, list[Fraction]]:
    m = A1000(ideal_config(), start_time=T0)
    m.set_inputs(T0, ElectricalInputs.balanced(U, I_N, 0.0))
    kw = Fraction(measure(m.inputs, Wiring.THREE_PHASE_FOUR_WIRE).p / 1000)
    period = Fraction(3600) / (kw * C)
    exact = [Fraction(T0) + k * period for k in range(1, EDGES + 2)]
    # The cases that went wrong: edges that round to nearest upwards, past the exact edge.
    assert sum(Fraction(float(e)) > e for e in exact) > EDGES // 10
    return m, exact


def test_each_edge_is_the_largest_float_not_after_the_exact_edge() -> None:
    m, exact = _meter_and_exact_edges()
    t = T0
    for k in range(EDGES):
        edge = m.next_pulse(OUT, t)
        assert edge is not None and edge > t
        assert edge == _largest_float_not_after(exact[k]), k
        t = edge


def test_asking_again_from_an_edge_never_returns_it_again() -> None:
    m, _ = _meter_and_exact_edges()
    edges = [m.next_pulse(OUT, T0)]
    for _ in range(EDGES):
        edges.append(m.next_pulse(OUT, edges[-1]))
    assert all(b > a for a, b in itertools.pairwise(edges))
    for k, edge in enumerate(edges[:-1]):
        assert m.next_pulse(OUT, _down(edge)) == edge  # from just before: this one
        assert m.next_pulse(OUT, edge) == edges[k + 1]  # from itself: the next one


def test_walk_and_count_agree_at_every_edge() -> None:
    m, _ = _meter_and_exact_edges()
    edge = T0
    for k in range(1, EDGES + 1):
        edge = m.next_pulse(OUT, edge)
        # pulse_count counts [t0, t1): the k-th edge is not in [T0, edge) but is in
        # [T0, just after edge). Rounding to nearest broke the first half of this.
        assert m.pulse_count(OUT, T0, edge) == k - 1, k
        assert m.pulse_count(OUT, T0, _up(edge)) == k, k


def test_count_up_to_a_time_then_step_counts_each_edge_once() -> None:
    # The simulated error calculator counts (cursor, g] in one call, then steps from g.
    m, exact = _meter_and_exact_edges()
    for k in range(EDGES):
        for g in (float(exact[k]), _down(float(exact[k])), _up(float(exact[k]))):
            counted = m.pulse_count(OUT, T0, _up(g))  # edges in [T0, g]
            stepped = m.next_pulse(OUT, g)
            assert stepped is not None and stepped > g
            assert m.pulse_count(OUT, T0, _up(stepped)) == counted + 1, (k, g)
