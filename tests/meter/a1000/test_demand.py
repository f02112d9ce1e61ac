"""Maximum demand against hand-worked profiles (A1000 manual 1.2, 1.3, 3.2.2; standards.md 3.3)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from meter.a1000.demand import (
    DemandComponent,
    DemandConfigError,
    DemandRegisters,
    DemandSettings,
    power_factor,
    stamp_yymmddhhmm,
)
from meter.iec62056_21.bank import RegisterError

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 (meter clock = true time in these tests)
MIN = 60.0


class IdentityClock:
    def meter_seconds(self, t: float) -> float:
        return t

    def true_time(self, meter_s: float) -> float:
        return meter_s


@dataclass(frozen=True)
class Flow:
    import_: float = 0.0
    export: float = 0.0
    q1: float = 0.0
    q2: float = 0.0
    q3: float = 0.0
    q4: float = 0.0
    apparent: float = 0.0
    tariff: int = 1


class Loop:
    """A minimal event loop: constant powers between calls, like the core's loop."""

    def __init__(self, comp: DemandComponent, start: float = T0) -> None:
        self.comp, self.now = comp, start
        self.kw, self.kvar = 0.0, 0.0
        self.tariff = 1

    def switch(self, new: int) -> None:
        """A tariff switch announced by the core (the flows carry the new tariff after it)."""
        self.comp.on_tariff(self.now, self.tariff, new)
        self.tariff = new

    def run_to(self, t: float) -> None:
        while self.now < t:
            nxt = self.comp.next_event(self.now)
            stop = t if nxt is None else min(nxt, t)
            h = (stop - self.now) / 3600.0
            p, q = self.kw * h, self.kvar * h
            self.comp.accumulate(self.now, stop, Flow(
                import_=max(p, 0.0), export=max(-p, 0.0),
                q1=q if q > 0 and p >= 0 else 0.0, q4=-q if q < 0 and p >= 0 else 0.0,
                apparent=(p * p + q * q) ** 0.5, tariff=self.tariff,
            ))
            self.now = stop
            if nxt is not None and stop >= nxt:
                self.comp.on_event(self.now)


def make(mode: str = "block", cycle: int = 15, window: int = 5, start: float = T0,
         defects: frozenset[str] = frozenset()) -> tuple[DemandComponent, Loop]:
    comp = DemandComponent(IdentityClock(), DemandSettings(mode, cycle, window), start,
                           defects=defects)
    return comp, Loop(comp, start)


@pytest.mark.parametrize(
    ("mode", "cycle", "window"),
    [("rolling", 60, 1), ("block", 60, 1), ("rolling", 10, 3), ("rolling", 20, 5),
     ("rolling", 15, 4), ("sliding", 15, 5), ("block", 45, 5)],
)
def test_invalid_settings_rejected_previous_stay(mode: str, cycle: int, window: int) -> None:
    comp, _ = make("rolling", 15, 5)
    with pytest.raises(DemandConfigError, match=r"manual 1\.2 item 2"):
        comp.configure(T0, DemandSettings(mode, cycle, window))
    assert comp.registers.settings == DemandSettings("rolling", 15, 5)


@pytest.mark.parametrize(("cycle", "window"), [(60, 2), (60, 3), (60, 5), (5, 1), (30, 3), (10, 2)])
def test_valid_settings_accepted(cycle: int, window: int) -> None:
    assert DemandSettings("rolling", cycle, window).n_windows == cycle // window


def test_block_step_profile() -> None:
    comp, loop = make("block", 15, 5)
    loop.kw = 6.0
    loop.run_to(T0 + 5 * MIN)
    loop.kw = 12.0
    loop.run_to(T0 + 15 * MIN)
    # (6 kW * 5 min + 12 kW * 10 min) / 15 min = 10 kW at 00:15
    m = comp.registers.maximum("import")
    assert m.value == pytest.approx(10.0, abs=1e-9)
    assert stamp_yymmddhhmm(m.meter_time) == "2601010015"
    loop.kw = 3.0
    loop.run_to(T0 + 30 * MIN)
    assert comp.registers.maximum("import").value == pytest.approx(10.0)
    assert comp.registers.last_average[0][0] == pytest.approx(3.0)
    # Per-tariff: tariff 1 in force all along equals total.
    assert comp.registers.maximum("import", 1).value == pytest.approx(10.0)
    assert comp.registers.maximum("import", 2).value == 0.0


