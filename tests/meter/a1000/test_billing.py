"""Automatic meter reading and demand reset (A1000 manual 1.5, 3.2.2; standards.md 6.8)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from meter.a1000.billing import (
    BillingComponent,
    BillingConfigError,
    BillingSettings,
    next_reading_time,
    split_billing_suffix,
)
from meter.a1000.clock import MeterClock, meter_datetime, meter_seconds_of
from meter.a1000.demand import DemandComponent, DemandSettings

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00
H = 3600.0


@dataclass(frozen=True)
class Flow:
    import_: float
    export: float = 0.0
    q1: float = 0.0
    q2: float = 0.0
    q3: float = 0.0
    q4: float = 0.0
    apparent: float = 0.0
    tariff: int = 1


class Rig:
    """Demand + billing components on a constant import power; energy register kept here."""

    def __init__(self, settings: BillingSettings, start: float = T0,
                 defects: frozenset[str] = frozenset()) -> None:
        self.clock = MeterClock(base_true=start, base_meter=start, drift_ppm=0.0)
        self.demand = DemandComponent(self.clock, DemandSettings("block", 15, 5), start)
        self.energy = 0.0
        self.billing = BillingComponent(
            self.clock, settings, self.demand.registers,
            lambda: {"1.8.0": f"{self.energy:08.2f}", "1.8.1": f"{self.energy:08.2f}",
                     "2.8.0": "00000.00"},
            start, defects=defects, before_reset=self.demand.on_event,
        )
        self.comps = [self.demand, self.billing]
        self.now, self.kw = start, 0.0

    def run_to(self, t: float) -> None:
        while self.now < t:
            nxts = [n for c in self.comps if (n := c.next_event(self.now)) is not None]
            stop = min([t, *nxts])
            e = self.kw * (stop - self.now) / H
            self.energy += e
            for c in self.comps:
                c.accumulate(self.now, stop, Flow(import_=e))
            self.now = stop
            for c in self.comps:
                c.on_event(self.now)

    def power(self, up: bool) -> None:
        for c in self.comps:
            c.on_power(self.now, up)


def ms(*args: int) -> float:
    from datetime import datetime

    return meter_seconds_of(datetime(*args))


def test_settings_validation() -> None:
    for bad in (0, 29, 31):
        with pytest.raises(BillingConfigError, match=r"1\.\.28"):
            BillingSettings(day=bad)
    with pytest.raises(BillingConfigError, match="hour"):
        BillingSettings(day=1, hour=24)


def test_next_reading_time() -> None:
    s = BillingSettings(day=28, hour=23)
    assert meter_datetime(next_reading_time(s, ms(2026, 2, 28, 23))).isoformat() == \
        "2026-03-28T23:00:00"
    assert meter_datetime(next_reading_time(s, ms(2026, 12, 29))).isoformat() == \
        "2027-01-28T23:00:00"
    assert meter_datetime(next_reading_time(BillingSettings(1, 0), ms(2026, 5, 31, 23, 59))) \
        .isoformat() == "2026-06-01T00:00:00"


def test_nineteen_months_with_history_wrap() -> None:
    rig = Rig(BillingSettings(day=1, hour=0))
    kws = [2.0 + m for m in range(19)]
    for m, kw in enumerate(kws):
        rig.kw = kw
        y, mo = divmod(m + 1, 12)
        rig.run_to(ms(2026 + y, mo + 1, 1, 0, 0, 1))
    b = rig.billing.registers
    assert b.reset_count == 19
    assert b.vz == 19
    assert len(b.history) == 16
    # Oldest kept is reset 4 (2026-05-01), newest reset 19 (2027-08-01).
    assert [r.vz for r in b.history][:2] == [4, 5]
    assert meter_datetime(b.history[-1].meter_time).isoformat() == "2027-08-01T00:00:00"
    # *101 = previous month: demand of the last month (kws[18]) with its time stamp.
    v = b.historical_value("1.6.0", 101)
    assert v is not None
    assert v[0] == (f"{kws[18]:.4f}", "kW")
    # The first full 15-min block of the month at the new power ends 07-01 00:30.
    assert v[1] == ("2707010030", None)
    assert b.historical_value("1.6.0", 116)[0][0] == f"{kws[3]:.4f}"
    assert b.historical_value("1.6.0", 117) is None
    # By VZ: reset 5 holds April 2026's demand; reset 3 has been overwritten.
    assert b.historical_value("1.6.1", 5)[0][0] == f"{kws[4]:.4f}"
    assert b.historical_value("1.6.0", 3) is None
    # Energy registers frozen at the reading.
    e101 = float(b.record(101).energies["1.8.0"])
    assert e101 == pytest.approx(rig.energy - kws[18] * 1e-3 * 1 / 3.6, rel=0, abs=0.006)
    # Cumulative demand after 19 resets is the sum of the 19 maxima.
    assert b.historical_value("1.2.0", 101)[0][0] == f"{sum(kws):.4f}"
    assert b.historical_value("0.1.2", 101) == (("2708010000", None),)
    # Demand was reset: no maximum yet in the new month.
    assert rig.demand.registers.maximum("import").value == 0.0


def test_billing_hour_and_manual_resets_counted() -> None:
    rig = Rig(BillingSettings(day=15, hour=6))
    rig.kw = 4.0
    rig.run_to(ms(2026, 1, 10, 12, 7))
    rig.billing.demand_reset(rig.now, "button")
    rig.run_to(ms(2026, 1, 12, 8, 0))
    rig.billing.demand_reset(rig.now, "protocol")
    rig.run_to(ms(2026, 1, 15, 6, 0))
    b = rig.billing.registers
    assert b.by_source == {"auto": 1, "button": 1, "protocol": 1}
    assert [meter_datetime(r.meter_time).isoformat() for r in b.history] == [
        "2026-01-10T12:07:00", "2026-01-12T08:00:00", "2026-01-15T06:00:00"]
    assert [r.source for r in b.history] == ["button", "protocol", "auto"]
    with pytest.raises(ValueError, match="source"):
        b.close_period(0.0, "magic", {})


def test_reading_time_in_power_down_done_at_power_up() -> None:
    rig = Rig(BillingSettings(day=1, hour=0), start=ms(2026, 1, 31, 12))
    rig.kw = 1.0
    rig.run_to(ms(2026, 1, 31, 23, 0))
    rig.power(False)
    rig.now = ms(2026, 2, 1, 2, 30)
    rig.power(True)
    b = rig.billing.registers
    assert b.reset_count == 1
    assert meter_datetime(b.history[-1].meter_time).isoformat() == "2026-02-01T02:30:00"
    assert meter_datetime(rig.billing.next_reading_meter_s).isoformat() == "2026-03-01T00:00:00"


def test_defect_billing_skipped_in_power_down() -> None:
    rig = Rig(BillingSettings(day=1, hour=0), start=ms(2026, 1, 31, 12),
              defects=frozenset({"billing_skipped_in_power_down"}))
    rig.run_to(ms(2026, 1, 31, 23, 0))
    rig.power(False)
    rig.now = ms(2026, 2, 1, 2, 30)
    rig.power(True)
    assert rig.billing.registers.reset_count == 0


def test_clock_set_forward_over_reading_time() -> None:
    rig = Rig(BillingSettings(day=1, hour=0), start=ms(2026, 1, 31, 23, 50))
    old = rig.clock.set(rig.now, ms(2026, 2, 1, 0, 10))
    rig.billing.on_clock_set(rig.now, old, ms(2026, 2, 1, 0, 10))
    assert rig.billing.registers.reset_count == 1
    assert meter_datetime(rig.billing.next_reading_meter_s).isoformat() == "2026-03-01T00:00:00"


def test_snapshot_round_trip() -> None:
    rig = Rig(BillingSettings(day=1, hour=0))
    rig.kw = 3.0
    rig.run_to(ms(2026, 3, 2))
    d = rig.billing.snapshot()
    other = Rig(BillingSettings(day=9, hour=9))
    other.billing.restore(d)
    assert other.billing.snapshot() == d


def test_split_billing_suffix() -> None:
    assert split_billing_suffix("1-1:1.8.0*101") == ("1.8.0", 101)
    assert split_billing_suffix("0.1.2*07") == ("0.1.2", 7)
    assert split_billing_suffix("1.8.0") is None


# ---------------------------------------------------------------- through the protocol (pty)


def test_billing_history_over_pty() -> None:
    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from meter.iec62056_21.client import Client
    from meter.iec62056_21.server import MeterServer
    from meter.iec62056_21.timing import Timing
    from tests.meter.a1000.helpers import T0 as T_HELP  # 2026-03-02 00:00
    from tests.meter.a1000.helpers import fixed_tariff_tou, ideal_config

    fast = Timing(reaction_min=0.02)
    cfg = ideal_config(tou=fixed_tariff_tou(3), clock={"drift_ppm": 0.0})
    m = A1000(cfg, start_time=T_HELP)
    m.set_inputs(T_HELP, ElectricalInputs.balanced(57.7, 5.0, 0.0))
    m.advance_to(ms(2026, 4, 1, 0, 0, 30))  # reading on 04-01 00:00 (day 1, hour 0)
    m.press_reset_button(ms(2026, 4, 2, 12, 0))  # a demand reset by button
    b = m.component("billing").registers
    auto, button = b.record(102), b.record(101)
    bank = m.register_bank()
    with MeterServer(bank, transport="pty", lock=bank.lock, timing=fast) as server, \
            Client(server.url, timing=fast) as c:
        readout = {r.address: r for r in c.readout()}
        c.program()
        e102 = c.read("1-1:1.8.0*102")[0]
        e102_t3 = c.read("1.8.3*102")[0]
        d102 = c.read("1.6.0*102")[0]
        vz = c.read("0.1.0")[0]
        stamp_auto = c.read("0.1.2*01")[0]
        stamp_button = c.read("0.1.2*102")[0]
        source = c.read("C.51.2")[0]
    assert vz.raw == "02"
    assert auto.source == "auto" and button.source == "button"
    assert stamp_auto.raw == "2604010000" and stamp_button.raw == stamp_auto.raw
    assert e102.raw == auto.energies["1.8.0"]
    assert e102.unit == "kWh" and e102_t3.raw == e102.raw  # all energy in tariff 3
    # 3 x 57.7 V x 5 A = 0.8655 kW all month; first full block 03-02 00:15.
    assert [v.value for v in d102.dataset.values] == ["0.8655", "2603020015"]
    assert readout["1-1:1.8.0*101"].raw == button.energies["1.8.0"]
    assert readout["0.1.0"].raw == "02"
    assert source.raw == "1"


def test_billing_defect_and_configuration_through_the_meter() -> None:
    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from tests.meter.a1000.helpers import ideal_config

    cfg = ideal_config(clock={"drift_ppm": 0.0}, billing={"day": 15, "hour": 6})
    counts = []
    for defects in ((), ("billing_skipped_in_power_down",)):
        m = A1000(cfg, start_time=ms(2026, 3, 15, 5), defects=defects)
        m.set_inputs(m.now, ElectricalInputs.balanced(57.7, 1.0, 0.0))
        m.set_inputs(ms(2026, 3, 15, 5, 30), ElectricalInputs.dead())
        m.set_inputs(ms(2026, 3, 15, 7), ElectricalInputs.balanced(57.7, 1.0, 0.0))
        m.advance_to(ms(2026, 3, 16))
        counts.append(m.component("billing").registers.reset_count)
    assert counts == [1, 0]
    with pytest.raises(BillingConfigError, match=r"1\.\.28"):
        A1000(ideal_config(billing={"day": 30}), start_time=T0)


def _meter_with_registers(register_format: str = "99999.99", **config: object) -> object:
    """An ideal meter at Un with no current (registers stand still), billing on the 1st at
    00:00, whose import / export totals are set to exact values through a snapshot."""
    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from tests.meter.a1000.helpers import fixed_tariff_tou, ideal_config

    cfg = ideal_config(tou=fixed_tariff_tou(1), clock={"drift_ppm": 0.0},
                       register_format=register_format, **config)
    m = A1000(cfg, start_time=ms(2026, 3, 30))
    m.set_inputs(m.now, ElectricalInputs.balanced(57.7, 0.0, 0.0))
    return m


def _set_totals(m: object, import_kwh: str, export_kwh: str) -> None:
    snap = m.snapshot()
    snap["energy"]["import"] = [import_kwh, import_kwh, "0", "0", "0"]  # total, T1..T4
    snap["energy"]["export"] = [export_kwh, export_kwh, "0", "0", "0"]
    m.restore(snap)


@pytest.mark.parametrize(
    ("register_format", "import_kwh", "export_kwh", "shown_import", "shown_export"),
    [
        # 1.7299 kWh truncates to 00001.72 (manual 1.1 item 5; rounding would give 1.73);
        # 100003.35 kWh rolls over at 100000 to 00003.35.
        ("99999.99", "17299/10000", "10000335/100", "00001.72", "00003.35"),
        # 999999.9 format: 1234.56 -> 001234.5 (one decimal, truncated); 1000012.34 rolls over
        # at 1000000 to 000012.3.
        ("999999.9", "123456/100", "100001234/100", "001234.5", "000012.3"),
    ],
)
def test_history_holds_the_register_as_it_stood(
    register_format: str, import_kwh: str, export_kwh: str, shown_import: str,
    shown_export: str,
) -> None:
    m = _meter_with_registers(register_format)
    _set_totals(m, import_kwh, export_kwh)
    bank = m.register_bank()
    before = {a: bank.read(a, ())[0].values[0].value for a in ("1.8.0", "2.8.0", "1.8.1")}
    assert before == {"1.8.0": shown_import, "2.8.0": shown_export, "1.8.1": shown_import}
    m.advance_to(ms(2026, 4, 1, 0, 0, 1))  # the reading of 04-01 00:00
    after = {a: bank.read(f"{a}*101", ())[0].values[0].value for a in before}
    assert after == before


def test_monthly_reading_options() -> None:
    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from meter.iec62056_21.bank import RegisterError
    from tests.meter.a1000.helpers import fixed_tariff_tou, ideal_config

    results = {}
    for store, reset in ((True, True), (True, False), (False, True), (False, False)):
        cfg = ideal_config(tou=fixed_tariff_tou(1), clock={"drift_ppm": 0.0},
                           billing={"day": 1, "hour": 0, "store_energy": store,
                                    "reset_demand": reset})
        m = A1000(cfg, start_time=ms(2026, 3, 31, 23))
        # 3 x 57.7 V x 5 A = 0.8655 kW; 1 h to the reading = 0.8655 kWh (register 00000.86).
        m.set_inputs(m.now, ElectricalInputs.balanced(57.7, 5.0, 0.0))
        m.advance_to(ms(2026, 4, 1, 0, 0, 1))
        bank = m.register_bank()

        def r1(address: str, bank: object = bank) -> str:
            try:
                return bank.read(address, ())[0].values[0].value
            except RegisterError as e:
                return f"({e.text})"

        results[(store, reset)] = (r1("0.1.0"), r1("1.8.0*101"), r1("1.6.0*101"), r1("1.6.0"),
                                   r1("C.51.0"), r1("C.51.4"))
    # Both (the default): VZ 01, energy frozen, demand frozen (block 15: 0.8655 kW) and reset.
    assert results[(True, True)] == ("01", "00000.86", "0.8655", "0.0000", "1", "11")
    # Energy storing alone: a period closes (VZ 01), the maxima run on, no reset counted.
    assert results[(True, False)] == ("01", "00000.86", "(DEMAND NOT RESET)", "0.8655", "0",
                                      "10")
    # Demand reset alone: the period holds the maxima, no energies.
    assert results[(False, True)] == ("01", "(ENERGY NOT STORED)", "0.8655", "0.0000", "1", "01")
    # Neither: the reading time passes without effect; *101 is still the never-closed period.
    assert results[(False, False)] == ("00", "00000.00", "0.0000", "0.8655", "0", "00")


def test_reading_options_written_and_shown_as_display_030() -> None:
    m = _meter_with_registers()
    bank = m.register_bank()
    comp = m.component("billing")
    comp._put_options(m, ("10",))
    assert comp.registers.settings.options == "10"
    comp._put_reading_time(m, ("1506",))  # the options stay when the date changes
    assert (comp.registers.settings.day, comp.registers.settings.options) == (15, "10")
    with pytest.raises(Exception, match="2 digits"):
        comp._put_options(m, ("2",))
    from meter.a1000.display import DisplayItem, DisplayValues, Slot

    value = DisplayValues(m).value(Slot(0, DisplayItem.parse("RD:8:S"), None))
    # Manual display "Reading Date 030 Energy Demand": day 15 hour 06, only "Energy" on.
    assert value == ("15 06", "Energy")
    assert bank.read("C.51.4", ())[0].values[0].value == "10"


def test_new_meter_history_answers_zeros_in_readout_and_r1() -> None:
    from meter.a1000.meter import A1000
    from meter.iec62056_21.bank import RegisterError
    from tests.meter.a1000.helpers import T0 as T_HELP
    from tests.meter.a1000.helpers import ideal_config

    for fmt, zero in (("99999.99", "00000.00"), ("999999.9", "000000.0")):
        m = A1000(ideal_config(register_format=fmt), start_time=T_HELP)
        bank = m.register_bank()
        readout = {ds.address: [v.value for v in ds.values] for ds in bank.readout()}
        # Manual Appendix A lists the *101 codes; a new meter's previous month ended with every
        # register at its manufacture state: zero, demand 0.0000 never stamped.
        assert readout["1-1:1.8.0*101"] == [zero]
        assert readout["1-1:8.8.4*101"] == [zero]
        assert readout["1-1:1.6.0*101"] == ["0.0000", "0000000000"]
        for address, values in readout.items():
            if "*1" in address:
                assert [v.value for v in bank.read(address, ())[0].values] == values
        assert bank.read("0.1.2*101", ())[0].values[0].value == "0000000000"
        assert bank.read("1.8.0*116", ())[0].values[0].value == zero
        assert bank.read("0.1.1", ())[0].values[0].value == "0"  # no period really closed
        with pytest.raises(RegisterError, match="NO SUCH BILLING RECORD"):
            bank.read("0.1.2*05", ())  # reset VZ 05 never happened
