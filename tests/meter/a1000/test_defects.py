"""Each named defect changes the meter the way the test meant to catch it expects."""

from __future__ import annotations

import pytest

from meter.a1000.config import ConfigError
from meter.a1000.defects import REGISTRY, DefectError, build_defects, defect_table_markdown
from meter.a1000.meter import A1000
from meter.a1000.registers import PulseOutput
from meter.electrical import ElectricalInputs
from tests.meter.a1000.helpers import T0, fixed_tariff_tou, ideal_config, make_config

U, I_N = 57.7, 0.5
HOUR = 3600.0


def _pair(defect: dict, **cfg: object) -> tuple[A1000, A1000]:
    healthy = A1000(ideal_config(**cfg), start_time=T0)
    faulty = A1000(ideal_config(**cfg), start_time=T0, defects=[defect])
    return healthy, faulty


def _load(m: A1000, current: float, phi: float = 0.0, u: float = U) -> None:
    m.set_inputs(T0, ElectricalInputs.balanced(u, current, phi))


def test_energy_gain_error_only_in_its_region() -> None:
    d = {"name": "energy_gain_error", "percent": 1.5, "i_min_in": 0.05, "i_max_in": 0.2}
    for current, expect in ((0.1 * I_N, 1.5), (0.5 * I_N, 0.0)):
        healthy, faulty = _pair(d)
        _load(healthy, current)
        _load(faulty, current)
        healthy.advance_to(T0 + HOUR)
        faulty.advance_to(T0 + HOUR)
        err = (faulty.register("import") / healthy.register("import") - 1) * 100
        assert err == pytest.approx(expect, abs=1e-9)


def test_reactive_quadrant_mixup_books_q1_as_q4() -> None:
    healthy, faulty = _pair({"name": "reactive_quadrant_mixup"})
    for m in (healthy, faulty):
        _load(m, I_N, 60)
        m.advance_to(T0 + HOUR)
    assert healthy.register("q1") > 0 and healthy.register("q4") == 0
    assert faulty.register("q1") == 0 and faulty.register("q4") == healthy.register("q1")
    assert faulty.next_pulse(PulseOutput.REACTIVE_Q1Q2, T0) is None


def test_no_anti_creep_pulses_with_voltage_only() -> None:
    healthy, faulty = _pair({"name": "no_anti_creep"})
    for m in (healthy, faulty):
        _load(m, 0.0, u=1.15 * U)  # no-load test, standards.md 1.4
    minutes = 600e6 / (10000 * 3 * U * 6.0)  # minimum no-load test period, class 0.5S
    end = T0 + minutes * 60
    assert healthy.pulse_count(PulseOutput.ACTIVE_IMPORT, T0, end) == 0
    assert faulty.pulse_count(PulseOutput.ACTIVE_IMPORT, T0, end) > 1  # fails "<= 1 pulse"


def test_starting_threshold_high_misses_the_starting_current() -> None:
    healthy, faulty = _pair({"name": "starting_threshold_high", "threshold_in": 0.003})
    for m in (healthy, faulty):
        _load(m, 0.001 * I_N)
    assert healthy.next_pulse(PulseOutput.ACTIVE_IMPORT, T0) is not None
    assert faulty.next_pulse(PulseOutput.ACTIVE_IMPORT, T0) is None


def test_wrong_pulse_constant_changes_pulses_not_registers() -> None:
    healthy, faulty = _pair({"name": "wrong_pulse_constant", "factor": 1.01})
    for m in (healthy, faulty):
        _load(m, I_N)
        m.advance_to(T0 + HOUR)
    assert faulty.register("import") == healthy.register("import")
    n_h = healthy.pulse_count(PulseOutput.ACTIVE_IMPORT, T0, T0 + HOUR)
    n_f = faulty.pulse_count(PulseOutput.ACTIVE_IMPORT, T0, T0 + HOUR)
    assert n_f / n_h == pytest.approx(1.01, abs=0.002)


def test_slow_tariff_switch_is_late() -> None:
    tou = {
        "daily_profiles": {1: [{"start": "00:00", "tariff": 1}, {"start": "01:00", "tariff": 2}]},
        "seasons": [{"start": "01-01", "profile": 1}],
    }
    healthy, faulty = _pair({"name": "slow_tariff_switch", "delay_s": 0.5}, tou=tou)
    boundary = healthy.clock.true_time(healthy.meter_seconds(T0) + 3600)
    for m in (healthy, faulty):
        _load(m, I_N)
        m.advance_to(boundary + 0.1)
    assert healthy.tariff == 2  # within the manual's 0.1 s (3.2.4)
    assert faulty.tariff == 1
    faulty.advance_to(boundary + 0.5)
    assert faulty.tariff == 2


def test_fast_clock_gains_two_seconds_a_day() -> None:
    healthy, faulty = _pair({"name": "fast_clock", "seconds_per_day": 2.0})
    for m in (healthy, faulty):
        m.advance_to(T0 + 86400)
    assert healthy.meter_seconds() - healthy.now == pytest.approx(0.0864, abs=1e-6)  # 1 ppm
    assert faulty.meter_seconds() - faulty.now == pytest.approx(2.0, abs=1e-6)


def test_registry_table_and_validation() -> None:
    table = defect_table_markdown()
    for name in REGISTRY:
        assert f"`{name}`" in table
    assert len(REGISTRY) >= 8
    with pytest.raises(DefectError, match="unknown defect 'melted'"):
        build_defects([{"name": "melted"}])
    with pytest.raises(DefectError, match="percent"):
        build_defects([{"name": "energy_gain_error", "percent": "lots"}])
    with pytest.raises(ConfigError, match=r"test: defects: .*threshold_in"):
        make_config(defects=[{"name": "starting_threshold_high", "threshold_in": 0.0001}])


def test_defects_from_config_file() -> None:
    cfg = ideal_config(tou=fixed_tariff_tou(1), defects=[{"name": "fast_clock"}])
    m = A1000(cfg, start_time=T0)
    assert m.defects.names == ("fast_clock",)
    assert m.clock.drift_ppm == pytest.approx(2.0 / 86400 * 1e6)