def test_block_is_clock_aligned_after_a_mid_cycle_start() -> None:
    comp, loop = make("block", 15, 5, start=T0 + 7 * MIN)
    loop.kw = 12.0
    loop.run_to(T0 + 15 * MIN)
    # Shortened first block 00:07-00:15: 12 kW * 8 min / 15 min = 6.4 kW, stamped 00:15.
    m = comp.registers.maximum("import")
    assert m.value == pytest.approx(6.4)
    assert stamp_yymmddhhmm(m.meter_time) == "2601010015"


def test_rolling_step_profile() -> None:
    comp, loop = make("rolling", 15, 5)
    loop.run_to(T0 + 15 * MIN)
    loop.kw = 12.0
    seen = []
    for k in (20, 25, 30, 35):
        loop.run_to(T0 + k * MIN)
        seen.append(comp.registers.last_average[0][0])
    assert seen == pytest.approx([4.0, 8.0, 12.0, 12.0])
    m = comp.registers.maximum("import")
    assert m.value == pytest.approx(12.0)
    assert stamp_yymmddhhmm(m.meter_time) == "2601010030"
    # Window average (display 051) and demand interval average (052).
    assert comp.registers.window_average("import") == pytest.approx(12.0)
    assert comp.registers.cycle_average("import") == pytest.approx(12.0)


def test_rolling_rising_demand_mid_window() -> None:
    comp, loop = make("rolling", 15, 5)
    loop.kw = 6.0
    loop.run_to(T0 + 12 * MIN)
    # Current average: 12 min of 6 kW over the nominal 15 min = 4.8 kW.
    assert comp.registers.rising("import") == pytest.approx(4.8)
    loop.kw = 0.0
    loop.run_to(T0 + 22 * MIN)
    # The window in progress: sub-intervals 00:10-00:15 (6 kW until 00:12) and 00:15-00:20
    # (nothing), plus 00:20-00:22 in progress (nothing); 00:05-00:10 has left it.
    assert comp.registers.rising("import") == pytest.approx(6.0 * 2 / 15)


def test_tariff_change_inside_rolling_window() -> None:
    comp, loop = make("rolling", 15, 5)
    loop.kw = 12.0
    loop.run_to(T0 + 32 * MIN)
    loop.switch(2)
    values = []
    for k in (35, 40, 45, 50):
        loop.run_to(T0 + k * MIN)
        values.append(comp.registers.last_average[2][0])
    # Sub-interval 00:30-00:35 is skipped for T2; its window restarts from zero.
    assert values == pytest.approx([0.0, 4.0, 8.0, 12.0])
    assert comp.registers.maximum("import", 0).value == pytest.approx(12.0)
    assert stamp_yymmddhhmm(comp.registers.maximum("import", 1).meter_time) == "2601010015"
    assert stamp_yymmddhhmm(comp.registers.maximum("import", 2).meter_time) == "2601010050"


def test_total_exceeds_every_tariff_demand_at_change() -> None:
    comp, loop = make("rolling", 15, 5)
    loop.kw = 12.0
    loop.run_to(T0 + 12 * MIN)
    loop.switch(2)
    loop.run_to(T0 + 20 * MIN)
    loop.kw = 0.0
    loop.run_to(T0 + 40 * MIN)
    r = comp.registers
    # Total saw 12 kW from 00:00-00:15 then rolling 00:05-00:20 (12 kW whole) = 12 kW.
    assert r.maximum("import", 0).value == pytest.approx(12.0)
    # T1 never completed a window (4 min of 12 kW / 15 min at most at 00:05 and 00:10).
    assert r.maximum("import", 1).value == pytest.approx(8.0)
    # T2: 00:10-00:15 skipped, only 00:15-00:20 (1 kWh) counts -> 4 kW.
    assert r.maximum("import", 2).value == pytest.approx(4.0)


