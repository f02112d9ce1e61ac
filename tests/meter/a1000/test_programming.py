"""Programming mode does only energy, demand and tariff switching (A1000 manual 2.1.1)."""

from __future__ import annotations

import datetime as dt

import pytest

from meter.a1000.clock import meter_datetime
from meter.a1000.load_profile import PROGRAMMING, RESET, SHORT
from meter.a1000.meter import A1000
from meter.electrical import ElectricalInputs, PhaseInput, Phasor
from tests.meter.a1000.helpers import fixed_tariff_tou, ideal_config

START = dt.datetime(2026, 3, 31, 23, 45, tzinfo=dt.UTC).timestamp()  # meter clock = UTC
MIN = 60.0


def _l1_dip(volts: float) -> ElectricalInputs:
    """3 x 0.5 A at PF 1; L1 at `volts`, L2 and L3 at 57.7 V."""
    phases = tuple(
        PhaseInput(Phasor(v, a), Phasor(0.5, a))
        for v, a in ((volts, 0.0), (57.7, -120.0), (57.7, 120.0))
    )
    return ElectricalInputs(phases)  # type: ignore[arg-type]


def _run(programming: bool) -> A1000:
    """23:45 on, 23:50 reset held 8 s (seal open only when `programming`), 23:51 L1 dips to 40 V
    (69 % Un with current: a voltage loss after 60 s), display pressed 23:53, 23:56 and 23:57
    (each press restarts the 4-minute time-out), so programming lasts 23:50:08 .. 00:01:00; the
    monthly reading is due 04-01 00:00."""
    cfg = ideal_config(tou=fixed_tariff_tou(1), clock={"drift_ppm": 0.0},
                       billing={"day": 1, "hour": 0})
    m = A1000(cfg, start_time=START)
    m.set_inputs(START, ElectricalInputs.balanced(57.7, 0.5, 0.0))
    m.set_seal_open(START + 5 * MIN, programming)
    assert m.hold_reset_button(START + 5 * MIN, 8.0) is programming
    m.set_inputs(START + 6 * MIN, _l1_dip(40.0))
    for minute in (8, 11, 12):
        m.press_display_button(START + minute * MIN)
    m.advance_to(START + 20 * MIN)  # 00:05
    return m


def _stamp(meter_s: float | None) -> str:
    assert meter_s is not None
    return meter_datetime(meter_s).strftime("%H:%M:%S")


def test_programming_stops_events_load_profile_and_billing() -> None:
    ref, prg = _run(False), _run(True)
    assert not prg.in_programming()
    # Energy counting goes on: 86.55 W (3 x 57.7 V x 0.5 A) 23:45-23:51 = 8.655 Wh, then
    # 77.7 W ((40 + 57.7 + 57.7) x 0.5) 23:51-00:05 = 18.13 Wh; 26.785 Wh in both.
    for m in (ref, prg):
        assert m.register("import") == pytest.approx(0.026785, abs=1e-9)
    # Load monitoring: the reference confirms the voltage loss at 23:52 (60 s after the dip);
    # in programming nothing is monitored, detection restarts at 00:01:00 and confirms 00:02.
    loss = {name: m.component("events").monitor.logs["voltage_loss_A"]
            for name, m in (("ref", ref), ("prg", prg))}
    assert _stamp(loss["ref"].latest()[0]) == "23:52:00"
    assert _stamp(loss["prg"].latest()[0]) == "00:02:00"
    assert loss["ref"].count == loss["prg"].count == 1
    # Billing: the reading of 00:00 in the reference; done once at the end of programming.
    stamps = [m.register_bank().read("0.1.2*101", ())[0].values[0].value for m in (ref, prg)]
    assert stamps == ["2604010000", "2604010001"]
    # Load profile: the reference has 23:45-00:00 whole (86.55 W x 6 min + 77.7 W x 9 min =
    # 8.655 + 11.655 = 20.31 Wh -> 203 counts of 0.1 Wh). In programming, 23:45-23:50:08 only
    # (86.55 W x 308 s = 7.4048 Wh -> 74 counts), flagged; 00:00-00:01 is not recorded and
    # the next entry starts short at 00:01.
    ref_e = ref.component("load_profile").profile.store.entries()
    prg_e = prg.component("load_profile").profile.store.entries()
    assert [(_stamp(e.meter_time), e.status) for e in ref_e] == [("00:00:00", 0)]
    assert round(ref_e[0].values[0] / 1e-4) == 203
    assert [(_stamp(e.meter_time), e.status) for e in prg_e] == [("00:00:00", PROGRAMMING)]
    assert round(prg_e[0].values[0] / 1e-4) == 74
    # ... and holds the deferred reading (RESET).
    assert prg.component("load_profile").profile.status == PROGRAMMING | SHORT | RESET


def test_programming_ends_after_four_minutes_without_a_button() -> None:
    cfg = ideal_config(tou=fixed_tariff_tou(1))
    m = A1000(cfg, start_time=START)
    m.set_inputs(START, ElectricalInputs.balanced(57.7, 0.5, 0.0))
    m.set_seal_open(START, True)
    m.hold_reset_button(START, 8.0)
    events = m.component("events").monitor
    assert events.suspended
    # Released at 23:45:08; manual 2.1.1: it leaves programming 4 minutes later, 23:49:08.
    m.advance_to(START + 8 + 240 - 0.001)
    assert m.in_programming() and events.suspended
    m.advance_to(START + 8 + 240)
    assert not m.in_programming() and not events.suspended


def test_power_down_ends_programming() -> None:
    m = A1000(ideal_config(tou=fixed_tariff_tou(1)), start_time=START)
    m.set_inputs(START, ElectricalInputs.balanced(57.7, 0.5, 0.0))
    m.set_seal_open(START, True)
    assert m.hold_reset_button(START, 8.0)
    m.set_inputs(START + MIN, ElectricalInputs.dead())
    # The programming state is volatile (not kept through power-down): monitoring resumes.
    assert not m.in_programming()
    assert not m.component("events").monitor.suspended
    assert not m.component("load_profile").programming


def test_clock_set_back_in_programming_restarts_the_profile_at_the_new_clock() -> None:
    m = A1000(ideal_config(tou=fixed_tariff_tou(1), clock={"drift_ppm": 0.0}), start_time=START)
    m.set_inputs(START, ElectricalInputs.balanced(57.7, 0.5, 0.0))
    m.set_seal_open(START + 5 * MIN, True)
    m.hold_reset_button(START + 5 * MIN, 8.0)  # 23:50:08, PRG
    bank = m.register_bank()
    assert bank.check_password("P1", "00000000")
    bank.write("0.9.1", ("120000",))  # the same day, 12:00:00: back across many slots
    m.press_reset_button(m.now)  # PRG ends at 12:00:00
    m.advance_to(m.now + 15 * MIN)
    entries = m.component("load_profile").profile.store.entries()
    # The entry of 23:45-00:00 (held since 23:50:08) is written at the end of programming with
    # its old stamp; the next runs from 12:00 (aligned: no SHORT) and ends at 12:15 on the new
    # clock, not at 00:00 of the old one.
    assert [_stamp(e.meter_time) for e in entries] == ["00:00:00", "12:15:00"]
    assert entries[-1].status == PROGRAMMING
