"""The generated mutants: enumerated from the model's structure, each one a real fault."""

from __future__ import annotations

import datetime as dt

import pytest

from meter.a1000.defects import DefectError, build_defects
from meter.a1000.meter import A1000
from meter.a1000.mutations import MutantError, mutants
from meter.a1000.registers import QUANTITIES, PulseOutput
from meter.a1000.tou import TouTables
from meter.electrical import ElectricalInputs, PhaseInput, Phasor
from tests.meter.a1000.helpers import T0, fixed_tariff_tou, ideal_config

U, I_N = 57.7, 0.5
HOUR = 3600.0


def _mutant(mutant_id: str, **cfg: object) -> tuple[A1000, A1000]:
    healthy = A1000(ideal_config(**cfg), start_time=T0)
    faulty = A1000(ideal_config(**cfg), start_time=T0,
                   defects=[{"name": "mutant", "id": mutant_id}])
    return healthy, faulty


def _one_element(k: int, current: float, phi: float) -> ElectricalInputs:
    """Balanced voltages, current on element k only (displacement phi)."""
    phases = []
    for j, base in enumerate((0.0, -120.0, 120.0)):
        i = current if j == k else 0.0
        phases.append(PhaseInput(Phasor(U, base), Phasor(i, base - phi)))
    return ElectricalInputs((phases[0], phases[1], phases[2]))


def _hour(*meters: A1000, inputs: ElectricalInputs, start: float = T0) -> None:
    for m in meters:
        m.set_inputs(start, inputs)
        m.advance_to(start + HOUR)


def test_the_mutants_follow_the_structure() -> None:
    """One per element and operator, per register (8 quantities x total + 4 tariffs) and
    operator, per output, tariff, quadrant, event (and phase of the per-phase ones), channel,
    calendar rule and history."""
    got = mutants(A1000(ideal_config(), start_time=T0))
    ids = [m.id for m in got]
    assert len(ids) == len(set(ids))
    fams: dict[str, int] = {}
    for m in got:
        fams[m.family] = fams.get(m.family, 0) + 1
    assert fams["element gain"] == fams["element phase"] == 3
    assert fams["register booking"] == fams["register rollover"] == len(QUANTITIES) * 5
    assert fams["pulse output constant"] == len(PulseOutput) == 6
    assert fams["tariff booking"] == fams["quadrant booking"] == 4
    assert fams["event counter"] == 14 and fams["event phase"] == 9
    assert fams["load-profile channel"] == 6 and fams["history depth"] == 2
    # A 3-wire meter has two measuring elements (Aron: L1 and L3).
    three_wire = mutants(A1000(ideal_config(wiring="3P3W"), start_time=T0))
    assert [m.id for m in three_wire if m.family == "element gain"] == [
        "element.L1.gain", "element.L3.gain"]


def test_every_mutant_builds_and_a_wrong_id_is_refused() -> None:
    for m in mutants(A1000(ideal_config(), start_time=T0)):
        A1000(ideal_config(), start_time=T0, defects=[{"name": "mutant", "id": m.id}])
    with pytest.raises(MutantError, match=r"'element\.L4\.gain' is not a mutant of this meter"):
        A1000(ideal_config(), start_time=T0, defects=[{"name": "mutant", "id": "element.L4.gain"}])
    with pytest.raises(DefectError, match="defect 1 \\(mutant\\): id: String should match"):
        build_defects([{"name": "mutant", "id": "no dots"}])


@pytest.mark.parametrize("k", [0, 1, 2])
def test_element_gain_and_phase_only_on_their_element(k: int) -> None:
    name = ("L1", "L2", "L3")[k]
    for other in range(3):
        healthy, gain = _mutant(f"element.{name}.gain")
        _, phase = _mutant(f"element.{name}.phase")
        _hour(healthy, gain, phase, inputs=_one_element(other, I_N, 60.0))
        e_gain = (gain.register("import") / healthy.register("import") - 1) * 100
        e_phase = (phase.register("import") / healthy.register("import") - 1) * 100
        if other == k:
            assert e_gain == pytest.approx(1.0, abs=1e-9)
            # PF 0.5L: P = UI cos(60 deg + 0.6 deg): -tan(60 deg) x 0.6 deg in rad = -1.81 %.
            assert e_phase == pytest.approx(-1.82, abs=0.01)
        else:
            assert e_gain == 0 and e_phase == 0


def test_register_booking_and_rollover() -> None:
    healthy, booking = _mutant("register.import-t0.booking")
    _, rollover = _mutant("register.import-t0.rollover")
    # 3 x 57.7 V x 100 A x 1 h at PF 1 = 17.31 kWh; run 300 h: 5 193 kWh, past 5 000 kWh.
    _hour(healthy, booking, rollover, inputs=ElectricalInputs.balanced(U, 100.0))
    assert booking.register("import") == booking.register("export") == 0.0
    t = healthy.tariff
    assert booking.register("import", t) == healthy.register("import", t) > 0  # tariff kept
    for m in (healthy, rollover):
        m.advance_to(T0 + 300 * HOUR)
    assert healthy.register("import") == pytest.approx(5193, abs=1)
    assert rollover.register("import") == pytest.approx(193, abs=1)


