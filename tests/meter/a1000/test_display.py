"""The LCD model (A1000 manual 1.3 items 5-6, 1.7, 2.1.1, 2.1.2) read as text."""

from __future__ import annotations

import pytest

from meter.a1000.config import default_config
from meter.a1000.display import (
    DisplayConfigError,
    DisplayItem,
    DisplaySettings,
    DisplayValues,
    Screen,
    Slot,
    make_display,
)
from meter.a1000.meter import A1000
from meter.electrical import ElectricalInputs, PhaseInput, Phasor

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 (clock offset 0 in the default configuration)
UN = 57.7


def items(*texts: str) -> tuple[DisplayItem, ...]:
    return tuple(DisplayItem.parse(t) for t in texts)


def meter(settings: DisplaySettings | None = None, start: float = T0) -> A1000:
    m = A1000(default_config(), start_time=start)
    m.set_inputs(start, ElectricalInputs.balanced(UN, 0.5, 30.0))
    if settings is not None:
        m.component("display").configure(m.now, settings)
    return m


def screen(m: A1000, t: float) -> Screen:
    return m.component("display").screen(t)


def test_timing_display_sequence_then_idle() -> None:
    m = meter(DisplaySettings(items("Date:5:T", "Time:5:T", "1.8.0:8:TS", "031:8:S"), 15))
    assert screen(m, T0 + 1).label == "Date" and screen(m, T0 + 1).mode == "timing"
    assert screen(m, T0 + 6).value == "00:00:06"
    s = screen(m, T0 + 12)
    assert s.label == "→0 Energy" and s.unit == "kWh" and s.value == "00000.00"
    assert screen(m, T0 + 18).mode == "idle"
    assert screen(m, T0 + 18).value == "26-01-01 00:00"
    # Next boundary 00:15.
    assert screen(m, T0 + 899).mode == "idle"
    assert screen(m, T0 + 900).label == "Date"


def test_timing_overrun_skips_one_boundary() -> None:
    # 5-min interval, sequence of 4 x 99 s = 396 s > 300 s: 00:05 is skipped, next start 00:10.
    m = meter(DisplaySettings(items("Date:99:T", "Time:99:T", "031:99:T", "037:99:T"), 5))
    assert screen(m, T0 + 250).label.startswith("031")
    assert screen(m, T0 + 300).label.startswith("037")  # past 00:05: no restart there
    assert screen(m, T0 + 400).mode == "idle"
    assert screen(m, T0 + 600).label == "Date"
    assert screen(m, T0 + 600 + 250).label.startswith("031")


def test_continuous_display_and_resume_after_button() -> None:
    m = meter(DisplaySettings(items("Date:5:TS", "Time:5:T", "031:5:T"), 15, continuous=True))
    assert screen(m, T0 + 16).label == "Date" and screen(m, T0 + 16).mode == "continuous"
    assert screen(m, T0 + 21).label == "Time"
    m.press_display_button(T0 + 22)
    assert screen(m, T0 + 23).mode == "sequential" and screen(m, T0 + 23).label == "Date"
    # The sequential list (one item, 5 s) ends at 27 s; continuous resumes from its first item.
    assert screen(m, T0 + 27).mode == "continuous" and screen(m, T0 + 27).label == "Date"
    assert screen(m, T0 + 32).label == "Time"


def test_sequential_and_inquiry_display() -> None:
    m = meter(DisplaySettings(items("Date:8:TSI", "Time:8:SI", "031:8:I", "037:8:S"), 15))
    m.press_display_button(T0 + 100)
    assert screen(m, T0 + 101).label == "Date" and screen(m, T0 + 101).mode == "sequential"
    assert screen(m, T0 + 109).label == "Time"
    # A press in the sequential display: next inquiry item, 60 x 8 s.
    m.press_display_button(T0 + 110)
    s = screen(m, T0 + 111)
    assert s.mode == "inquiry" and s.label.startswith("031")
    assert screen(m, T0 + 110 + 479).mode == "inquiry"
    # Time runs out: sequential continues with the item after it (037), then ends.
    s = screen(m, T0 + 110 + 480)
    assert s.mode == "sequential" and s.label.startswith("037")
    assert screen(m, T0 + 110 + 488).mode == "idle"


def test_inquiry_next_item_on_each_press_wraps() -> None:
    m = meter(DisplaySettings(items("Date:8:SI", "Time:8:I", "031:8:I"), 15))
    m.press_display_button(T0 + 100)
    m.press_display_button(T0 + 101)
    assert screen(m, T0 + 102).label == "Time"
    m.press_display_button(T0 + 103)
    assert screen(m, T0 + 104).label.startswith("031")
    m.press_display_button(T0 + 105)
    assert screen(m, T0 + 106).label == "Date" and screen(m, T0 + 106).mode == "inquiry"