def test_tariff_change_on_boundary_restarts_window() -> None:
    comp, loop = make("rolling", 15, 5)
    loop.kw = 12.0
    loop.run_to(T0 + 30 * MIN)
    loop.switch(3)
    loop.run_to(T0 + 35 * MIN)
    # The boundary sub-interval was closed under T1, T3 window starts from zero: 1 kWh / 0.25 h.
    assert comp.registers.last_average[3][0] == pytest.approx(4.0)
    assert comp.registers.maximum("import", 1).value == pytest.approx(12.0)


def test_sixty_minute_cycle_rolling_three() -> None:
    comp, loop = make("rolling", 60, 3)
    loop.kw = 30.0
    loop.run_to(T0 + 30 * MIN)
    loop.kw = 0.0
    loop.run_to(T0 + 120 * MIN)
    r = comp.registers
    # Highest 60-min window holds the 30 min at 30 kW = 15 kWh -> 15 kW, first reached at 00:30.
    assert r.maximum("import").value == pytest.approx(15.0)
    assert stamp_yymmddhhmm(r.maximum("import").meter_time) == "2601010030"


def test_range_is_limited_to_99_9999() -> None:
    comp, loop = make("block", 5, 1)
    loop.kw = 250.0
    loop.run_to(T0 + 5 * MIN)
    assert comp.registers.maximum("import").value == 99.9999


def test_power_down_shortens_and_realigns() -> None:
    comp, loop = make("block", 15, 5)
    loop.kw = 12.0
    loop.run_to(T0 + 7 * MIN)
    comp.on_power(loop.now, False)
    assert comp.next_event(loop.now) is None
    # Ended at power-down: 12 kW * 7 min / 15 min = 5.6 kW stamped 00:07.
    assert comp.registers.maximum("import").value == pytest.approx(5.6)
    assert stamp_yymmddhhmm(comp.registers.maximum("import").meter_time) == "2601010007"
    loop.now = T0 + 20 * MIN + 30
    comp.on_power(loop.now, True)
    assert comp.next_event(loop.now) == T0 + 25 * MIN
    loop.run_to(T0 + 30 * MIN)
    # Block 00:20:30-00:30 (9.5 min) at 12 kW over 15 min = 7.6 kW.
    assert comp.registers.last_average[0][0] == pytest.approx(7.6)


def test_clock_set_within_slot_keeps_window() -> None:
    comp, loop = make("rolling", 15, 5)
    loop.kw = 12.0
    loop.run_to(T0 + 2 * MIN)
    comp.on_clock_set(loop.now, T0 + 2 * MIN, T0 + 2 * MIN + 10)
    assert comp.registers.window_end == T0 + 5 * MIN
    assert comp.registers.last_average[0][0] == 0.0


def test_clock_set_across_slots_closes_and_realigns() -> None:
    comp, loop = make("block", 15, 5)
    loop.kw = 12.0
    loop.run_to(T0 + 4 * MIN)
    # The test clock is the identity, so emulate the jump by starting the loop at the new time.
    comp.on_clock_set(loop.now, T0 + 4 * MIN, T0 + 11 * MIN)
    loop.now = T0 + 11 * MIN
    assert comp.registers.maximum("import").value == pytest.approx(12.0 * 4 / 15)
    assert stamp_yymmddhhmm(comp.registers.maximum("import").meter_time) == "2601010004"
    assert comp.next_event(loop.now) == T0 + 15 * MIN


def test_reset_moves_maxima_to_cumulative() -> None:
    comp, loop = make("block", 15, 5)
    loop.kw = 8.0
    loop.run_to(T0 + 15 * MIN)
    comp.registers.reset()
    loop.kw = 4.0
    loop.run_to(T0 + 30 * MIN)
    comp.registers.reset()
    r = comp.registers
    assert r.cumulative[0][0] == pytest.approx(12.0)
    assert r.cumulative[1][0] == pytest.approx(12.0)
    assert r.maximum("import").value == 0.0 and r.maximum("import").meter_time is None


