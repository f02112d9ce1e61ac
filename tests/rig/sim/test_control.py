"""The simulator-control endpoint and the instrument servers' fault injection, through real
sockets and PyVISA (pyvisa-py), without the rig's drivers."""

from __future__ import annotations

import json
import socket
import time

import pytest
import pyvisa
import yaml

from rig.sim import ControlError, SimBench, SimControl
from tests.rig.sim.conftest import SIM_BENCH


@pytest.fixture
def sim():
    with SimBench(SIM_BENCH, positions=2) as s:
        yield s


@pytest.fixture
def rm():
    return pyvisa.ResourceManager("@py")


def scpi(rm, resource: str, timeout_ms: int = 2000):
    return rm.open_resource(resource, read_termination="\n", write_termination="\n",
                            timeout=timeout_ms)


def set_fluke_point(src) -> None:
    """230 V, 5 A, PF 1 as a real 6105A takes it: absolute harmonic units, ranges, harmonic trees
    on, each current angle relative to its own phase's voltage (docs/dialects.md 1)."""
    src.write("UNIT:MHAR:VOLT ABS")
    src.write("UNIT:MHAR:CURR ABS")
    for x, a in ((1, 0.0), (2, -120.0), (3, 120.0)):
        src.write(f"SOUR:PHAS{x}:VOLT:RANG 0,360")
        src.write(f"SOUR:PHAS{x}:CURR:RANG 0.5,5")
        src.write(f"SOUR:PHAS{x}:VOLT:MHAR:STAT ON")
        src.write(f"SOUR:PHAS{x}:CURR:MHAR:STAT ON")
        src.write(f"SOUR:PHAS{x}:VOLT:MHAR:HARM1 230.0,{a}")
        src.write(f"SOUR:PHAS{x}:CURR:MHAR:HARM1 5.0,0.0")


def energise_fluke(src) -> None:
    set_fluke_point(src)
    src.write("OUTP:STAT ON")
    assert src.query("SYST:ERR?") == '0,"No error"'


def test_time_moves_only_through_the_control_endpoint(sim) -> None:
    ctl = sim.control
    t0 = ctl.time()
    assert ctl.time() == t0
    assert ctl.advance(12.5) == t0 + 12.5
    assert ctl.advance_to(t0 + 100) == t0 + 100
    with pytest.raises(ControlError, match="back in time"):
        ctl.advance_to(t0)
    with pytest.raises(ControlError, match="negative"):
        ctl.advance(-1)


def test_bad_requests_get_clear_errors(sim) -> None:
    host, port = sim.control_address.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        f = s.makefile("rwb")
        for raw, needle in ((b"not json\n", "not JSON"), (b"[1]\n", "JSON object"),
                            (b'{"op": "fly"}\n', "unknown op"),
                            (b'{"op": "advance"}\n', "bad arguments")):
            f.write(raw)
            f.flush()
            reply = json.loads(f.readline())
            assert reply["ok"] is False and needle in reply["error"]
    with pytest.raises(ControlError, match="no position 9"):
        sim.control.pulses(9)


def test_source_state_and_reference_reading_are_observable(sim, rm) -> None:
    src = scpi(rm, sim.substitutions["sim:source"])
    energise_fluke(src)
    state = sim.control.source()
    assert state["output_on"] and state["energised"]
    assert state["phases"][2]["u_angle"] == 120.0
    rd = sim.control.reference()
    assert rd["p_total"] == pytest.approx(3450.0)
    src.write("OUTP:STAT OFF")
    assert src.query("SYST:ERR?") == '0,"No error"'     # the write has been processed
    assert sim.control.output_on() is False
    assert [t[1] for t in sim.control.source()["transitions"]] == [True, False]
    src.close()


def test_injected_error_replies(sim, rm) -> None:
    src = scpi(rm, sim.substitutions["sim:source"])
    ref = scpi(rm, sim.substitutions["sim:reference"])
    sim.control.fault("source", "error", count=1)
    src.write("SOUR:FREQ 50.0")
    assert src.query("SYST:ERR?") == '-221,"Settings conflict"'
    src.write("SOUR:FREQ 51.0")
    assert src.query("SYST:ERR?") == '0,"No error"'
    assert float(src.query("SOUR:FREQ?")) == 51.0
    sim.control.fault("reference", "error", count=1)
    ref.write("CONFIGURATION:POW1:MMODE 3LW;")
    assert ref.query("SYSTEM:ERROR?") == "-200,Execution error"
    assert ref.query("CONFIGURATION:POW1:MMODE?") == "4LW"
    src.close()
    ref.close()