def test_historical_items_show_billing_records() -> None:
    m = meter(DisplaySettings(items("1.8.0:8:S:0-2", "030:8:S:0-1"), 15))
    billing = m.component("billing")
    for k in range(3):
        m.advance_to(T0 + 3600 * (k + 1))
        billing.demand_reset(m.now, "button")
    m.press_display_button(T0 + 4 * 3600)
    shown = [screen(m, T0 + 4 * 3600 + 1 + 8 * k) for k in range(5)]
    assert [s.label for s in shown] == ["→0 Energy 0 Num", "→0 Energy 1 Num", "→0 Energy 2 Num",
                                        "030 Latest reset 0 Num", "030 Latest reset 1 Num"]
    rec = billing.registers.record(101)
    assert shown[0].value == rec.energies["1.8.0"]
    assert shown[3].value == "26-01-01 03:00:00"
    assert shown[4].value == "26-01-01 02:00:00"


def test_bottom_row_rotates_u_i_pf() -> None:
    m = meter(DisplaySettings(items("Date:5:T"), 15))
    rows = [screen(m, T0 + 60 + 5 * k).bottom for k in range(3)]
    assert rows[0] == "UA 57.7 UB 57.7 UC 57.7"
    assert rows[1] == "IA 0.500 IB 0.500 IC 0.500"
    assert rows[2] == "A+Φ0.87 B+Φ0.87 C+Φ0.87 Φ0.87"


def test_voltage_loss_indication_flashes_phase_letter() -> None:
    m = meter(DisplaySettings(items("Date:5:T"), 15))
    low = PhaseInput(Phasor(40.0, 0.0), Phasor(0.5, -30.0))
    ok = ElectricalInputs.balanced(UN, 0.5, 30.0)
    m.set_inputs(T0 + 100, ElectricalInputs((low, ok.phases[1], ok.phases[2])))
    s = screen(m, T0 + 160.2)
    assert s.bottom == "UA 40.0 UB 57.7 UC 57.7" and s.flashing == ("A",)
    assert screen(m, T0 + 160.7).bottom == "U  40.0 UB 57.7 UC 57.7"
    assert "err1" in s.indicators
    # Stays on the voltages whatever the rotation step.
    assert screen(m, T0 + 165.2).bottom.startswith("UA 40.0")


def test_overload_indication() -> None:
    m = meter(DisplaySettings(items("Date:5:T"), 15))
    m.set_inputs(T0 + 10, ElectricalInputs.balanced(UN, 6.5, 0.0))
    s = screen(m, T0 + 20.1)
    assert s.bottom == "IA 6.500 IB 6.500 IC 6.500" and s.flashing == ("ABC",)
    assert screen(m, T0 + 20.6).bottom == "I  6.500 I  6.500 I  6.500"


def test_indicators_battery_direction_prg_comm() -> None:
    m = meter(DisplaySettings(items("Date:5:T"), 15))
    s = screen(m, T0 + 1)
    assert s.indicators[:3] == (f"T{m.tariff}", "W>", "var>") and "LOCK" in s.indicators
    m.set_battery_low(T0 + 2, True)
    assert "BAT" in screen(m, T0 + 3).indicators and "err2" in screen(m, T0 + 3).indicators
    m.set_inputs(T0 + 4, ElectricalInputs.balanced(UN, 0.5, 180.0))
    assert "W<" in screen(m, T0 + 5).indicators
    disp = m.component("display")
    disp.note_comm(T0 + 5.5, rx=True)
    assert "RX" in screen(m, T0 + 6).indicators and "TX" not in screen(m, T0 + 6).indicators
    assert "RX" not in screen(m, T0 + 7).indicators
    m.set_seal_open(T0 + 8, True)
    m.hold_reset_button(T0 + 9, 8.0)
    s = screen(m, T0 + 20)
    assert s.label == "PRG" and s.mode == "prg" and "LOCK" not in s.indicators


def test_power_down_blanks_the_lcd() -> None:
    m = meter(DisplaySettings(items("Date:5:T"), 15))
    m.set_inputs(T0 + 10, ElectricalInputs.dead())
    s = screen(m, T0 + 11)
    assert s.mode == "off" and s.text() == "\n\n\n"


def test_text_has_four_lines() -> None:
    m = meter()
    lines = m.component("display").screen_text(T0 + 1).split("\n")
    assert len(lines) == 4 and lines[0] == "Date"


@pytest.mark.parametrize(("text", "msg"), [
    ("Date:0:T", "1..99"), ("Date:100:T", "1..99"), ("XYZ:5:T", "unknown display code"),
    ("Date:5:X", "letters"), ("Date:5:T:0-3", "not a historical"),
    ("1.8.0:5:T:0-16", "0..15"), ("13A:5:T:0-10", "0..9"), ("Date:x", "number"),
])
def test_item_validation(text: str, msg: str) -> None:
    with pytest.raises(DisplayConfigError, match=msg):
        DisplayItem.parse(text)


