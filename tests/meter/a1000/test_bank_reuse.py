"""The bank answers a register that has not changed with the data set it built last time, and
one that has changed with its new value (meter.a1000.bank `_dataset`)."""

from __future__ import annotations

import pytest

from meter.a1000.meter import A1000
from meter.electrical import ElectricalInputs
from tests.meter.a1000.helpers import T0, ideal_config
from tests.meter.a1000.test_bank import Clock

# 3 phases x 57.7 V x 0.5 A x cos 30 deg = 74.94 W: 0.07494 kWh an hour (ideal meter).


def _bank() -> tuple[A1000, Clock]:
    m = A1000(ideal_config(), start_time=T0)
    m.set_inputs(T0, ElectricalInputs.balanced(57.7, 0.5, 30))
    return m, Clock(T0)


def test_an_unchanged_register_is_answered_by_the_data_set_built_before() -> None:
    m, clock = _bank()
    bank = m.register_bank(clock)
    m.set_inputs(T0, ElectricalInputs.balanced(57.7, 0.0, 0))  # no load: 1.8.0 stays
    clock.t = T0 + 3600
    first = bank.read("1-1:1.8.0", ())[0]
    clock.t = T0 + 7200
    again = bank.read("1-1:1.8.0", ())[0]
    assert again is first
    by_readout = {d.address: d for d in bank.readout()}
    assert by_readout["1-1:1.8.0"] is first


def test_a_changed_register_is_answered_by_its_new_value() -> None:
    m, clock = _bank()
    bank = m.register_bank(clock)
    clock.t = T0 + 3600
    one_hour = bank.read("1-1:1.8.0", ())[0]
    assert bank.read("0.9.1", ())[0].values[0].value == "010000"
    clock.t = T0 + 7200
    two_hours = bank.read("1-1:1.8.0", ())[0]
    # The register shows whole hundredths of a kWh: 0.0749 -> 0.07, 0.1499 -> 0.14.
    assert float(one_hour.values[0].value) == pytest.approx(0.07)
    assert float(two_hours.values[0].value) == pytest.approx(0.14)
    assert two_hours.values[0].unit == "kWh"
    clock.t = T0 + 7201
    assert bank.read("0.9.1", ())[0].values[0].value == "020001"  # Monday 02:00:01


def test_answers_equal_those_of_a_bank_without_history() -> None:
    """A bank that has answered before gives what a new bank of the same meter gives, in the
    readout and in R1, after the registers moved."""
    m, clock = _bank()
    bank = m.register_bank(clock)
    for hours in (1, 2, 5):
        clock.t = T0 + hours * 3600
        assert bank.readout() == m.register_bank(clock).readout()
        for address in ("1-1:1.8.0", "1-1:3.8.0", "0.9.1", "0.9.2", "C.1.0"):
            assert bank.read(address, ()) == m.register_bank(clock).read(address, ())
