"""Registered energy equals the analytic value: quadrants, wirings, tariffs, rollover, drift."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from meter.a1000.meter import A1000
from meter.a1000.registers import QUANTITIES
from meter.electrical import ElectricalInputs, Harmonic, Wiring, measure
from tests.meter.a1000.helpers import T0, fixed_tariff_tou, ideal_config, make_config

HOUR = 3600.0
U, I_A = 57.7, 0.5


def _expect(phi: float, hours: float) -> dict[str, float]:
    p = 3 * U * I_A * math.cos(math.radians(phi)) / 1000 * hours
    q = 3 * U * I_A * math.sin(math.radians(phi)) / 1000 * hours
    s = 3 * U * I_A / 1000 * hours
    out = dict.fromkeys(QUANTITIES, 0.0)
    if abs(p) > 1e-12:
        out["import" if p > 0 else "export"] = abs(p)
    out["s_import" if p >= -1e-12 else "s_export"] = s
    if abs(q) > 1e-12:
        quad = (1 if q > 0 else 4) if p >= -1e-12 else (2 if q > 0 else 3)
        out[f"q{quad}"] = abs(q)
    return out


@pytest.mark.parametrize("wiring", [Wiring.THREE_PHASE_FOUR_WIRE, Wiring.THREE_PHASE_THREE_WIRE])
@pytest.mark.parametrize("phi", [0.0, 60.0, 150.0, -150.0, -60.0, 90.0, 180.0])
@pytest.mark.parametrize("tariff", [1, 2, 3, 4])
def test_energy_matches_analytic(wiring: Wiring, phi: float, tariff: int) -> None:
    m = A1000(ideal_config(wiring=wiring.value, tou=fixed_tariff_tou(tariff)), start_time=T0)
    m.set_inputs(T0, ElectricalInputs.balanced(U, I_A, phi))
    m.advance_to(T0 + 2.5 * HOUR)
    exp = _expect(phi, 2.5)
    for q in QUANTITIES:
        assert m.register(q) == pytest.approx(exp[q], rel=1e-12, abs=1e-15), q
        assert m.register(q, tariff) == pytest.approx(exp[q], rel=1e-12, abs=1e-15), q
        for other in {1, 2, 3, 4} - {tariff}:
            assert m.register(q, other) == 0.0


def test_tariff_registers_split_by_tou_and_sum_to_total() -> None:
    # Default profile 1 (winter working day): 00:00 T4, 07:00 T2, 08:00 T1, 11:00 T2,
    # 17:00 T1, 20:00 T2, 22:00 T3. Hand-worked hours on Monday 2026-03-02:
    # T1 3+3 = 6 h, T2 1+6+2 = 9 h, T3 2 h, T4 7 h.
    m = A1000(ideal_config(), start_time=T0)
    m.set_inputs(T0, ElectricalInputs.balanced(U, I_A, 0))
    m.advance_to(T0 + 24 * HOUR)
    kw = 3 * U * I_A / 1000
    hours = {1: 6, 2: 9, 3: 2, 4: 7}
    # The switch comes 0.02 s after the boundary (manual 3.2.4) on a clock drifting +1 ppm.
    for t, h in hours.items():
        assert m.register("import", t) == pytest.approx(kw * h, abs=kw * 0.1 / HOUR)
    total = sum(m.energy.value("import", t, m.now) for t in (1, 2, 3, 4))
    assert total == m.energy.value("import", 0, m.now)  # exact, not approximately


def test_month_at_constant_load_is_exact_no_drift() -> None:
    m = A1000(ideal_config(), start_time=T0)
    inputs = ElectricalInputs.balanced(U, I_A, 30)
    m.set_inputs(T0, inputs)
    m.advance_to(T0 + 31 * 86400)
    rate = Fraction(measure(inputs, Wiring.THREE_PHASE_FOUR_WIRE).p / 1000)
    exact = rate * (Fraction(T0 + 31 * 86400) - Fraction(T0)) / 3600
    assert m.energy.value("import", 0, m.now) == exact
    # Tariff registers are exact pieces of the same integral.
    assert sum(m.energy.value("import", t, m.now) for t in (1, 2, 3, 4)) == exact


def test_default_error_model_is_applied_to_registers() -> None:
    m = A1000(make_config(tou=fixed_tariff_tou(1)), start_time=T0)
    m.set_inputs(T0, ElectricalInputs.balanced(U, I_A, 0))
    m.advance_to(T0 + HOUR)
    c = m.config
    e = c.error_model.active.percent(
        I_A, 1.0, U, 50.0, 0.0, i_n=c.in_a, i_max=c.imax_a, u_n=U, f_n=50.0
    )
    assert 0.0 < abs(e) < 0.1  # "a few hundredths of a percent"
    assert m.register("import") == pytest.approx(3 * U * I_A / 1000 * (1 + e / 100), rel=1e-12)


@pytest.mark.parametrize(("fmt", "shown"), [("99999.99", "00034.56"), ("999999.9", "100034.5")])
def test_register_format_and_rollover(fmt: str, shown: str) -> None:
    m = A1000(ideal_config(register_format=fmt), start_time=T0)
    snap = m.energy.snapshot(T0)
    snap["import"] = [str(Fraction("100034.5678"))] * 5
    m.energy.restore(T0, snap, 1)
    assert m.register_display("import") == shown
    assert m.register("import") == pytest.approx(100034.5678)  # internal value keeps counting


def test_power_down_stops_registration_and_clock_runs() -> None:
    m = A1000(ideal_config(), start_time=T0)
    m.set_inputs(T0, ElectricalInputs.balanced(U, I_A, 0))
    m.set_inputs(T0 + HOUR, ElectricalInputs.balanced(0.5 * U, I_A, 0))  # below 0.6 Un
    assert not m.powered
    m.advance_to(T0 + 3 * HOUR)
    assert m.register("import") == pytest.approx(3 * U * I_A / 1000)
    assert m.meter_seconds() == pytest.approx(T0 + 3 * HOUR, abs=0.05)
    m.set_inputs(T0 + 3 * HOUR, ElectricalInputs.balanced(0.65 * U, I_A, 0))
    assert m.powered


def test_harmonic_power_is_registered_and_moves_the_error() -> None:
    h5 = Harmonic(5, 0.1, 0.4, 0.0)
    ideal = A1000(ideal_config(tou=fixed_tariff_tou(1)), start_time=T0)
    ideal.set_inputs(T0, ElectricalInputs.balanced(U, I_A, 0, harmonics=(h5,)))
    ideal.advance_to(T0 + HOUR)
    assert ideal.register("import") == pytest.approx(3 * U * I_A * (1 + 0.04) / 1000, rel=1e-12)
    curve = {"harmonics": 0.5, "offset": 0.0, "low_current": 0.0, "high_current": 0.0,
             "power_factor": 0.0, "voltage": 0.0, "frequency": 0.0}
    m = A1000(ideal_config(tou=fixed_tariff_tou(1), error_model={"active": curve}),
              start_time=T0)
    m.set_inputs(T0, ElectricalInputs.balanced(U, I_A, 0, harmonics=(h5,)))
    m.advance_to(T0 + HOUR)
    assert m.register("import") / ideal.register("import") == pytest.approx(1 + 0.5 * 0.4 / 100)