def test_power_factor_averages() -> None:
    comp, loop = make("rolling", 15, 5)
    loop.kw, loop.kvar = 6.0, 8.0
    loop.run_to(T0 + 15 * MIN)
    assert comp.registers.window_power_factor() == pytest.approx(0.6)
    assert comp.registers.cycle_power_factor() == pytest.approx(0.6)
    assert comp.registers.maximum("q1").value == pytest.approx(8.0)
    assert comp.registers.maximum("apparent").value == pytest.approx(10.0)
    assert power_factor(0.0, 0.0) == 1.0


def test_defect_window_misaligned() -> None:
    good, _ = make("block", 15, 5, start=T0 + 2 * MIN)
    bad, _ = make("block", 15, 5, start=T0 + 2 * MIN,
                   defects=frozenset({"demand_window_misaligned"}))
    assert good.next_event(T0) == T0 + 5 * MIN
    assert bad.next_event(T0) == T0 + 7 * MIN


def test_defect_rolling_interval_ignored() -> None:
    bad, loop = make("rolling", 15, 5, defects=frozenset({"demand_rolling_interval_ignored"}))
    loop.kw = 12.0
    loop.run_to(T0 + 20 * MIN)
    # Rolling would have evaluated 00:20 (window 00:05-00:20); block mode clears at 00:15.
    assert stamp_yymmddhhmm(bad.registers.maximum("import").meter_time) == "2601010015"


def test_unknown_defect_rejected() -> None:
    with pytest.raises(ValueError, match="unknown demand defect"):
        DemandRegisters(DemandSettings(), T0, defects=frozenset({"nonsense"}))


def test_snapshot_restore_round_trip() -> None:
    comp, loop = make("rolling", 15, 5)
    loop.kw = 5.0
    loop.run_to(T0 + 17 * MIN)
    d = comp.snapshot()
    other = DemandComponent(IdentityClock(), DemandSettings(), T0)
    other.restore(d)
    assert other.snapshot() == d
    assert other.next_event(loop.now) == T0 + 20 * MIN


def test_obis_rows_format() -> None:
    comp, loop = make("block", 15, 5)
    loop.kw = 8.0
    loop.run_to(T0 + 15 * MIN)
    rows = {r.address: r for r in comp.obis_rows()}
    stub = SimpleNamespace(now=loop.now)
    assert rows["1-1:1.6.0"].get(stub) == ("8.0000", "2601010015")
    assert rows["1-1:1.6.0"].unit == "kW" and rows["1-1:1.6.0"].readout
    assert rows["1-1:1.6.2"].get(stub) == ("0.0000", "0000000000")
    assert rows["1-1:9.6.0"].unit == "kVA"
    assert rows["1-1:0.8.0"].get(stub) == ("15",)


def test_protocol_write_of_settings_validates() -> None:
    comp, loop = make("rolling", 15, 5)
    rows = {r.address: r for r in comp.obis_rows()}
    stub = SimpleNamespace(now=loop.now)
    with pytest.raises(RegisterError, match="CYCLE NOT MULTIPLE"):
        rows["C.50.0"].put(stub, ("ROLLING", "2"))
    with pytest.raises(RegisterError, match="INTERVAL REJECTED"):
        rows["C.50.0"].put(stub, ("ROLLING", "4"))
    assert comp.registers.settings == DemandSettings("rolling", 15, 5)
    rows["1-1:0.8.0"].put(stub, ("30",))
    assert comp.registers.settings == DemandSettings("rolling", 30, 5)
    rows["C.50.0"].put(stub, ("BLOCK",))
    assert comp.registers.settings == DemandSettings("block", 30, 5)


# ---------------------------------------------------------------- through the protocol (pty)