def test_settings_validation_and_round_trip() -> None:
    with pytest.raises(DisplayConfigError, match="interval"):
        DisplaySettings(timing_interval_min=7)
    with pytest.raises(DisplayConfigError, match=r"items\[1\]"):
        DisplaySettings.from_obj({"items": ["Date:5", "nonsense:5"]})
    s = DisplaySettings.from_obj({"items": [{"code": "13B", "seconds": 9, "modes": ["inquiry"],
                                             "records": [0, 9]}], "continuous": True})
    assert s.items[0].encode() == "13B:9:I:0-9"
    m = meter(s)
    d = m.component("display").snapshot()
    other = meter()
    other.component("display").restore(d)
    assert other.component("display").snapshot() == d


def test_display_list_over_pty() -> None:
    from meter.iec62056_21.client import Client
    from meter.iec62056_21.errors import MeterError
    from meter.iec62056_21.server import MeterServer
    from meter.iec62056_21.timing import Timing

    fast = Timing(reaction_min=0.02)
    m = meter(DisplaySettings(items("Date:5:T", "1.8.0:8:TS"), 15))
    m.set_seal_open(T0 + 1, True)
    m.hold_reset_button(T0 + 1, 8.0)
    bank = m.register_bank()
    with MeterServer(bank, transport="pty", lock=bank.lock, timing=fast) as server, \
            Client(server.url, timing=fast) as c:
        c.program("00000000")
        listed = c.read("C.55.1")[0]
        with pytest.raises(MeterError, match="DISPLAY ITEM REJECTED"):
            c.write("C.55.1", ["Date:5:T", "1.8.0:120:S"])
        c.write("C.55.1", ["Time:7:TSI", "031:9:S"])
        c.write("C.55.0", ["5", "CONTINUOUS"])
        with pytest.raises(MeterError, match="INTERVAL"):
            c.write("C.55.0", ["7", "TIMING"])
    assert [v.value for v in listed.dataset.values] == ["Date:5:T", "1.8.0:8:TS"]
    s = m.component("display").display.settings
    assert [i.encode() for i in s.items] == ["Time:7:TSI", "031:9:S"]
    assert s.continuous and s.timing_interval_min == 5


def test_err1_item_shows_appendix_b_bits() -> None:
    m = meter(DisplaySettings(items("ERR1:5:T", "ERR2:5:T"), 15))
    high = PhaseInput(Phasor(70.0, 0.0), Phasor(0.5, -30.0))  # over voltage on A
    low = PhaseInput(Phasor(40.0, 120.0), Phasor(0.5, 90.0))  # voltage loss on C
    ok = ElectricalInputs.balanced(UN, 0.5, 30.0)
    m.set_inputs(T0 + 800, ElectricalInputs((high, ok.phases[1], low)))
    s = screen(m, T0 + 900)
    assert s.label == "err 1" and s.value == "0000 0101" and "err1" in s.indicators
    assert screen(m, T0 + 906).value == "0000 0000"


def test_protocol_traffic_flashes_rx_and_tx() -> None:
    """Manual 2.1.2 item 3.3: RX and TX flash while the port receives and sends."""
    m = meter(DisplaySettings(items("Date:5:T"), 15))
    clock = {"t": T0 + 10}
    bank = m.register_bank(lambda: clock["t"])
    assert "RX" not in screen(m, T0 + 10).indicators
    bank.read("0.9.1", ())
    shown = screen(m, T0 + 10.5).indicators
    assert "RX" in shown and "TX" in shown
    assert "RX" not in screen(m, T0 + 12).indicators


def test_display_codes_come_from_the_components_that_keep_them() -> None:
    # Demand contributes 051P..DI, billing 030/031/RD, events 035..038 and ERR1/ERR2
    # (display_items); the meter itself the rest. A model without a component shows "--".
    full = meter()
    codes = {code for c in full.components for code in c.display_items()}
    assert {"051P", "052Q", "071", "DI", "030", "031", "RD", "035", "038", "ERR1"} <= codes
    slot = Slot(0, DisplayItem.parse("DI:8:S"), None)
    # The demand cycle without a demand: section is 15 min (demand.DemandSettings; manual 1.2
    # item 2 lists 5..60 min, 15 the usual).
    assert DisplayValues(full).value(slot) == ("15", "min")
    bare = A1000(default_config(), start_time=T0, components=[make_display])
    assert DisplayValues(bare).value(slot) == ("--", "min")
    assert DisplayValues(bare).value(Slot(0, DisplayItem.parse("ERR2:8:S"), None)) == ("--", "")
    # The meter's own codes need no component: the active meter constant.
    imp = DisplayValues(bare).value(Slot(0, DisplayItem.parse("imp/kWh:8:S"), None))
    assert imp == (str(bare.constants["active"]), "imp/kWh")