def test_slow_replies_and_silence(sim, rm) -> None:
    src = scpi(rm, sim.substitutions["sim:source"], timeout_ms=300)
    sim.control.fault("source", "slow", delay_s=0.1)
    t = time.monotonic()
    assert src.query("OUTP:STAT?") == "0"
    assert time.monotonic() - t >= 0.1
    sim.control.fault("source", "silent")
    with pytest.raises(pyvisa.errors.VisaIOError):
        src.query("OUTP:STAT?")
    sim.control.fault("source", "clear")
    src.close()
    src = scpi(rm, sim.substitutions["sim:source"])
    assert src.query("*IDN?").startswith("FLUKE,6105A")
    src.close()


def test_dropped_connection(sim, rm) -> None:
    src = scpi(rm, sim.substitutions["sim:source"])
    assert src.query("OUTP:STAT?") == "0"
    assert sim.control.fault("source", "drop")["dropped"] == 1
    with pytest.raises((OSError, pyvisa.errors.VisaIOError)):
        src.query("OUTP:STAT?")
    src.close()
    again = scpi(rm, sim.substitutions["sim:source"])   # the instrument takes new connections
    assert again.query("OUTP:STAT?") == "0"
    again.close()


def test_overload_trip_and_interlock(sim, rm) -> None:
    src = scpi(rm, sim.substitutions["sim:source"])
    energise_fluke(src)
    sim.control.overload(2)
    assert src.query("OUTP:STAT?") == "0"
    assert sim.control.source()["tripped"] == "overload"
    sim.control.interlock(True)
    src.write("OUTP:STAT ON")
    assert src.query("SYST:ERR?") == '-221,"Settings conflict"'
    assert src.query("OUTP:STAT?") == "0"
    sim.control.interlock(False)
    src.write("OUTP:STAT ON")
    assert src.query("OUTP:STAT?") == "1"
    src.close()


def test_watchdog_is_fed_by_commands_and_trips_without_them(sim, rm) -> None:
    src = scpi(rm, sim.substitutions["sim:source"])
    energise_fluke(src)
    sim.control.arm_watchdog(0.3)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:            # 1 s of traffic keeps it on
        assert src.query("OUTP:STAT?") == "1"
        time.sleep(0.05)
    deadline = time.monotonic() + 5.0
    while sim.control.output_on():                # silence: off after 0.3 s
        assert time.monotonic() < deadline, "watchdog never tripped"
        time.sleep(0.02)
    assert sim.control.source()["tripped"] == "watchdog"
    src.close()


def test_meter_conditions_and_pulse_counts(sim, rm) -> None:
    ctl = sim.control
    src = scpi(rm, sim.substitutions["sim:source"])
    energise_fluke(src)
    assert ctl.meter(1, "powered") is True
    ctl.advance(3600.0)
    pulses = ctl.pulses(1)
    # 3.45 kW for one hour at 1000 imp/kWh, with the default A1000 error model (< 0.1 %).
    assert pulses["ACTIVE_IMPORT"] == pytest.approx(3450, rel=1e-3)
    assert pulses["ACTIVE_EXPORT"] == 0 and pulses["LED_ACTIVE"] == pulses["ACTIVE_IMPORT"]
    ctl.meter(1, "battery_low", low=True)
    assert ctl.meter(1, "error_register") != 0
    assert ctl.meter(2, "error_register") == 0
    assert ctl.meter(1, "in_programming") is False
    ctl.meter(1, "seal_open", open=True)
    assert ctl.meter(1, "hold_reset", seconds=9.0) is True
    assert ctl.meter(1, "in_programming") is True
    ctl.meter(1, "display_button")
    names = ctl.meter(2, "defect", defects=[{"name": "energy_gain_error", "percent": 2.0,
                                             "i_min_in": 0.0, "i_max_in": 100.0}])
    assert names == ["energy_gain_error"]
    before = ctl.meter(2, "register", quantity="import")
    ctl.advance(3600.0)
    gained = ctl.meter(2, "register", quantity="import") - before
    assert gained == pytest.approx(3.45 * 1.02, rel=2e-3)
    with pytest.raises(ControlError, match="unknown meter action"):
        ctl.meter(1, "smash")
    src.close()


