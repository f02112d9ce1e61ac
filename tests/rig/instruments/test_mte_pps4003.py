"""Transcript tests of the MTE PPS 400.3 driver (docs/dialects.md 2).

[Cli] = the public client tested on a real unit (bob10042/mte-pps400-3-control @0863b2c, PPS400.3
#28492, firmware V3.07). The replies below are the forms it records and parses: `MODE1=O`,
`<head>=O|E` acknowledgements, `STATU<n>=<code>` lines, `SE=E<err><warn>S<5 flags>`, `BSY=0|1`
polled after SET, and measured values with the comma its firmware puts after the code letter
(`?1=E@,v1,v2,v3`, README "Reply-frame-aware parser").
"""

import pytest
from pyvisa import constants
from pyvisa.errors import VisaIOError

from rig.instruments.errors import InstrumentError, SettingError
from rig.instruments.loadpoint import Harmonic, LoadPoint
from rig.instruments.mte_pps4003 import MtePps4003
from rig.instruments.testing import Fail, FailWrite, expected_protocol


def ok(command, head=None):
    head = head or command.split(",")[0]
    return (command, f"{head}=O")


def phase(ph, u, i, pha, w, relay="0"):
    return [
        *([ok(f"SKLI{ph},{relay}")] if relay is not None else []),
        ok(f"U{ph},{u}"),
        ok(f"I{ph},{i}"),
        ok(f"PH{ph},{pha}"),
        ok(f"W{ph},{w}"),
        ok(f"OWU{ph},0,0"),
        ok(f"OWI{ph},0,0"),
    ]


def test_initialise_switches_to_extended_replies():
    with expected_protocol(MtePps4003, [("MODE1", "MODE1=O")]) as src:
        src.initialise()


def test_apply_balanced_pf_half_inductive_import():
    transcript = (
        phase(1, "230.000", "5.0000", "0.00", "60.00")
        + phase(2, "230.000", "5.0000", "120.00", "60.00")
        + phase(3, "230.000", "5.0000", "240.00", "60.00")
        + [ok("FRQ50.000", "FRQ"), ok("SET"), ("BSY", "BSY=0")]
    )
    with expected_protocol(MtePps4003, transcript) as src:
        src.apply(LoadPoint.balanced(230, 5, "0.5L"))


def test_apply_export_capacitive_and_reversed_sequence():
    point = LoadPoint.balanced(230, 1, "0.8C", "export").reversed_sequence()
    # phi = -36.87 + 180 = 143.13 deg; reversed sequence puts L2 at +120 (lagging 240).
    transcript = (
        phase(1, "230.000", "1.0000", "0.00", "143.13")
        + phase(2, "230.000", "1.0000", "240.00", "143.13")
        + phase(3, "230.000", "1.0000", "120.00", "143.13")
        + [ok("FRQ50.000", "FRQ"), ok("SET"), ("BSY", "BSY=0")]
    )
    with expected_protocol(MtePps4003, transcript) as src:
        src.apply(point)


def test_apply_with_harmonics():
    point = LoadPoint.balanced(230, 5).with_harmonics(
        voltage=(Harmonic(5, 0.1, 0.0),), current=(Harmonic(3, 0.2, 180.0),)
    )
    transcript = []
    for ph, pha in ((1, "0.00"), (2, "120.00"), (3, "240.00")):
        transcript += [
            ok(f"SKLI{ph},0"),
            ok(f"U{ph},230.000"),
            ok(f"I{ph},5.0000"),
            ok(f"PH{ph},{pha}"),
            ok(f"W{ph},0.00"),
            ok(f"OWU{ph},0,0"),
            ok(f"OWU{ph},5,10.00,0.00"),
            ok(f"OWI{ph},0,0"),
            ok(f"OWI{ph},3,20.00,180.00"),
        ]
    transcript += [ok("FRQ50.000", "FRQ"), ok("SET"), ("BSY", "BSY=0")]
    with expected_protocol(MtePps4003, transcript) as src:
        src.apply(point)


def test_harmonic_limits_refused_before_sending():
    point = LoadPoint.balanced(230, 5).with_harmonics(voltage=(Harmonic(7, 0.2, 0.0),))
    transcript = [ok("SKLI1,0"), ok("U1,230.000"), ok("I1,5.0000"), ok("PH1,0.00"), ok("W1,0.00")]
    with (
        expected_protocol(MtePps4003, transcript) as src,
        pytest.raises(SettingError, match="harmonic 7"),
    ):
        src.apply(point)


def test_refused_command_raises_naming_command():
    with (
        expected_protocol(MtePps4003, [("U1,299.000", "U1=E")], name="source") as src,
        pytest.raises(InstrumentError, match=r"source: command 'U1,299.000'.*=E"),
    ):
        src.phases[0].voltage = 299


def test_unexpected_acknowledge_raises():
    with (
        expected_protocol(MtePps4003, [("SET", "U1=O")]) as src,
        pytest.raises(InstrumentError, match="expected SET=O"),
    ):
        src.write("SET")


def test_out_of_range_is_refused_before_sending():
    with expected_protocol(MtePps4003, []) as src:
        with pytest.raises(SettingError, match="current"):
            src.phases[2].current = 130
        with pytest.raises(SettingError, match="frequency"):
            src.frequency = 30


