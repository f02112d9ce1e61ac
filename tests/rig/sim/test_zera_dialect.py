"""The simulated ZERA COM5003 / MT310s2 answers and refuses as ZERA's firmware does
(ZeraGmbH/zera-classes @618fe79f; docs/dialects.md 3), and refuses the rig's old wrong commands."""

from __future__ import annotations

import pytest

from meter.control import ControlError
from rig.sim import SimBench
from rig.sim.dialects.zera import ZeraCom5003, ZeraMt310s2
from tests.rig.sim.conftest import SIM_BENCH


@pytest.fixture
def sim():
    with SimBench(SIM_BENCH) as s:
        yield s


def energise(sim) -> None:
    """230 V, 5 A, PF 1 on every phase through the simulated Fluke 6105A as a real one takes it
    (docs/dialects.md 1): ranges first (an amplitude above the range in force is -222), each
    current angle relative to its own phase's voltage."""
    src = sim.simulator.instrument("source").dialect
    for x, a in ((1, 0.0), (2, -120.0), (3, 120.0)):
        for line in (f"SOUR:PHAS{x}:VOLT:RANG 0,360", f"SOUR:PHAS{x}:CURR:RANG 0.5,5",
                     f"SOUR:PHAS{x}:VOLT:MHAR:HARM1 230.0,{a}",
                     f"SOUR:PHAS{x}:CURR:MHAR:HARM1 5.0,0.0"):
            assert ask(src, line) == ['0,"No error"'], line
    assert ask(src, "OUTP:STAT ON") == ['0,"No error"']


def ask(dialect, *lines: str) -> list[str]:
    """Send each line alone; return every reply and, after each set command, its error entry."""
    out = []
    for line in lines:
        out += dialect.handle(line)
        if not line.rstrip().endswith("?"):
            out += dialect.handle("SYSTEM:ERROR?")
    return out


def test_the_old_wrong_commands_are_refused(sim):
    zera = sim.simulator.instrument("reference").dialect
    refused = [
        "CALCULATE:EC03:0001:START 1;",  # per-position module numbers: no module EC03
        "CALCULATE:EC01:0003:START 1;",  # a COM5003 has two calculators
        "CALCULATE:EC01:0001:DUTSOURCE fi0;",  # inputs go by alias (SC1, HK1)
        "CALCULATE:EC01:0002:DUTSOURCE fi1;",  # (Fin1..Fin4)
        "CALCULATE:EC01:0001:REFSOURCE fo0;",  # the reference goes by power type (P, Q, S)
        "CONFIGURATION:POW1:MMODE 4LB;",  # POW1 is active power only: 4LW;3LW;2LW
        "CALCULATE:EC01:0001:MRATE 0;",  # 1 .. 4294967295
        "CALCULATE:EC01:0001:DCUNIT I/kVarh;",  # not with reference source P
    ]
    assert ask(zera, *refused) == [
        "-100,Command error",
        "-100,Command error",
        "-120,Numeric data error",
        "-120,Numeric data error",
        "-120,Numeric data error",
        "-120,Numeric data error",
        "-120,Numeric data error",
        "-120,Numeric data error",
    ]
    assert ask(zera, "MEASURE:POW2:P1?", "MEASURE:LAM1:LAMBDAS?") == []  # old labels
    assert ask(zera, "SYSTEM:ERROR?", "SYSTEM:ERROR?") == ["-100,Command error"] * 2


def test_the_dumps_catalogs_and_defaults(sim):
    mt = ZeraMt310s2(sim.world)
    assert ask(mt, "CONFIGURATION:POW1:MMODE:CATALOG?", "CONFIGURATION:POW2:MMODE:CATALOG?",
               "CONFIGURATION:POW3:MMODE:CATALOG?") == ["4LW;3LW;2LW", "4LB;3LB;2LB",
                                                        "4LS;4LSg;2LS;2LSg"]
    assert ask(mt, "CONFIGURATION:POW3:MMODE 3LS;") == ["-120,Numeric data error"]
    com = ZeraCom5003(sim.world)
    assert ask(com, "CONFIGURATION:POW3:MMODE 3LS;") == ["+0,No error"]
    # The dump's EC defaults (config XML): SC1, P, 10000 I/kWh, MRATE 10 -> TARGET 500000.
    assert ask(mt, *(f"CALCULATE:EC01:0001:{q}?" for q in (
        "DUTSOURCE", "REFSOURCE", "DUTCONSTANT", "DCUNIT", "MRATE", "TARGET", "STATUS",
        "REFCONSTANT"))) == ["SC1", "P", "10000", "I/kWh", "10", "500000", "0", "5e+08"]
    assert ask(mt, "CALCULATE:EC01:0002:STATUS?", "SYSTEM:ERROR?") == ["-100,Command error"]
    assert ask(mt, "CALCULATE:EM01:0001:MODE?", "CALCULATE:EM01:0001:MTIME?") == ["1", "120"]
    assert ask(mt, "*IDN?")[0].startswith("ZERA GmbH Koenigswinter, MT310s2, ")