def test_display_text_follows_power_and_buttons(sim, rm) -> None:
    ctl = sim.control
    assert ctl.display(1).strip() == ""             # no voltage: the LCD is off
    src = scpi(rm, sim.substitutions["sim:source"])
    energise_fluke(src)
    ctl.advance(30.0)
    first = ctl.display(1)
    assert first.strip() and len(first.split("\n")) == 4
    seen = {first}
    for _ in range(5):
        ctl.meter(1, "display_button")
        ctl.advance(1.0)
        seen.add(ctl.display(1))
    assert len(seen) > 1                              # the button pages through the items
    src.close()


def test_dosage_delivers_an_exact_energy_to_the_meters(sim, rm) -> None:
    ctl = sim.control
    src = scpi(rm, sim.substitutions["sim:source"])
    set_fluke_point(src)                                      # output still off
    assert src.query("SYST:ERR?") == '0,"No error"'
    before = ctl.meter(1, "register", quantity="import")
    state = ctl.dosage(0.5)
    assert state["running"] and ctl.output_on()
    ctl.advance(3600.0)
    state = ctl.dosage_state()
    assert state["done"] and state["delivered_kwh"] == 0.5
    assert state["t_end"] - state["t_start"] == pytest.approx(0.5 / 3.45 * 3600, abs=1e-5)
    gained = ctl.meter(1, "register", quantity="import") - before
    assert gained == pytest.approx(0.5, rel=1e-3)        # the A1000's own small error
    with pytest.raises(ControlError, match="dosage energy must be > 0"):
        ctl.dosage(0)
    src.close()


def test_second_client_and_reconnect(sim) -> None:
    with SimControl(sim.control_address) as other:
        other.advance(5.0)
        assert sim.control.time() == other.time()


def test_pulse_totals_over_a_simulated_month(sim, rm) -> None:
    src = scpi(rm, sim.substitutions["sim:source"])
    energise_fluke(src)
    for _ in range(31):
        sim.control.advance(86400.0)
    pulses = sim.control.pulses(2)
    assert pulses["LED_ACTIVE"] == pytest.approx(3.45 * 24 * 31 * 1000, rel=1e-3)
    src.close()


def test_harmonics_reach_the_reference_and_the_meters(sim, rm) -> None:
    src = scpi(rm, sim.substitutions["sim:source"])
    ref = scpi(rm, sim.substitutions["sim:reference"])
    energise_fluke(src)
    src.write("SOUR:PHAS1:VOLT:RANG 0,650")                  # 231.1 V rms with the 5th
    src.write("SOUR:PHAS1:CURR:RANG 1,10")                   # 5.1 A rms
    src.write("SOUR:PHAS1:VOLT:MHAR:HARM5 23.0,10.0")        # 10 % 5th, U and I in phase
    src.write("SOUR:PHAS1:CURR:MHAR:HARM5 1.0,10.0")         # 20 % 5th
    assert src.query("SYST:ERR?") == '0,"No error"'
    assert src.query("SOUR:PHAS1:VOLT:MHAR:HARM5?") == "23,10"
    items = dict(x.split(":[", 1) for x in ref.query("MEASURE:POW1?").rstrip(";").split(";"))
    assert float(items["POW1:P1"].split(":")[1]) == pytest.approx(230 * 5 + 23 * 1)
    rms = ref.query("MEASURE:RMS1:UL1?")
    assert float(rms.rstrip(";").split(":")[-1]) == pytest.approx(230 * 1.01 ** 0.5)
    inputs = sim.world.position(1).inputs
    (h,) = inputs.phases[0].harmonics
    assert (h.order, h.voltage_fraction, h.current_fraction) == (5, pytest.approx(0.1),
                                                                  pytest.approx(0.2))
    src.write("SOUR:PHAS1:CURR:MHAR:HARM5 1.0,0.0")
    src.write("SOUR:PHAS1:VOLT:MHAR:HARM1 0.0,0.0")
    src.write("SOUR:PHAS1:VOLT:MHAR:HARM7 5.0,0.0")           # harmonic of no fundamental
    assert src.query("SYST:ERR?") == '-221,"Settings conflict"'
    src.write("SOUR:PHAS1:CURR:MHAR:HARM1 50.0,0.0")          # 6105A: I <= 21 A
    assert src.query("SYST:ERR?") == '-222,"Data out of range"'
    src.write("SOUR:PHAS1:VOLT:MHAR:CLE")
    src.write("SOUR:PHAS1:CURR:MHAR:CLE")
    assert src.query("SYST:ERR?") == '0,"No error"'
    assert sim.world.position(1).inputs.phases[0].harmonics == ()
    src.close()
    ref.close()