def test_on_off_and_phase_states():
    on = ["STATU1=1", "STATU2=1", "STATU3=1"]
    off_i = ["STATI1=0", "STATI2=0", "STATI3=0"]
    off_u = ["STATU1=0", "STATU2=0", "STATU3=0"]
    transcript = [
        ok("ON1"),
        ("STATU", on),
        ("STATI", off_i),
        ok("OFF1"),
        ("STATU", off_u),
        ("STATI", off_i),
    ]
    with expected_protocol(MtePps4003, transcript) as src:
        src.output_on()
        assert src.is_on()
        src.output_off()
        assert not src.is_on()


def test_status_flags_and_faults():
    transcript = [
        ("STATU", ["STATU1=1", "STATU2=1", "STATU3=1"]),
        ("STATI", ["STATI1=1", "STATI2=3", "STATI3=1"]),
        ("SE", "SE=E10S00100"),
    ]
    with expected_protocol(MtePps4003, transcript) as src:
        status = src.status()
    assert status.output_on
    assert status.faults == ("error", "I2 error-off")


def test_busy_and_flags():
    with expected_protocol(MtePps4003, [("BSY", "BSY=1"), ("SE", "SE=E00S00001")]) as src:
        assert src.busy() is True
        assert src.flags() == ["ripple control"]


def test_measured_values_in_both_reply_forms():
    # [Cli] README: firmware V3.07 answers `E@,v1,v2,v3`; the interface description shows
    # `E@v1,v2,v3`. Its verified loopback: I1 = 0.1 A set, 0.0949 A measured; U1 10 V -> 10.000 V.
    transcript = [
        ("?1", "?1=E@,0.0949,0.0000,0.0000"),
        ("?2", "?2=EA,10.000,0.000,0.000"),
        ("?1", "?1=E@5.001,4.999,5.000"),
        ("?2", "?2=EA230.01,229.98,230.00"),
    ]
    with expected_protocol(MtePps4003, transcript) as src:
        assert src.measured("current") == (0.0949, 0.0, 0.0)
        assert src.measured("voltage") == (10.0, 0.0, 0.0)
        assert src.measured("current") == (5.001, 4.999, 5.0)
        assert src.measured("voltage") == (230.01, 229.98, 230.0)


def test_high_current_relay_and_busy_poll_after_set():
    # [Cli] SKLI<ph>,1 closes the relay to the high-current terminals (its verified run: 2 A on
    # the high path, 1 A on the standard path); BSY is polled after SET until "0 = ready".
    # 60 A is above the 12 A standard terminals [L]: relay closed before the setpoints. The
    # next point at 5 A opens it again; an unchanged relay is not sent again.
    high = LoadPoint.balanced(230, 60, "1")
    low = LoadPoint.balanced(230, 5, "1")
    transcript = []
    for ph, pha in ((1, "0.00"), (2, "120.00"), (3, "240.00")):
        transcript += phase(ph, "230.000", "60.0000", pha, "0.00", relay="1")
    transcript += [ok("FRQ50.000", "FRQ"), ok("SET"), ("BSY", "BSY=1"), ("BSY", "BSY=1"),
                   ("BSY", "BSY=0")]
    for ph, pha in ((1, "0.00"), (2, "120.00"), (3, "240.00")):
        transcript += phase(ph, "230.000", "5.0000", pha, "0.00", relay="0")
    transcript += [ok("FRQ50.000", "FRQ"), ok("SET"), ("BSY", "BSY=0")]
    for ph, pha in ((1, "0.00"), (2, "120.00"), (3, "240.00")):
        transcript += phase(ph, "230.000", "5.0000", pha, "0.00", relay=None)
    transcript += [ok("FRQ50.000", "FRQ"), ok("SET"), ("BSY", "BSY=0")]
    with expected_protocol(MtePps4003, transcript) as src:
        src.apply(high)
        src.apply(low)
        src.apply(low)


def test_source_busy_for_ever_is_reported(monkeypatch):
    monkeypatch.setattr("rig.instruments.mte_pps4003.BUSY_TIMEOUT_S", 0.0)
    with (
        expected_protocol(MtePps4003, [("BSY", "BSY=1")], name="source") as src,
        pytest.raises(InstrumentError, match=r"source: command 'BSY'.*still busy"),
    ):
        src.wait_ready()


def test_malformed_status_raises():
    with (
        expected_protocol(MtePps4003, [("SE", "SE=X00S00000")]) as src,
        pytest.raises(InstrumentError, match="unexpected status"),
    ):
        src.flags()


def test_visa_timeout_is_retried_then_reported():
    timeout = VisaIOError(constants.StatusCode.error_timeout)
    transcript = [("BSY", Fail(timeout)), ("BSY", FailWrite(BrokenPipeError("pipe")))]
    with (
        expected_protocol(MtePps4003, transcript, retries=1, name="source") as src,
        pytest.raises(InstrumentError, match=r"BrokenPipeError.*after 2 attempt"),
    ):
        src.busy()


def test_no_watchdog_command_known():
    with expected_protocol(MtePps4003, []) as src:
        assert src.arm_watchdog(5) is False
