"""rig.sim.positions.Position pulse totals: the A1000 counting its own edges (counted per span of
constant constant and registers) against the position closing every span of constant inputs and
constant, the exact reference."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meter.a1000.registers as registers
from meter.a1000.meter import A1000
from meter.electrical import ElectricalInputs
from rig.sim.positions import Position
from tests.meter.a1000.helpers import T0, ideal_config

U, I_N = 57.7, 0.5


class SpanCounted:
    """The A1000 seen as a model that does not count its own edges (no pulses_emitted): the
    position then closes the span of constant inputs at every change."""

    def __init__(self, meter: A1000) -> None:
        self._meter = meter

    def __getattr__(self, name: str) -> Any:
        if name == "pulses_emitted":
            raise AttributeError(name)
        return getattr(self._meter, name)


def _pair() -> tuple[Position, Position]:
    defects = [{"name": "energy_lost_at_power_down"}]
    own = Position(1, "3P4W", A1000(ideal_config(), start_time=T0, defects=defects))
    spans = Position(2, "3P4W", SpanCounted(A1000(ideal_config(), start_time=T0,
                                                  defects=defects)))
    for p in (own, spans):
        p.attach(T0)
    return own, spans


STEP = st.one_of(
    st.tuples(st.just("load"), st.floats(0.5, 400.0), st.floats(0.0, 4.0),
              st.sampled_from([0.0, 60.0, 180.0, 270.0])),
    st.tuples(st.just("cut"), st.floats(0.5, 400.0), st.just(0.0), st.just(0.0)),
    st.tuples(st.just("constant"), st.floats(0.5, 400.0), st.sampled_from([1000, 5000, 20000]),
              st.just(0.0)),
)


@pytest.mark.parametrize("history", [registers.HISTORY_SEGMENTS, 3])
@settings(max_examples=30, deadline=None)
@given(steps=st.lists(STEP, min_size=1, max_size=25))
def test_own_edge_counts_equal_the_spans_closed_at_every_change(
    history: int, steps: list[tuple[str, float, float, float]]
) -> None:
    # A short kept history (3 segments) makes the meter fold its count before losing a start.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registers, "HISTORY_SEGMENTS", history)
        own, spans = _pair()
        t = T0
        for kind, wait, x, phi in steps:
            t += wait
            for p in (own, spans):
                if kind == "load":
                    p.set_inputs(t, ElectricalInputs.balanced(U, x * I_N, phi))
                elif kind == "cut":  # a power cut: the registers fall back to the last save
                    p.set_inputs(t, ElectricalInputs.dead(50.0))
                else:
                    if p is spans:  # the reference closes its span at a constant change too
                        p._count_pulses(t)
                    p.meter.set_constant(t, "active", int(x))
                    p.meter.set_constant(t, "reactive", int(x))
            assert own.pulse_totals(t) == spans.pulse_totals(t)
        end = t + 900.0
        for p in (own, spans):
            p.advance_to(end)
        totals = own.pulse_totals(end)
        assert totals == spans.pulse_totals(end)


def test_a_meter_swapped_in_keeps_what_the_first_one_emitted() -> None:
    own, _ = _pair()
    own.set_inputs(T0, ElectricalInputs.balanced(U, 4 * I_N, 0.0))
    before = own.pulse_totals(T0 + 600.0)
    assert before["ACTIVE_IMPORT"] > 0
    own.replace_meter(A1000(ideal_config(), start_time=T0 + 600.0), T0 + 600.0)
    assert own.pulse_totals(T0 + 600.0) == before
    later = own.pulse_totals(T0 + 1200.0)
    assert later["ACTIVE_IMPORT"] == pytest.approx(2 * before["ACTIVE_IMPORT"], abs=1)