def test_error_calculator_input_selects_the_meter_it_sees(rm) -> None:
    from tests.rig.sim.conftest import flat_error
    bench = yaml.safe_load(SIM_BENCH.read_text())
    second = dict(bench["positions"][0], id=2, link="sim:meter2", pulse_input="Fin1")
    bench["positions"].append(second)  # COM5003 EC01:0002 on Fin1 sees meter 2
    opts = {"meter": flat_error(0.0), "positions": {2: flat_error(0.5)}}
    with SimBench(bench=bench, sim_options=opts) as sim:
        src = scpi(rm, sim.substitutions["sim:source"])
        ref = scpi(rm, sim.substitutions["sim:reference"])
        energise_fluke(src)
        for cmd in ("DUTSOURCE Fin1;", "REFSOURCE P;", "DUTCONSTANT 1000;", "DCUNIT I/kWh;",
                    "MRATE 5;", "CONTINUOUS 0;", "START 1;"):
            ref.write(f"CALCULATE:EC01:0002:{cmd}")
            assert ref.query("SYSTEM:ERROR?") == "+0,No error", cmd
        assert ref.query("CALCULATE:EC01:0002:STATUS?") == "1"          # armed
        sim.control.advance(30.0)
        assert ref.query("CALCULATE:EC01:0002:STATUS?") == "4"          # ready
        assert ref.query("CALCULATE:EC01:0002:PULSES?") == "5"          # DUT pulses
        target = int(ref.query("CALCULATE:EC01:0002:TARGET?"))
        error = float(ref.query("CALCULATE:EC01:0002:RESULT?"))
        counted = round(target / (1 + error / 100))
        assert error == pytest.approx(0.5, abs=100.0 / counted)         # meter 2's error
        assert ref.query("CALCULATE:EC01:0002:MEASNUM?") == "1"
        assert ref.query("CALCULATE:EC01:0001:STATUS?") == "0"          # the other one idle
        src.close()
        ref.close()


def test_several_meters_act_at_the_same_instant(sim) -> None:
    ctl = sim.control
    t0 = ctl.time()
    ctl.meters([1, 2], "seal_open", open=True)
    # Both reset buttons held for the same 8 s: the world moves on 8 s once, not 16 s.
    assert ctl.meters([1, 2], "hold_reset", seconds=8.0) == [True, True]
    assert ctl.time() - t0 == pytest.approx(8.0)
    assert ctl.meters([2, 1], "in_programming") == [True, True]
    ctl.meters([1, 2], "reset_button")
    assert ctl.meters([1, 2], "in_programming") == [False, False]


def test_several_commands_in_one_write_get_their_replies_in_order(sim) -> None:
    host, port = "127.0.0.1", int(sim.substitutions["sim:reference"].split("::")[2])
    with socket.create_connection((host, port), timeout=2) as s:
        s.sendall(b"CALCULATE:EC01:0001:MRATE 7;\nSYSTEM:ERROR?\n"
                  b"CALCULATE:EC01:0001:MRATE?\nCALCULATE:EC01:0002:STATUS?\n")
        data = b""
        while data.count(b"\n") < 3:
            data += s.recv(4096)
    assert data.decode().splitlines() == ["+0,No error", "7", "0"]


def test_err2_conditions_reach_the_meter_through_the_control_endpoint(sim) -> None:
    ctl = sim.control
    # A1000 manual Appendix B, ERR 2 0000 1000: read/write CS5460A error (meter.control action
    # "condition", shared with python -m meter serve --control); F.F low byte = ERR 2.
    ctl.meter(1, "condition", name="measuring_chip")
    assert ctl.meter(1, "error_register") & 0xFF == 0x08
    assert ctl.meter(2, "error_register") == 0
    with pytest.raises(ControlError, match="unknown hardware condition"):
        ctl.meter(1, "condition", name="reserved")


def test_out_of_range_time_is_refused_and_the_simulator_answers_on(sim) -> None:
    """A century of catch-up for every meter would stop the simulator: such time is refused."""
    ctl = sim.control
    t = ctl.time()
    with pytest.raises(ControlError, match=r"past 2099-12-31"):
        ctl.advance(1e12)
    with pytest.raises(ControlError, match=r"hold_reset: seconds 1e\+12 outside 0..600"):
        ctl.meter(1, "hold_reset", seconds=1e12)
    with pytest.raises(ControlError, match=r"finite"):
        ctl.meter(1, "hold_reset", seconds="nan")
    assert ctl.time() == t
    assert ctl.display(1)