def test_demand_over_pty_read_write_and_protocol_reset() -> None:
    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from meter.iec62056_21.client import Client
    from meter.iec62056_21.errors import MeterError
    from meter.iec62056_21.server import MeterServer
    from meter.iec62056_21.timing import Timing
    from tests.meter.a1000.helpers import T0 as T_HELP
    from tests.meter.a1000.helpers import fixed_tariff_tou, ideal_config

    fast = Timing(reaction_min=0.02)
    cfg = ideal_config(tou=fixed_tariff_tou(2), clock={"drift_ppm": 0.0})
    m = A1000(cfg, start_time=T_HELP)
    m.set_inputs(T_HELP, ElectricalInputs.balanced(57.7, 5.0, 0.0))  # 865.5 W import
    m.advance_to(T_HELP + 1800)
    bank = m.register_bank()
    with MeterServer(bank, transport="pty", lock=bank.lock, timing=fast) as server:
        with Client(server.url, timing=fast) as c:
            readout = {r.address: r for r in c.readout()}
        with Client(server.url, timing=fast) as c:
            c.program()  # R1 needs the programming mode of the protocol, no password
            total = c.read("1.6.0")[0]
            t2 = c.read("1-1:1.6.2")[0]
        assert [v.value for v in total.dataset.values] == ["0.8655", "2603020015"]
        assert total.unit == "kW"
        assert [v.value for v in t2.dataset.values] == ["0.8655", "2603020015"]
        assert readout["1-1:1.6.0"].dataset == total.dataset
        assert readout["1-1:0.8.0"].raw == "15"
        m.set_seal_open(m.now, True)
        m.hold_reset_button(m.now, 8)
        with Client(server.url, timing=fast) as c:
            c.program("00000000")
            with pytest.raises(MeterError, match="INTERVAL REJECTED"):
                c.write("C.50.0", ["ROLLING", "4"])
            c.write("C.50.0", ["ROLLING", "3"])
            with pytest.raises(MeterError, match="NOT MULTIPLE"):
                c.write("1-1:0.8.0", "10")  # 10 min is not a multiple of 3 min
            assert [v.value for v in c.read("C.50.0")[0].dataset.values] == ["ROLLING", "3"]
            # Demand reset through the protocol (programming state + P1 password): E2 0.1.0.
            vz = c.execute("0.1.0")[0]
            after = c.read("1.6.0")[0]
            by_protocol = c.read("C.51.3")[0]
    assert vz.raw == "01"
    assert [v.value for v in after.dataset.values] == ["0.0000", "0000000000"]
    assert by_protocol.raw == "1"
    assert m.component("demand").registers.settings == DemandSettings("rolling", 15, 3)
    assert m.component("demand").registers.cumulative[0][0] == pytest.approx(0.8655)


def test_defects_reach_the_component_through_the_meter() -> None:
    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from tests.meter.a1000.helpers import T0 as T_HELP
    from tests.meter.a1000.helpers import ideal_config

    cfg = ideal_config(clock={"drift_ppm": 0.0}, demand={"mode": "rolling", "cycle_min": 15,
                                                        "window_min": 5})
    for defects, first in (((), T_HELP + 300), (("demand_window_misaligned",), T_HELP + 420)):
        m = A1000(cfg, start_time=T_HELP + 120, defects=defects)
        m.set_inputs(T_HELP + 120, ElectricalInputs.balanced(57.7, 1.0, 0.0))
        assert m.component("demand").next_event(m.now) == first
        assert m.component("demand").registers.settings.mode == "rolling"


def test_bad_demand_configuration_names_the_section() -> None:
    from meter.a1000.meter import A1000
    from tests.meter.a1000.helpers import T0 as T_HELP
    from tests.meter.a1000.helpers import ideal_config

    with pytest.raises(DemandConfigError, match="60 min cycle"):
        A1000(ideal_config(demand={"mode": "rolling", "cycle_min": 60, "window_min": 1}),
              start_time=T_HELP)
    with pytest.raises(DemandConfigError, match="demand configuration"):
        A1000(ideal_config(demand={"cycle": 15}), start_time=T_HELP)