def test_output_constant_of_one_output() -> None:
    healthy, faulty = _mutant("output.active_export.constant")
    _hour(healthy, faulty, inputs=ElectricalInputs.balanced(U, I_N, 180.0))
    t1 = T0 + HOUR
    n_h = healthy.pulse_count(PulseOutput.ACTIVE_EXPORT, T0, t1)
    n_f = faulty.pulse_count(PulseOutput.ACTIVE_EXPORT, T0, t1)
    assert n_f == pytest.approx(n_h * 1.01, abs=1)
    assert faulty.pulse_count(PulseOutput.LED_ACTIVE, T0, t1) == healthy.pulse_count(
        PulseOutput.LED_ACTIVE, T0, t1)


@pytest.mark.parametrize("tariff", [1, 2, 3, 4])
def test_tariff_booking(tariff: int) -> None:
    healthy, faulty = _mutant(f"tariff.t{tariff}.booking", tou=fixed_tariff_tou(tariff))
    _hour(healthy, faulty, inputs=ElectricalInputs.balanced(U, I_N))
    booked = tariff % 4 + 1
    assert faulty.register("import", tariff) == 0
    assert faulty.register("import", booked) == healthy.register("import", tariff) > 0
    assert faulty.register("import") == healthy.register("import")


def test_quadrant_booking() -> None:
    healthy, faulty = _mutant("quadrant.q2.booking")
    _hour(healthy, faulty, inputs=ElectricalInputs.balanced(U, I_N, 120.0))  # Q2
    assert faulty.register("q2") == 0
    assert faulty.register("q3") == healthy.register("q2") > 0


def _voltage_loss(m: A1000, phase: int) -> None:
    """Phase `phase` voltage at 50 % Un with its current on, for 2 min (past the 60 s timer)."""
    phases = []
    for j, base in enumerate((0.0, -120.0, 120.0)):
        u = U * (0.5 if j == phase else 1.0)
        phases.append(PhaseInput(Phasor(u, base), Phasor(I_N, base)))
    m.set_inputs(T0, ElectricalInputs((phases[0], phases[1], phases[2])))
    m.advance_to(T0 + 120)


def test_event_counter_and_phase() -> None:
    healthy, counter = _mutant("event.voltage_loss_B.counter")
    _, phase = _mutant("event.voltage_loss_B.phase")
    for m in (healthy, counter, phase):
        _voltage_loss(m, 1)
    logs = {id(m): m.component("events").monitor.logs for m in (healthy, counter, phase)}
    assert logs[id(healthy)]["voltage_loss_B"].count == 1
    assert logs[id(counter)]["voltage_loss_B"].count == 0
    assert len(logs[id(counter)]["voltage_loss_B"].occurrences) == 1
    assert logs[id(phase)]["voltage_loss_B"].count == 0
    assert logs[id(phase)]["voltage_loss_C"].count == 1


def test_load_profile_channel_lost() -> None:
    healthy, faulty = _mutant("channel.export.lost")
    _hour(healthy, faulty, inputs=ElectricalInputs.balanced(U, I_N, 180.0))
    h = healthy.component("load_profile").profile.store.entries()
    f = faulty.component("load_profile").profile.store.entries()
    assert len(h) == len(f) == 4
    assert all(e.values[1] > 0 for e in h[1:]) and all(e.values[1] == 0 for e in f)
    assert [e.values[0] for e in h] == [e.values[0] for e in f]


CALENDAR = {
    "daily_profiles": {1: [{"start": "06:00", "tariff": 1}, {"start": "22:00", "tariff": 2}],
                       2: [{"start": "00:00", "tariff": 3}]},
    "seasons": [{"start": "03-02", "profile": 1}, {"start": "10-01", "tariff": 4}],
    "weekend": {"days": [6, 7], "profile": 2},
    "holidays": [{"date": "2026-03-07", "tariff": 1}, {"date": "2026-03-04", "tariff": 2}],
}


@pytest.mark.parametrize(("rule", "day", "hour", "right", "wrong"), [
    ("holidays", "2026-03-04", 12, 2, 1),  # a Wednesday holiday: tariff 2, else profile 1
    ("holiday-priority", "2026-03-07", 12, 1, 3),  # a Saturday holiday: tariff 1, not weekend
    ("weekend", "2026-03-08", 12, 3, 1),  # a Sunday: profile 2
    ("season-start", "2026-03-02", 12, 1, 4),  # Monday 2 March is season 1's first day
    ("year-end", "2026-01-05", 12, 4, 1),  # before 2 March: the last season (from 1 October)
    ("wrap-around", "2026-03-03", 3, 2, 1),  # 03:00: the 22:00 section wraps over midnight
])
def test_calendar_rules(rule: str, day: str, hour: int, right: int, wrong: int) -> None:
    tables = TouTables.from_obj(CALENDAR)
    healthy, faulty = _mutant(f"calendar.{rule}")
    d = dt.datetime.fromisoformat(day).replace(hour=hour)
    meter_s = (d - dt.datetime(1970, 1, 1)).total_seconds()
    for m in (healthy, faulty):
        m.set_tou(T0, tables)
    assert healthy.tou.tariff_at(meter_s) == right
    assert faulty.tou.tariff_at(meter_s) == wrong
    assert faulty.tou.to_obj() == healthy.tou.to_obj()  # read back as programmed


def test_history_depths() -> None:
    _, faulty = _mutant("history.billing.depth")
    assert faulty.component("billing").registers.history.maxlen == 15
    faulty.restore(faulty.snapshot())  # a power-up from the state file keeps the fault
    assert faulty.component("billing").registers.history.maxlen == 15
    _, events = _mutant("history.events.depth")
    assert {log.occurrences.maxlen for log in events.component("events").monitor.logs.values()
            } == {9}
