"""ERR 2: every bit has the condition that raises it and a way to inject it (A1000 manual
Appendix B)."""

from __future__ import annotations

from pathlib import Path

import pytest

from meter.a1000.meter import A1000, HARDWARE_CONDITIONS
from meter.a1000.store import CURRENT
from meter.electrical import ElectricalInputs
from meter.iec62056_21.bank import RegisterError
from tests.meter.a1000.helpers import T0, ideal_config, ideal_meter

# Appendix B, ERR 2: 0000 0001 clock oscillator, 0000 0010 read/write clock, 0000 0100
# read/write EEPROM, 0000 1000 read/write CS5460A, 0001 0000 CPU program, 0010 0000 reserved,
# 0100 0000 low battery voltage, 1000 0000 SPI read or write.
APPENDIX_B = {
    "clock_oscillator": "00000001", "clock_rw": "00000010", "eeprom": "00000100",
    "measuring_chip": "00001000", "cpu_program": "00010000", "low_battery": "01000000",
    "spi": "10000000",
}


def _f_f_2(m: A1000) -> str:
    return m.register_bank().read("F.F.2", ())[0].values[0].value


def _prg(m: A1000) -> None:
    m.set_seal_open(m.now, True)
    m.hold_reset_button(m.now, 8.0)
    bank = m.register_bank()
    assert bank.check_password("P1", "00000000")


@pytest.mark.parametrize("name", sorted(APPENDIX_B))
def test_each_err2_bit_is_raised_by_its_condition_and_latched(name: str) -> None:
    assert set(HARDWARE_CONDITIONS) == set(APPENDIX_B)  # the reserved bit 0x20 has none
    m = ideal_meter()
    assert _f_f_2(m) == "00000000"
    m.set_condition(m.now + 1, name, True)
    assert _f_f_2(m) == APPENDIX_B[name]
    m.set_condition(m.now + 1, name, False)
    # Hardware errors stay latched until F.F is cleared; low battery follows the battery.
    assert _f_f_2(m) == ("00000000" if name == "low_battery" else APPENDIX_B[name])
    _prg(m)
    m.register_bank().write("F.F", ("0",))
    assert _f_f_2(m) == "00000000"


def test_clear_keeps_the_bits_of_conditions_still_present() -> None:
    m = ideal_meter()
    m.set_condition(m.now, "spi")
    m.set_condition(m.now, "cpu_program")
    m.set_condition(m.now, "cpu_program", False)
    m.clear_errors()
    assert _f_f_2(m) == "10000000"  # SPI still failing; the CPU check passed again
    with pytest.raises(KeyError, match="known:"):
        m.set_condition(m.now, "reserved")


def test_measuring_chip_error_stops_registration() -> None:
    m = ideal_meter()
    m.set_inputs(T0, ElectricalInputs.balanced(57.7, 5.0, 0.0))  # 0.8655 kW
    m.set_condition(T0 + 3600, "measuring_chip")
    m.advance_to(T0 + 7200)
    m.set_condition(T0 + 7200, "measuring_chip", False)
    m.advance_to(T0 + 3 * 3600)
    # Registered 00:00-01:00 and 02:00-03:00 only: 2 h x 0.8655 kW = 1.731 kWh.
    assert m.register("import") == pytest.approx(1.731, abs=1e-9)


def test_clock_rw_error_refuses_clock_writes() -> None:
    m = ideal_meter()
    _prg(m)
    m.set_condition(m.now, "clock_rw")
    bank = m.register_bank()
    for address, value in (("0.9.1", "120000"), ("0.9.2", "260401")):
        with pytest.raises(RegisterError, match="CLOCK ERROR"):
            bank.write(address, (value,))
    m.set_condition(m.now, "clock_rw", False)
    bank.write("0.9.1", ("120000",))
    assert bank.read("0.9.1", ())[0].values[0].value == "120000"


def test_eeprom_error_saves_nothing(tmp_path: Path) -> None:
    m = A1000(ideal_config(), start_time=T0, state_dir=tmp_path)
    m.set_inputs(T0, ElectricalInputs.balanced(57.7, 5.0, 0.0))
    m.set_condition(T0 + 60, "eeprom")  # the periodic save due at T0 + 60 came first
    before = (tmp_path / CURRENT).read_bytes()
    m.advance_to(T0 + 600)  # periodic saves every 60 s are due
    m.save()
    assert (tmp_path / CURRENT).read_bytes() == before
    m.set_condition(T0 + 600, "eeprom", False)
    m.save()
    assert (tmp_path / CURRENT).read_bytes() != before