def test_clock_setting_through_the_meter_realigns() -> None:
    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from tests.meter.a1000.helpers import T0 as T_HELP  # 2026-03-02 00:00
    from tests.meter.a1000.helpers import fixed_tariff_tou, ideal_config

    cfg = ideal_config(tou=fixed_tariff_tou(1), clock={"drift_ppm": 0.0})
    m = A1000(cfg, start_time=T_HELP)
    m.set_inputs(T_HELP, ElectricalInputs.balanced(57.7, 5.0, 0.0))  # 0.8655 kW
    m.set_clock(T_HELP + 420, T_HELP + 1200)  # 00:07 -> 00:20
    d = m.component("demand")
    mx = d.registers.maximum("import")
    # The block in progress ended at the setting: 7 min of 0.8655 kW over 15 min.
    assert mx.value == pytest.approx(0.8655 * 7 / 15)
    assert stamp_yymmddhhmm(mx.meter_time) == "2603020007"
    # Next sub-interval end 00:25 on the new clock reading = 300 s of true time later.
    assert d.next_event(m.now) == pytest.approx(T_HELP + 420 + 300)
    m.advance_to(T_HELP + 420 + 600)  # meter 00:30: shortened block 00:20-00:30
    assert d.registers.last_average[0][0] == pytest.approx(0.8655 * 10 / 15)


def _meter_at_0730_rolling_15_5() -> Any:
    """An ideal A1000 at 3.45 kW constant from 07:30 of a winter Monday (default profile 1:
    T2 from 07:00, T1 from 08:00), rolling 15/5, the healthy 20 ms switch delay."""
    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from tests.meter.a1000.helpers import T0 as MONDAY
    from tests.meter.a1000.helpers import ideal_config

    cfg = ideal_config(
        nominal="3x220/380", in_a=5.0, imax_a=10.0,
        constants={"active_imp_per_kwh": 1000, "reactive_imp_per_kvarh": 1000},
        clock={"drift_ppm": 0.0, "tariff_switch_delay_s": 0.02},
        demand={"mode": "rolling", "cycle_min": 15, "window_min": 5},
    )
    start = MONDAY + 7.5 * 3600
    meter = A1000(cfg, start_time=start)
    # 3 x 230 V x 5 A at PF 1 = 3 x 1150 W = 3.45 kW.
    meter.set_inputs(start, ElectricalInputs.balanced(230.0, 5.0, 0.0))
    return meter, start


def test_tariff_demand_after_a_delayed_switch_counts_the_first_sub_interval() -> None:
    meter, start = _meter_at_0730_rolling_15_5()
    r = meter.component("demand").registers
    seen = []
    for minute in (5, 10, 15):  # 08:05, 08:10, 08:15
        meter.advance_to(start + (30 + minute) * MIN)
        seen.append(r.last_average[1][0])
    # Manual 1.2 item 4 with 3.2.4 (switch < 0.1 s): T1 starts at 08:00 (switched 08:00:00.02).
    # Its first sub-interval 08:00-08:05 counts whole: 3.45 kW x 5 min / 15 min = 1.15 kW at
    # 08:05, 3.45 x 10 / 15 = 2.30 kW at 08:10, 3.45 x 15 / 15 = 3.45 kW at 08:15.
    assert seen == pytest.approx([1.15, 2.30, 3.45], abs=1e-6)
    assert meter.tariff == 1
    bank = meter.register_bank()
    (ds,) = bank.read("1.6.1", ())
    # Maximum of T1 = 3.45 kW, stamped with the end of its interval: 2026-03-02 08:15.
    assert [v.value for v in ds.values] == ["3.4500", "2603020815"]
    # Total demand is not affected by the change (manual 1.2 item 4): 3.45 kW since 07:45.
    (ds,) = bank.read("1.6.0", ())
    assert ds.values[0].value == "3.4500"
    assert ds.values[1].value == "2603020745"


def test_block_tariff_demand_after_a_delayed_switch_is_whole() -> None:
    from meter.a1000.demand import DemandSettings

    meter, start = _meter_at_0730_rolling_15_5()
    demand = meter.component("demand")
    demand.configure(start, DemandSettings("block", 15, 5))
    meter.advance_to(start + 45 * MIN)  # 08:15
    # Block 08:00-08:15 is T1's first block: 3.45 kW x 15 min / 15 min = 3.45 kW (not 33 % low).
    assert demand.registers.last_average[1][0] == pytest.approx(3.45, abs=1e-6)
    m = demand.registers.maximum("import", 1)
    assert stamp_yymmddhhmm(m.meter_time) == "2603020815"
