"""Load points: constructors and modifiers, angles per docs/conventions.md 1."""

import math

import pytest

from rig.instruments.loadpoint import Harmonic, LoadPoint, normalise_angle, phi_for_pf


@pytest.mark.parametrize(
    ("pf", "phi"),
    [
        ("1", 0.0),
        ("0.5L", 60.0),
        ("0.5C", -60.0),
        ("0.8C", -36.8699),
        ("0.25L", 75.5225),
        (0.5, 60.0),
    ],
)
def test_phi_for_pf(pf, phi):
    assert phi_for_pf(pf) == pytest.approx(phi, abs=1e-4)


@pytest.mark.parametrize("bad", ["1.2", "x", "-0.5L"])
def test_bad_power_factor_is_refused(bad):
    with pytest.raises(ValueError, match="power factor"):
        phi_for_pf(bad)


def test_balanced_pf_half_inductive_matches_contract_example():
    point = LoadPoint.balanced(230, 5, "0.5L")
    l1, l2, l3 = point.phases
    assert (l1.voltage_angle, l1.current_angle) == pytest.approx((0.0, -60.0))
    assert (l2.voltage_angle, l3.voltage_angle) == (-120.0, 120.0)
    assert all(p.phi == pytest.approx(60.0) for p in point.phases)
    assert point.active_power == pytest.approx(3 * 230 * 5 * 0.5)
    assert point.reactive_power > 0  # inductive


def test_export_reverses_active_power_and_keeps_quadrant():
    imp = LoadPoint.balanced(230, 5, "0.8C")
    exp = LoadPoint.balanced(230, 5, "0.8C", "export")
    assert exp.active_power == pytest.approx(-imp.active_power)
    assert exp.reactive_power == pytest.approx(-imp.reactive_power)


def test_at_builds_the_usual_test_points():
    point = LoadPoint.at(230, 5, 0.1, "0.5L", element="L3")
    assert [p.current for p in point.phases] == [0.0, 0.0, 0.5]
    assert [p.voltage for p in point.phases] == [230, 230, 230]
    with pytest.raises(ValueError, match="element"):
        LoadPoint.at(230, 5, 1, element="L4")
    with pytest.raises(ValueError, match="direction"):
        LoadPoint.balanced(230, 5, direction="both")


def test_reversed_sequence_keeps_phi():
    point = LoadPoint.balanced(230, 5, "0.5L").reversed_sequence()
    assert [p.voltage_angle for p in point.phases] == [0.0, 120.0, -120.0]
    assert [p.phi for p in point.phases] == pytest.approx([60.0, 60.0, 60.0])


def test_voltage_frequency_and_unbalance_variants():
    base = LoadPoint.balanced(230, 5)
    assert base.scaled_voltage(1.1).phases[0].voltage == pytest.approx(253.0)
    assert base.scaled_frequency(0.98).frequency == pytest.approx(49.0)
    assert [p.current for p in base.with_currents(5, 4, 3).phases] == [5, 4, 3]
    assert [p.voltage for p in base.with_voltages(230, 220, 210).phases] == [230, 220, 210]
    assert base.scaled_current(0).max_current == 0
    assert LoadPoint.voltage_only(264.5).max_current == 0


def test_harmonics_and_validation():
    point = LoadPoint.balanced(230, 5).with_harmonics(current=(Harmonic(5, 0.4),))
    assert point.phases[2].current_harmonics == (Harmonic(5, 0.4),)
    with pytest.raises(ValueError, match="harmonic order"):
        LoadPoint.balanced(230, 5).with_harmonics(voltage=(Harmonic(1, 0.1),))
    with pytest.raises(ValueError, match="frequency"):
        LoadPoint.balanced(230, 5, frequency=0)
    with pytest.raises(ValueError, match="phase"):
        LoadPoint.balanced(230, 5).single_element(4)


@pytest.mark.parametrize(
    ("a", "n"), [(180, 180), (-180, 180), (540, 180), (-190, 170), (359.5, -0.5)]
)
def test_normalise_angle(a, n):
    assert normalise_angle(a) == pytest.approx(n)
    assert not math.copysign(1, normalise_angle(0.0)) < 0
