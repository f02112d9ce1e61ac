"""Transcript tests of the Fluke 6105A driver (docs/dialects.md 1).

[Drv] = the public watt-bridge program that drives a real 6105A (instruments.md 2.1): its command
order per channel (RANG, MHAR:STAT ON, MHAR:HARM1), range tops and current angles relative to
their own phase's voltage are the facts these transcripts check.
"""

import pytest

from rig.instruments.errors import InstrumentError, SettingError
from rig.instruments.fluke6105a import Fluke6105A
from rig.instruments.loadpoint import Harmonic, LoadPoint
from rig.instruments.testing import Fail, expected_protocol

OK = '0,"No error"'


def w(command):
    """A write followed by the error-queue check."""
    return [(command, None), ("SYST:ERR?", OK)]


def channel(x, tree, rng, amp, angle, harmonics=(), first=True, clear=True):
    """One channel: range first if it grows, then the harmonic tree (switched on and cleared
    at the first apply; cleared again only after a point with harmonics)."""
    steps = w(f"SOUR:PHAS{x}:{tree}:RANG {rng}") if rng else []
    steps += w(f"SOUR:PHAS{x}:{tree}:MHAR:STAT ON") if first else []
    steps += w(f"SOUR:PHAS{x}:{tree}:MHAR:CLE") if first or clear else []
    steps += w(f"SOUR:PHAS{x}:{tree}:MHAR:HARM1 {amp},{angle}")
    for order, h_amp, h_angle in harmonics:
        steps += w(f"SOUR:PHAS{x}:{tree}:MHAR:HARM{order} {h_amp},{h_angle}")
    return steps


def phase(x, u, ua, i, ia, ustat=1, istat=1, urange="0,360", irange="0.5,5"):
    return (
        channel(x, "VOLT", urange, u, ua)
        + channel(x, "CURR", irange, i, ia)
        + w(f"SOUR:PHAS{x}:VOLT:STAT {ustat}")
        + w(f"SOUR:PHAS{x}:CURR:STAT {istat}")
    )


def test_identify_and_initialise_selects_absolute_harmonic_units():
    # [Drv] UNIT:MHAR:CURR ABS / UNIT:MHAR:VOLT ABS: harmonic amplitudes in A and V, not %.
    transcript = [
        ("*IDN?", "FLUKE,6105A,123,1.0"),
        *w("*CLS"),
        *w("UNIT:MHAR:VOLT ABS"),
        *w("UNIT:MHAR:CURR ABS"),
    ]
    with expected_protocol(Fluke6105A, transcript) as src:
        assert src.identify() == "FLUKE,6105A,123,1.0"
        src.initialise()


def test_apply_balanced_pf_half_inductive_sends_current_angles_relative_to_their_voltage():
    # PF 0.5L: every phase's current lags its own voltage by 60 deg, so the 6105A gets -60 on
    # all three phases ([Drv] sends one current angle for every phase); voltages 0, -120, +120.
    transcript = (
        phase(1, "230.0000", "0.000", "5.00000", "-60.000")
        + phase(2, "230.0000", "-120.000", "5.00000", "-60.000")
        + phase(3, "230.0000", "120.000", "5.00000", "-60.000")
        + w("SOUR:FREQ 50.0000")
    )
    with expected_protocol(Fluke6105A, transcript) as src:
        src.apply(LoadPoint.balanced(230, 5, "0.5L"))


def test_apply_export_capacitive_reversed_sequence():
    # phi = -36.87 + 180 = 143.13 deg: the current is at -143.13 deg from its voltage.
    point = LoadPoint.balanced(230, 1, "0.8C", "export").reversed_sequence()
    transcript = (
        phase(1, "230.0000", "0.000", "1.00000", "-143.130", irange="0.05,1")
        + phase(2, "230.0000", "120.000", "1.00000", "-143.130", irange="0.05,1")
        + phase(3, "230.0000", "-120.000", "1.00000", "-143.130", irange="0.05,1")
        + w("SOUR:FREQ 50.0000")
    )
    with expected_protocol(Fluke6105A, transcript) as src:
        src.apply(point)


