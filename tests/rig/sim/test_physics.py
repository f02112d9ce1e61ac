"""rig.sim.physics against meter.electrical (two independent implementations of the same
conventions, docs/conventions.md section 1), and the source's non-ideal behaviour."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meter.electrical import Wiring, measure
from rig.sim.physics import HarmonicSetting, PhaseSetting, powers
from rig.sim.positions import electrical_inputs
from rig.sim.source import SimSource, SourceSpec

angle = st.floats(-180, 180)
harmonic = st.builds(HarmonicSetting, st.integers(2, 31), st.floats(0, 0.3), angle)
phase = st.builds(PhaseSetting, st.floats(0, 300), angle, st.floats(0, 20), angle,
                  st.lists(harmonic, max_size=2, unique_by=lambda h: h.order).map(tuple),
                  st.lists(harmonic, max_size=2, unique_by=lambda h: h.order).map(tuple))


@settings(max_examples=200, deadline=None)
@given(st.tuples(phase, phase, phase))
def test_four_wire_powers_agree_with_the_meter_side(phases) -> None:
    ours = powers(phases, "3P4W")
    theirs = measure(electrical_inputs(phases, 50.0, "3P4W"), Wiring("3P4W"))
    assert ours.p == pytest.approx(theirs.p, rel=1e-9, abs=1e-6)
    assert ours.q == pytest.approx(theirs.q, rel=1e-9, abs=1e-6)
    for k in range(3):
        assert ours.s_elements[k] == pytest.approx(theirs.phases[k].s, rel=1e-9, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.tuples(phase, phase, phase))
def test_three_wire_powers_agree_with_the_meter_side(phases) -> None:
    ours = powers(phases, "3P3W")
    theirs = measure(electrical_inputs(phases, 50.0, "3P3W"), Wiring("3P3W"))
    assert ours.p == pytest.approx(theirs.p, rel=1e-9, abs=1e-6)
    assert ours.q == pytest.approx(theirs.q, rel=1e-9, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.tuples(phase, phase, phase))
def test_totals_are_the_elements_added_in_order(phases) -> None:
    # Left to right, each sum rounded, on every Python (3.12+'s sum() compensates).
    for wiring in ("3P4W", "3P3W"):
        ours = powers(phases, wiring)
        for total, parts in ((ours.p, ours.p_elements), (ours.q, ours.q_elements),
                             (ours.s, ours.s_elements)):
            added = 0.0
            for x in parts:
                added += x
            assert total == added


def test_unknown_wiring_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown wiring '1P2W'"):
        powers((PhaseSetting(),) * 3, "1P2W")


def test_setting_error_is_fixed_per_channel_and_bounded() -> None:
    src = SimSource(SourceSpec(setting_error=1e-3, angle_error_deg=0.01, seed=3))
    for k in range(3):
        src.set_phase(k, PhaseSetting(230.0, 0.0, 5.0, 0.0))
    src.set_output(True, 0.0, "test")
    a = src.actual_phases()
    assert a == src.actual_phases()                       # no randomness per reading
    assert all(abs(p.u_rms / 230 - 1) <= 1e-3 and abs(p.i_rms / 5 - 1) <= 1e-3 for p in a)
    assert all(abs(p.u_angle) <= 0.01 for p in a)
    assert len({p.u_rms for p in a}) == 3                 # each channel its own error
    same_seed = SimSource(SourceSpec(setting_error=1e-3, angle_error_deg=0.01, seed=3))
    for k in range(3):
        same_seed.set_phase(k, PhaseSetting(230.0, 0.0, 5.0, 0.0))
    same_seed.set_output(True, 0.0, "test")
    assert same_seed.actual_phases() == a                 # deterministic


def test_stability_steps_at_its_interval_only_while_on() -> None:
    src = SimSource(SourceSpec(stability=1e-4, stability_interval_s=10.0))
    assert src.next_stability_step(3.0) is None           # off: no events
    src.set_phase(0, PhaseSetting(230.0, 0.0, 5.0, 0.0))
    src.set_output(True, 0.0, "test")
    assert src.next_stability_step(3.0) == 10.0
    assert src.next_stability_step(10.0) == 20.0
    before = src.actual_phases()[0].u_rms
    src.stability_step()
    after = src.actual_phases()[0].u_rms
    assert after != before and abs(after / 230 - 1) <= 1e-4


def test_source_refuses_out_of_range_settings() -> None:
    from rig.sim.source import SourceError
    src = SimSource(SourceSpec(max_voltage=300, max_current=10))
    with pytest.raises(SourceError, match="voltage 301"):
        src.set_phase(0, PhaseSetting(301.0, 0.0, 0.0, 0.0))
    with pytest.raises(SourceError, match="current 11"):
        src.set_phase(0, PhaseSetting(230.0, 0.0, 11.0, 0.0))
    with pytest.raises(SourceError, match="frequency"):
        src.set_frequency(0.5)
