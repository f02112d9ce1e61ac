"""The RegisterBank in memory: readout, R1, W1, programming protection (manual 2.1.1, 2.2.1)."""

from __future__ import annotations

import datetime as dt

import pytest

from meter.a1000.bank import A1000RegisterBank
from meter.a1000.meter import A1000
from meter.electrical import ElectricalInputs
from meter.iec62056_21.bank import RegisterBank, RegisterError
from tests.meter.a1000.helpers import T0, ideal_config, make_config

APPENDIX_A_CORE = [
    f"1-1:{c}.8.{e}" for c in (1, 2, 5, 6, 7, 8) for e in (0, 1, 2, 3, 4)
]


class Clock:
    """A virtual time source for the bank."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _meter(**cfg: object) -> tuple[A1000, A1000RegisterBank, Clock]:
    m = A1000(ideal_config(**cfg), start_time=T0)
    m.set_inputs(T0, ElectricalInputs.balanced(57.7, 0.5, 30))
    clock = Clock(T0)
    return m, m.register_bank(clock), clock


def _program(m: A1000, bank: A1000RegisterBank, clock: Clock) -> None:
    clock.t = max(clock.t, m.now)
    m.set_seal_open(clock.t, True)
    assert m.hold_reset_button(clock.t, 8.0)  # manual 2.1.1: about 8 s -> "PRG"
    clock.t += 8.0
    bank.identification()
    assert bank.check_password("P1", "00000000")


def test_bank_satisfies_the_protocol() -> None:
    _, bank, _ = _meter()
    assert isinstance(bank, RegisterBank)
    ident = bank.identification()
    assert (ident.manufacturer, ident.baud, ident.ident) == ("BSE", "5", "A1000")


def test_readout_covers_appendix_a_ids_clock_constants_and_errors() -> None:
    m, bank, clock = _meter()
    clock.t = T0 + 3600
    sets = {d.address: d for d in bank.readout()}
    for a in [*APPENDIX_A_CORE, "C.1.0", "0.0.0", "0.0.1", "0.0.2", "0.9.1", "0.9.2", "0.9.5",
              "0.3.0", "0.3.1", "F.F", "F.F.2"]:
        assert a in sets, a
    kwh = 3 * 57.7 * 0.5 * 0.8660254 / 1000
    assert float(sets["1-1:1.8.0"].values[0].value) == pytest.approx(kwh, abs=0.006)
    assert sets["1-1:1.8.0"].values[0].unit == "kWh"
    assert sets["0.9.1"].values[0].value == "010000"  # Monday 01:00:00 meter time
    assert sets["0.9.2"].values[0].value == "260302"
    assert sets["0.9.5"].values[0].value == "1"
    assert m.now == T0 + 3600  # the bank advanced the model to its time source


def test_r1_by_full_and_short_address() -> None:
    _, bank, clock = _meter()
    clock.t = T0 + 7200
    full = bank.read("1-1:1.8.0", ())
    short = bank.read("1.8.0", ())
    assert full[0].values == short[0].values
    assert bank.read("1-1:32.7.0", ())[0].values[0].value == "57.70"
    with pytest.raises(RegisterError, match="UNKNOWN"):
        bank.read("1-1:99.99.9", ())
    with pytest.raises(RegisterError, match="UNKNOWN"):
        bank.read("1-2:1.8.0", ())  # another channel


def test_write_needs_programming_state_and_password() -> None:
    m, bank, _ = _meter()
    bank.identification()
    with pytest.raises(RegisterError, match="PROGRAMMING STATE"):
        bank.write("0.3.0", ("5000",))
    m.set_seal_open(m.now, False)
    assert not m.hold_reset_button(m.now, 8.0)  # seal closed: no PRG
    m.set_seal_open(m.now, True)
    assert not m.hold_reset_button(m.now, 5.0)  # too short
    assert m.hold_reset_button(m.now, 8.0)  # released at T0 + 21 s
    bank.identification()
    with pytest.raises(RegisterError, match="PASSWORD"):
        bank.write("0.3.0", ("5000",))
    assert bank.check_password("P1", "00000000")
    bank.write("0.3.0", ("5000",))
    assert bank.read("0.3.0", ())[0].values[0].value == "5000"
    assert m.programming.count == 1
    bank.write("C.2.128", ("1234",))
    assert m.programming.count == 1  # one programming per PRG session
    assert bank.read("C.2.128", ())[0].values[0].value == "1234"
    assert bank.read("C.2.1", ())[0].values[0].value == "260302000021"
    with pytest.raises(RegisterError, match="READ ONLY"):
        bank.write("1-1:1.8.0", ("0",))


def test_programming_state_ends_after_4_minutes_or_reset_press() -> None:
    m, bank, clock = _meter()
    _program(m, bank, clock)
    clock.t += 239
    bank.write("0.0.0", ("42",))
    clock.t += 240  # 4 minutes without a button (manual 2.1.1)
    with pytest.raises(RegisterError, match="PROGRAMMING STATE"):
        bank.write("0.0.0", ("43",))
    _program(m, bank, clock)
    clock.t += 1
    m.press_reset_button(clock.t)
    with pytest.raises(RegisterError, match="PROGRAMMING STATE"):
        bank.write("0.0.0", ("44",))
    assert bank.read("0.0.0", ())[0].values[0].value == "000000000042"


def test_wrong_passwords_lock_programming() -> None:
    m, bank, clock = _meter(passwords={"max_attempts": 3, "lockout_s": 600})
    m.set_seal_open(clock.t, True)
    m.hold_reset_button(clock.t, 8)
    assert not bank.check_password("P1", "11111111")
    assert not bank.check_password("P1", "22222222")
    assert not bank.check_password("P1", "33333333")
    with pytest.raises(RegisterError, match="LOCKED"):
        bank.check_password("P1", "00000000")  # even the right one, while locked
    clock.t += 700
    assert bank.check_password("P1", "00000000")


def test_clock_write_sets_time_and_date() -> None:
    m, bank, clock = _meter()
    _program(m, bank, clock)
    bank.write("0.9.1", ("123456",))
    bank.write("0.9.2", ("281231",))
    assert m.meter_datetime() == dt.datetime(2028, 12, 31, 12, 34, 56)
    assert bank.read("0.9.5", ())[0].values[0].value == "7"  # a Sunday
    with pytest.raises(RegisterError, match="hhmmss"):
        bank.write("0.9.1", ("256000",))


def test_invalid_tou_write_is_rejected_and_previous_table_stays() -> None:
    m, bank, clock = _meter()
    _program(m, bank, clock)
    before = bank.read("C.90.1", ())[0].values
    eleven = tuple(f"{h:02d}:00=1" for h in range(11))
    for bad in (eleven, ("08:00=1", "07:00=2"), ("08:00=5",)):
        with pytest.raises(RegisterError):
            bank.write("C.90.1", bad)
        assert bank.read("C.90.1", ())[0].values == before
    holidays = tuple(f"2027-01-{d:02d}=T1" for d in range(1, 26))
    with pytest.raises(RegisterError, match="25 days"):
        bank.write("C.90.7", holidays)
    bank.write("C.90.1", ("06:00=1", "18:00=2"))
    assert [v.value for v in bank.read("C.90.1", ())[0].values] == ["06:00=1", "18:00=2"]
    assert m.tou.encode_profile(1) == ("06:00=1", "18:00=2")


def test_tou_write_takes_effect_at_the_next_boundary() -> None:
    m, bank, clock = _meter()
    _program(m, bank, clock)  # Monday 00:00:08, winter working day profile 1
    bank.write("C.90.1", ("00:00=1", "00:10=3"))
    assert m.tariff == 1
    clock.t = T0 + 601
    bank.read("C.14.0", ())
    assert bank.read("C.14.0", ())[0].values[0].value == "3"


def test_identity_and_constant_validation() -> None:
    m, bank, clock = _meter()
    _program(m, bank, clock)
    bank.write("C.1.0", ("987654321012",))
    assert bank.read("C.1.0", ())[0].values[0].value == "987654321012"
    with pytest.raises(RegisterError, match="12 digits"):
        bank.write("C.1.0", ("1234567890123",))
    with pytest.raises(RegisterError, match="80 ms"):
        bank.write("0.3.0", ("1000000",))


def test_error_register_clear() -> None:
    m, bank, clock = _meter()
    m.set_battery_low(clock.t, True)
    m.err2 |= 0x04
    assert bank.read("F.F", ())[0].values[0].value == "00000044"
    _program(m, bank, clock)
    bank.write("F.F", ("0",))
    assert bank.read("F.F.2", ())[0].values[0].value == "01000000"  # battery still low


def test_configured_readout_list_is_validated() -> None:
    m = A1000(make_config(readout=["1.8.0", "0.9.1"]), start_time=T0)
    assert [d.address for d in m.register_bank().readout()] == ["1-1:1.8.0", "0.9.1"]
    bad = A1000(make_config(readout=["1.8.0", "9.9.9"]), start_time=T0)
    with pytest.raises(ValueError, match=r"readout\[1\]"):
        bad.register_bank()