def test_apply_single_element_disables_other_currents():
    transcript = (
        phase(1, "230.0000", "0.000", "0.00000", "0.000", istat=0, irange="0.05,0.25")
        + phase(2, "230.0000", "-120.000", "1.00000", "0.000", irange="0.05,1")
        + phase(3, "230.0000", "120.000", "0.00000", "0.000", istat=0, irange="0.05,0.25")
        + w("SOUR:FREQ 49.0000")
    )
    point = LoadPoint.balanced(230, 1.0).single_element(2).scaled_frequency(0.98)
    with expected_protocol(Fluke6105A, transcript) as src:
        src.apply(point)


def test_range_grows_before_the_amplitude_and_shrinks_after_it():
    first = LoadPoint.balanced(230, 1.0)
    more = LoadPoint.balanced(230, 8.0)  # 10 A range: selected before 8 A is set
    less = LoadPoint.balanced(230, 0.2)  # 0.25 A range: selected after 0.2 A is set
    transcript = []
    for x, ua in ((1, "0.000"), (2, "-120.000"), (3, "120.000")):
        transcript += phase(x, "230.0000", ua, "1.00000", "0.000", irange="0.05,1")
    transcript += w("SOUR:FREQ 50.0000")
    for x, ua in ((1, "0.000"), (2, "-120.000"), (3, "120.000")):
        transcript += (
            channel(x, "VOLT", None, "230.0000", ua, first=False, clear=False)
            + channel(x, "CURR", "1,10", "8.00000", "0.000", first=False, clear=False)
            + w(f"SOUR:PHAS{x}:VOLT:STAT 1")
            + w(f"SOUR:PHAS{x}:CURR:STAT 1")
        )
    transcript += w("SOUR:FREQ 50.0000")
    for x, ua in ((1, "0.000"), (2, "-120.000"), (3, "120.000")):
        transcript += (
            channel(x, "VOLT", None, "230.0000", ua, first=False, clear=False)
            + channel(x, "CURR", None, "0.20000", "0.000", first=False, clear=False)
            + w(f"SOUR:PHAS{x}:CURR:RANG 0.05,0.25")
            + w(f"SOUR:PHAS{x}:VOLT:STAT 1")
            + w(f"SOUR:PHAS{x}:CURR:STAT 1")
        )
    transcript += w("SOUR:FREQ 50.0000")
    with expected_protocol(Fluke6105A, transcript) as src:
        for point in (first, more, less):
            src.apply(point)


def test_apply_with_harmonics_enables_the_harmonic_tree_in_absolute_units():
    # The next point without harmonics clears them; the one after needs no clearing.
    h = (Harmonic(5, 0.1, 0.0),)
    transcript = []
    for x, ua in ((1, "0.000"), (2, "-120.000"), (3, "120.000")):
        transcript += (
            channel(x, "VOLT", "0,360", "230.0000", ua, [(5, "23.0000", "0.000")])
            # 2 A with 10 % 5th harmonic is 2.01 A rms: above the 2 A range, so the 5 A range
            + channel(x, "CURR", "0.5,5", "2.00000", "0.000", [(5, "0.20000", "0.000")])
            + w(f"SOUR:PHAS{x}:VOLT:STAT 1")
            + w(f"SOUR:PHAS{x}:CURR:STAT 1")
        )
    transcript += w("SOUR:FREQ 50.0000")
    for clear in (True, False):
        for x, ua in ((1, "0.000"), (2, "-120.000"), (3, "120.000")):
            transcript += channel(x, "VOLT", None, "230.0000", ua, first=False, clear=clear)
            transcript += channel(x, "CURR", None, "2.00000", "0.000", first=False, clear=clear)
            if clear:  # 2 A without the 5th fits the 2 A range: shrunk after the amplitude
                transcript += w(f"SOUR:PHAS{x}:CURR:RANG 0.2,2")
            transcript += w(f"SOUR:PHAS{x}:VOLT:STAT 1") + w(f"SOUR:PHAS{x}:CURR:STAT 1")
        transcript += w("SOUR:FREQ 50.0000")
    with expected_protocol(Fluke6105A, transcript) as src:
        src.apply(LoadPoint.balanced(230, 2).with_harmonics(h, h))
        src.apply(LoadPoint.balanced(230, 2))
        src.apply(LoadPoint.balanced(230, 2))


def test_current_above_the_largest_range_is_refused_before_sending():
    with expected_protocol(Fluke6105A, []) as src, pytest.raises(SettingError, match="21"):
        src.apply(LoadPoint.balanced(230, 30))


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
