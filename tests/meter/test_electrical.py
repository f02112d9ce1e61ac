import math

import pytest

from meter.electrical import (
    ElectricalInputs,
    Harmonic,
    PhaseInput,
    Phasor,
    Wiring,
    add_up,
    measure,
    quadrant,
)

W4, W3 = Wiring.THREE_PHASE_FOUR_WIRE, Wiring.THREE_PHASE_THREE_WIRE


@pytest.mark.parametrize(
    ("phi", "quad"), [(0, 1), (60, 1), (120, 2), (180, 2), (-120, 3), (-60, 4), (-30, 4)]
)
def test_balanced_4wire_powers_and_quadrant(phi: float, quad: int) -> None:
    m = measure(ElectricalInputs.balanced(57.7, 1.0, phi), W4)
    assert m.p == pytest.approx(3 * 57.7 * math.cos(math.radians(phi)), abs=1e-9)
    assert m.q == pytest.approx(3 * 57.7 * math.sin(math.radians(phi)), abs=1e-9)
    assert m.quadrant == quad
    for e in m.phases:
        assert e.phi_deg == pytest.approx(phi if phi != -180 else 180)
        assert e.voltage == pytest.approx(57.7)


def test_contract_convention_pf_half_inductive() -> None:
    # docs/conventions.md 1: balanced PF 0.5 L at L1 is U at 0 deg, I at -60 deg; Q > 0 inductive.
    m = measure(ElectricalInputs.balanced(230, 5, 60), W4)
    assert m.phases[0].pf == pytest.approx(0.5)
    assert m.q > 0 and m.reactive_direction == "+" and m.active_direction == "+"
    i1 = ElectricalInputs.balanced(230, 5, 60).phases[0].current
    assert i1.angle_deg == -60


@pytest.mark.parametrize("phi", [0, 30, 60, 90, 150, -45, -120])
def test_three_wire_aron_equals_three_element_power(phi: float) -> None:
    inputs = ElectricalInputs.balanced(57.7, 2.0, phi)
    four, three = measure(inputs, W4), measure(inputs, W3)
    assert three.p == pytest.approx(four.p, abs=1e-9)
    assert three.q == pytest.approx(four.q, abs=1e-9)
    assert three.phases[0].voltage == pytest.approx(57.7 * math.sqrt(3))
    assert three.phases[1].current == 0 and three.phases[1].p == 0


def test_three_wire_ignores_l2_current() -> None:
    base = ElectricalInputs.balanced(57.7, 1.0, 0)
    odd = ElectricalInputs(
        (base.phases[0], PhaseInput(base.phases[1].voltage, Phasor(50.0, 3.0)), base.phases[2])
    )
    assert measure(odd, W3).p == pytest.approx(measure(base, W3).p)
    assert measure(odd, W4).p != pytest.approx(measure(base, W4).p)


def test_harmonics_add_true_power_and_rms() -> None:
    h5 = Harmonic(5, 0.1, 0.4, 0.0)
    m = measure(ElectricalInputs.balanced(100, 1, 0, harmonics=(h5,)), W4)
    e = m.phases[0]
    assert e.voltage == pytest.approx(100 * math.sqrt(1.01))
    assert e.current == pytest.approx(math.sqrt(1.16))
    assert e.p == pytest.approx(100 + 100 * 0.1 * 0.4)
    assert e.thd_i == pytest.approx(0.4)


def test_quadrant_boundaries() -> None:
    assert quadrant(0, 0) == 1
    assert quadrant(-1, 0) == 2
    assert quadrant(1, -1e-12) == 4


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="rms"):
        Phasor(-1.0)
    with pytest.raises(ValueError, match="frequency"):
        ElectricalInputs.balanced(57.7, 1, 0, frequency=0)
    with pytest.raises(ValueError, match="order"):
        Harmonic(1, 0.1, 0.1)


def test_a_subnormal_component_does_not_overflow_the_angle() -> None:
    # Found by hypothesis: L2 at 2.9e-161 V leaves 6 - 1.5e-323j for the 3P3W element U32, and
    # cmath.phase raises OverflowError on such an underflowing angle.
    tiny = 2.8871415105329847e-161
    inputs = ElectricalInputs((
        PhaseInput(Phasor(0.0), Phasor(0.0)),
        PhaseInput(Phasor(tiny, tiny), Phasor(0.0)),
        PhaseInput(Phasor(6.0), Phasor(1.0)),
    ))
    m = measure(inputs, Wiring.THREE_PHASE_THREE_WIRE)
    assert m.p == pytest.approx(6.0) and m.q == pytest.approx(0.0, abs=1e-12)


def test_floats_are_added_left_to_right_on_every_python() -> None:
    # By hand, in binary64: 1e16 + 1.0 rounds back to 1e16 (the spacing there is 2.0), and
    # 1e16 - 1e16 = 0.0. Python 3.12+'s compensated sum() gives 1.0 for the same list.
    assert add_up([1e16, 1.0, -1e16]) == 0.0
    assert add_up(iter([0.1, 0.2, 0.3])) == (0.1 + 0.2) + 0.3 == 0.6000000000000001
    assert add_up([]) == 0.0


def test_the_measured_totals_are_the_elements_added_in_order() -> None:
    # The balanced load of test_energy's month at constant load (57.7 V, 0.5 A, 30 deg), whose
    # total differed by one last bit between Python 3.11 and 3.13: the elements are
    # 24.984832899181058, 24.984832899181054 and 24.984832899181054 W; added left to right
    # 74.95449869754317 W, by 3.12+'s compensated sum() 74.95449869754316 W.
    m = measure(ElectricalInputs.balanced(57.7, 0.5, 30), W4)
    p = [m.phases[k].p for k in range(3)]
    assert p == [24.984832899181058, 24.984832899181054, 24.984832899181054]
    assert m.p == (p[0] + p[1]) + p[2] == 74.95449869754317