def test_status_bits_pulses_and_reference_counts_of_a_gate(sim):
    zera = sim.simulator.instrument("reference").dialect
    p = "CALCULATE:EC01:0001:"
    ask(zera, p + "DUTCONSTANT 1000;", p + "MRATE 5;", p + "CONTINUOUS 1;", p + "START 1;")
    assert ask(zera, p + "STATUS?") == ["1"]  # armed: no meter pulse without a load
    energise(sim)
    sim.control.advance(60.0)
    # Continuous: started with a result, READY stays set: 6 (READY|STARTED).
    assert ask(zera, p + "STATUS?") == ["6"]
    measured = int(ask(zera, p + "MEASNUM?")[0])
    assert measured >= 2
    target = int(ask(zera, p + "TARGET?")[0])
    assert target == 5 * 500_000_000 // 1000  # floor(MRATE * REFCONSTANT / DUTCONSTANT)
    ask(zera, p + "START 0;")
    assert ask(zera, p + "STATUS?") == ["8"]  # aborted
    assert 0 <= int(ask(zera, p + "PULSES?")[0]) <= 5  # the DUT's pulses, not 2.5e6 counts


def test_em01_stops_by_itself_after_mtime_unless_mode_0(sim):
    zera = sim.simulator.instrument("reference").dialect
    energise(sim)
    em = "CALCULATE:EM01:0001:"
    ask(zera, em + "START 1;")  # the default MODE 1, MTIME 120 s
    sim.control.advance(3600.0)
    short = float(ask(zera, em + "ENERGY?")[0])
    assert ask(zera, em + "STATUS?") == ["4"]
    assert short == pytest.approx(3 * 230 * 5 * 120 / 3.6e6, rel=1e-6)  # 120 s of 3.45 kW
    ask(zera, em + "MODE 0;", em + "START 1;")
    sim.control.advance(3600.0)
    ask(zera, em + "START 0;")
    assert float(ask(zera, em + "ENERGY?")[0]) == pytest.approx(3.45, rel=1e-6)  # 1 h


def test_old_firmware_answers_a_messages_queries_out_of_order(sim):
    lines = ["CALCULATE:EC01:0001:STATUS?", "CALCULATE:EC01:0001:MRATE?", "*IDN?"]
    new = ZeraCom5003(sim.world)
    old = ZeraCom5003(sim.world, release="release-2026-05-12")
    assert new.handle_lines(lines)[:2] == ["0", "10"]
    replies = old.handle_lines(lines)
    assert replies[0].startswith("ZERA") and replies[1:] == ["10", "0"]  # not query order
    assert [old.handle_lines([x])[0] for x in lines[:2]] == ["0", "10"]  # one at a time: fine


def test_a_calculator_counts_the_output_its_input_is_cabled_to(sim):
    """benches/sim.yaml leaves SC1 on the LEDs (no pulse_wiring: `led`); moved to a pulse
    output, EC01:0001 counts that output whatever the reference counts (A1000 manual 1.1: at
    an import load at PF 1 the export output and the reactive outputs give no pulse)."""
    zera = sim.simulator.instrument("reference").dialect
    energise(sim)
    ec = "CALCULATE:EC01:0001:"
    setup = [f"{ec}DUTSOURCE SC1;", f"{ec}REFSOURCE P;", f"{ec}DUTCONSTANT 1000;",
             f"{ec}MRATE 3;"]
    assert ask(zera, *setup) == ["+0,No error"] * 4

    def gate(output: str) -> tuple[str, str]:
        """Cable SC1 to `output`, run a gate for 60 s of bench time: (STATUS, the output)."""
        sim.simulator.connect(1, "SC1", output)
        assert ask(zera, f"{ec}START 1;") == ["+0,No error"]
        sim.world.advance(60.0)
        return ask(zera, f"{ec}STATUS?")[0], sim.control.ec(1)["output"]

    # 3 x 230 V x 5 A = 3.45 kW at 1000 imp/kWh: 0.96 pulses/s, 3 pulses in 60 s.
    assert gate("led") == ("4", "LED_ACTIVE")  # READY: the active LED
    assert gate("active_import") == ("4", "ACTIVE_IMPORT")
    assert gate("active_export") == ("1", "ACTIVE_EXPORT")  # ARMED: no export pulse comes
    assert gate("reactive_q1q2") == ("1", "REACTIVE_Q1Q2")
    assert gate("led_reactive") == ("1", "LED_REACTIVE")
    # A head on the LEDs reads the reactive one while the reference counts reactive energy.
    sim.simulator.connect(1, "SC1", "led")
    assert ask(zera, f"{ec}REFSOURCE Q;", f"{ec}START 1;") == ["+0,No error"] * 2
    assert sim.control.ec(1)["output"] == "LED_REACTIVE"


def test_moving_a_cable_is_refused_where_none_is(sim):
    with pytest.raises(ValueError, match="input HK1 of its error calculator is not cabled"):
        sim.simulator.connect(1, "HK1", "active_import")
    with pytest.raises(ValueError, match="'output_5' is not a meter output"):
        sim.simulator.connect(1, "SC1", "output_5")
    # Through the control endpoint (what the simulator's hands use).
    with pytest.raises(ControlError, match="op 'connect': position 1: input HK1"):
        sim.control.connect(1, "HK1", "active_import")
