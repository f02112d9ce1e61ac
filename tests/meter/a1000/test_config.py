"""Meter YAML: defaults, validation errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meter.a1000.config import DEFAULT_CONFIG_PATH, ConfigError, MeterConfig, load_config


def _write(tmp_path: Path, obj: object) -> Path:
    p = tmp_path / "meter.yaml"
    p.write_text(yaml.safe_dump(obj))
    return p


def _default_obj() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())


def test_packaged_default_matches_built_in_defaults() -> None:
    cfg = load_config(DEFAULT_CONFIG_PATH)
    built_in = MeterConfig(tou=cfg.tou)
    # Part-2 sections are validated by their components, not by MeterConfig.
    core = {"tou", "demand", "billing", "load_profile", "events", "display"}
    assert cfg.model_dump(exclude=core) == built_in.model_dump(exclude=core)
    assert cfg.passwords.p1 == "00000000"
    assert len(cfg.tou.profiles) == 4


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        (("in_a",), -1, "in_a", "greater than 0"),
        (("wiring",), "2P", "wiring", "3P4W"),
        (("register_format",), "9999.999", "register_format", "99999.99 or 999999.9"),
        (("clock", "tariff_switch_delay_s"), 0.5, "clock.tariff_switch_delay_s", "less than 0.1"),
        (("identity", "meter_number"), "12345678901234", "identity.meter_number", "12 digits"),
        (("constants", "active_imp_per_kwh"), 200000, "(top level)|constants", "80 ms"),
        (("tou", "daily_profiles", 1, 0, "tariff"), 5, "tou", "tariff 5"),
        (("colour",), "blue", "colour", "Extra inputs"),
    ],
)
def test_errors_name_file_and_field(
    tmp_path: Path, path: tuple, value: object, field: str, reason: str
) -> None:
    obj = _default_obj()
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    p = _write(tmp_path, obj)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    text = str(info.value)
    assert text.startswith(str(p))
    assert any(f in text for f in field.split("|")), text
    assert reason in text


def test_unreadable_and_non_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_three_by_hundred_volt_is_three_wire(tmp_path: Path) -> None:
    obj = _default_obj()
    obj["nominal"] = "3x100"
    with pytest.raises(ConfigError, match="3P3W"):
        load_config(_write(tmp_path, obj))
    obj["wiring"] = "3P3W"
    cfg = load_config(_write(tmp_path, obj))
    assert cfg.element_voltage == 100.0


def test_220_volt_meter_needs_a_fitting_constant(tmp_path: Path) -> None:
    obj = _default_obj()
    obj["nominal"] = "3x220/380"
    with pytest.raises(ConfigError, match="80 ms"):
        load_config(_write(tmp_path, obj))  # 10000 imp/kWh is too fast at 3x220 V, 6 A
    obj["constants"] = {"active_imp_per_kwh": 2000, "reactive_imp_per_kvarh": 2000}
    cfg = load_config(_write(tmp_path, obj))
    assert cfg.element_voltage == 220.0
