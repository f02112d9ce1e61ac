"""Transcript tests of the Fluke 6105A driver (docs/dialects.md 1)."""

import pytest

from rig.instruments.errors import InstrumentError, SettingError
from rig.instruments.fluke6105a import Fluke6105A
from rig.instruments.loadpoint import Harmonic, LoadPoint
from rig.instruments.testing import Fail, expected_protocol

OK = '0,"No error"'


def w(command):
    """A write followed by the error-queue check."""
    return [(command, None), ("SYST:ERR?", OK)]


def phase(x, u, ua, i, ia, ustat=1, istat=1):
    return (
        w(f"SOUR:PHAS{x}:VOLT:MHAR:CLE")
        + w(f"SOUR:PHAS{x}:VOLT:MHAR:HARM1 {u},{ua}")
        + w(f"SOUR:PHAS{x}:CURR:MHAR:CLE")
        + w(f"SOUR:PHAS{x}:CURR:MHAR:HARM1 {i},{ia}")
        + w(f"SOUR:PHAS{x}:VOLT:STAT {ustat}")
        + w(f"SOUR:PHAS{x}:CURR:STAT {istat}")
    )


def test_identify_and_initialise():
    with expected_protocol(Fluke6105A, [("*IDN?", "FLUKE,6105A,123,1.0"), *w("*CLS")]) as src:
        assert src.identify() == "FLUKE,6105A,123,1.0"
        src.initialise()


def test_apply_balanced_pf_half_inductive():
    transcript = (
        phase(1, "230.0000", "0.000", "5.00000", "-60.000")
        + phase(2, "230.0000", "-120.000", "5.00000", "180.000")
        + phase(3, "230.0000", "120.000", "5.00000", "60.000")
        + w("SOUR:FREQ 50.0000")
    )
    with expected_protocol(Fluke6105A, transcript) as src:
        src.apply(LoadPoint.balanced(230, 5, "0.5L"))


def test_apply_single_element_disables_other_currents():
    transcript = (
        phase(1, "230.0000", "0.000", "0.00000", "0.000", istat=0)
        + phase(2, "230.0000", "-120.000", "1.00000", "-120.000")
        + phase(3, "230.0000", "120.000", "0.00000", "120.000", istat=0)
        + w("SOUR:FREQ 49.0000")
    )
    point = LoadPoint.balanced(230, 1.0).single_element(2).scaled_frequency(0.98)
    with expected_protocol(Fluke6105A, transcript) as src:
        src.apply(point)


def test_apply_with_harmonics():
    h = (Harmonic(5, 0.1, 0.0),)
    transcript = []
    for x, ua in ((1, "0.000"), (2, "-120.000"), (3, "120.000")):
        transcript += (
            w(f"SOUR:PHAS{x}:VOLT:MHAR:CLE")
            + w(f"SOUR:PHAS{x}:VOLT:MHAR:HARM1 230.0000,{ua}")
            + w(f"SOUR:PHAS{x}:VOLT:MHAR:HARM5 23.0000,0.000")
            + w(f"SOUR:PHAS{x}:CURR:MHAR:CLE")
            + w(f"SOUR:PHAS{x}:CURR:MHAR:HARM1 2.00000,{ua}")
            + w(f"SOUR:PHAS{x}:CURR:MHAR:HARM5 0.20000,0.000")
            + w(f"SOUR:PHAS{x}:VOLT:STAT 1")
            + w(f"SOUR:PHAS{x}:CURR:STAT 1")
        )
    transcript += w("SOUR:FREQ 50.0000")
    with expected_protocol(Fluke6105A, transcript) as src:
        src.apply(LoadPoint.balanced(230, 2).with_harmonics(h, h))


def test_output_on_off_and_read_back():
    transcript = [*w("OUTP:STAT ON"), ("OUTP:STAT?", "1"), *w("OUTP:STAT OFF"), ("OUTP:STAT?", "0")]
    with expected_protocol(Fluke6105A, transcript) as src:
        src.output_on()
        assert src.is_on() is True
        src.output_off()
        assert src.is_on() is False


def test_setpoint_and_frequency_read_back():
    transcript = [("SOUR:PHAS2:CURR:MHAR:HARM1?", "5.0,-60.0"), ("SOUR:FREQ?", "5.0E+01")]
    with expected_protocol(Fluke6105A, transcript) as src:
        assert src.phases[1].current == (5.0, -60.0)
        assert src.frequency == 50.0


def test_status_reports_queued_errors_as_faults():
    transcript = [("OUTP:STAT?", "0"), ("SYST:ERR?", '-221,"Settings conflict"'), ("SYST:ERR?", OK)]
    with expected_protocol(Fluke6105A, transcript) as src:
        status = src.status()
    assert status.output_on is False
    assert status.faults == ('-221,"Settings conflict"',)


def test_error_queue_entry_raises_naming_instrument_command_and_error():
    transcript = [
        ("SOUR:FREQ 60.0000", None),
        ("SYST:ERR?", '-222,"Data out of range"'),
        ("SYST:ERR?", OK),
    ]
    with (
        expected_protocol(Fluke6105A, transcript, name="source") as src,
        pytest.raises(InstrumentError) as err,
    ):
        src.frequency = 60
    assert "source" in str(err.value) and "SOUR:FREQ 60.0000" in str(err.value)
    assert "-222" in str(err.value)


def test_out_of_range_setting_is_refused_before_sending():
    with expected_protocol(Fluke6105A, []) as src:
        with pytest.raises(SettingError, match="frequency"):
            src.frequency = 1000
        with pytest.raises(SettingError, match="voltage"):
            src.phases[0].voltage = (2000, 0)


def test_idempotent_query_is_retried_after_socket_error():
    transcript = [("OUTP:STAT?", Fail(ConnectionResetError("reset"))), ("OUTP:STAT?", "1")]
    with expected_protocol(Fluke6105A, transcript, retries=1) as src:
        assert src.is_on()


def test_retries_exhausted_raise_instrument_error():
    transcript = [("OUTP:STAT?", Fail(TimeoutError("timed out")))] * 3
    with (
        expected_protocol(Fluke6105A, transcript, retries=2, name="source") as src,
        pytest.raises(InstrumentError, match=r"source: command 'OUTP:STAT\?'.*TimeoutError"),
    ):
        src.is_on()


def test_unexpected_output_state_reply_raises():
    with (
        expected_protocol(Fluke6105A, [("OUTP:STAT?", "ON")]) as src,
        pytest.raises(InstrumentError, match="unexpected reply"),
    ):
        src.is_on()


def test_no_watchdog_command_known():
    with expected_protocol(Fluke6105A, []) as src:
        assert src.arm_watchdog(10) is False
