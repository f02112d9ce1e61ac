"""Doses with a tariff in force: what one dose leaves the next (rig.tariffs: the after-reading
as the next before-reading while no current flows between, the calendars written back)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

import pytest

from rig.instruments.loadpoint import LoadPoint
from rig.meterlink import MeterReadError
from rig.schedule import LoadLog
from rig.tariffs import (
    CALENDAR,
    TARIFF,
    TariffCarry,
    dose_in_tariff,
    tariff_in_force,
    write_back,
)

IDLE = LoadPoint.voltage_only(230.0)
LOAD = LoadPoint.balanced(230.0, 5.0, "1")
MEMORY_CALENDAR = {"C.90.5": ["01-01=P1"], "C.90.6": ["6", "P2"], "C.90.7": ["12-25"]}


@dataclass
class Meter:
    """A meter at one position: its 1.8.0 advances by 1 kWh per second with current on (the
    bench's `energised` load), its calendar is what was written last."""

    number: int
    bench: Bench
    port: str = ""
    register: Decimal = Decimal("100.00")
    calendar: dict[str, list[str]] = field(default_factory=lambda: dict(MEMORY_CALENDAR))
    reads: list[tuple[str, ...]] = field(default_factory=list)
    #: The seasons table (C.90.5) in force at each data readout.
    readouts: list[list[str]] = field(default_factory=list)
    writes: list[list[tuple[str, list[str]]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = f"port {self.number}"

    password = "P1 password"
    sessions: int = 0

    def read(self, *addresses: str) -> dict[str, SimpleNamespace]:
        with self.session() as client:
            return self.read_in(client, addresses)

    def read_in(self, client, addresses) -> dict[str, SimpleNamespace]:
        self.reads.append(tuple(addresses))
        out = {}
        for a in addresses:
            values = self.calendar[a] if a in self.calendar else [str(self.register)]
            out[a] = SimpleNamespace(values=[SimpleNamespace(value=v) for v in values],
                                     value=Decimal(values[0]) if a == "1-1:1.8.0" else None)
        return out

    def readout(self) -> dict[str, SimpleNamespace]:
        """The data readout: the clock and 1.8.0 (not the tariff in force, not the calendar)."""
        self.readouts.append(self.calendar["C.90.5"])
        register = SimpleNamespace(values=[SimpleNamespace(value=str(self.register))],
                                   value=self.register)
        return {"0.9.1": SimpleNamespace(values=[], value=None), "1-1:1.8.0": register}

    def write(self, writes) -> None:
        with self.session() as client:
            client.password(self.password)
            for address, values in writes:
                client.write(address, values)

    @contextmanager
    def session(self):
        """One session (rig.meterlink.MeterLink.session): its W1s need the P1 password."""
        self.sessions += 1
        meter = self

        class Client:
            unlocked = False

            def password(self, text: str) -> None:
                self.unlocked = text == meter.password

            def write(self, address: str, values) -> None:
                assert self.unlocked, "W1 without the P1 password"
                meter.store(address, list(values))

        yield Client()

    def store(self, address: str, values: list[str]) -> None:
        self.writes.append([(address, values)])
        self.calendar[address] = values


@dataclass
class Bench:
    """Energises loads on a virtual clock; the meters book current time as energy."""

    rig: Rig
    meters: list[Meter] = field(default_factory=list)
    now: float = 0.0
    point: LoadPoint = IDLE

    def energise(self, point: LoadPoint) -> None:
        self.point = point
        self.rig.loads.note(self.now, point)

    def dwell(self, seconds: float, label: str = "") -> None:
        if self.point.max_current > 0:
            for m in self.meters:
                m.register += Decimal(int(seconds))
        self.now += seconds

    @property
    def energy(self) -> SimpleNamespace:
        return SimpleNamespace(start=lambda: None, stop=lambda: None, energy=lambda: 1.0)

    @property
    def reference(self) -> SimpleNamespace:
        return SimpleNamespace(set_mode=lambda *a: None)


@dataclass
class Rig:
    loads: LoadLog = field(default_factory=LoadLog)
    tariff_carry: TariffCarry = field(default_factory=TariffCarry)
    programming_entries: int = 0

    @contextmanager
    def programming(self, *positions):
        self.programming_entries += 1
        yield


ENERGY = ("1-1:1.8.0",)


def _bench(positions: int = 2) -> tuple[Rig, Bench, dict[int, Meter]]:
    rig = Rig()
    bench = Bench(rig)
    links = {n: Meter(n, bench) for n in range(1, positions + 1)}
    bench.meters = list(links.values())
    return rig, bench, links


def _dose(rig: Rig, bench: Bench, links: dict[int, Meter], tariff: int, label: str):
    bench.energise(IDLE)  # each dose settles with the current off first, as the procedures do
    return dose_in_tariff(rig, bench, SimpleNamespace(now=lambda: bench.now, dwell=bench.dwell),
                          [], links, tariff, load=LOAD, idle=IDLE, seconds=10.0,
                          wiring="3P4W", quantity="active", read=ENERGY, label=label,
                          quiet_s=2.0)


def _register_reads(meter: Meter) -> int:
    return sum(1 for r in meter.reads if r == ("1-1:1.8.0",))


def test_a_dose_after_a_dose_takes_its_after_reading_as_the_before_reading() -> None:
    rig, bench, links = _bench()
    first = _dose(rig, bench, links, 1, "dose T1")
    second = _dose(rig, bench, links, 2, "dose T2")
    assert first.before_from == "" and second.before_from == "dose T1"
    assert second.before == first.after
    assert second.after[1]["1-1:1.8.0"] - second.before[1]["1-1:1.8.0"] == 10
    # Three register readings for two doses (not four), on each meter; the after-reading in
    # the session that writes the calendar back.
    assert [_register_reads(m) for m in links.values()] == [3, 3]
    # Sessions: the calendar read, the tariff written, the registers read, the registers read
    # and the calendar written back; then the tariff written, the read and the write back.
    assert [m.sessions for m in links.values()] == [6, 6]
    assert "at the end of dose T1" in second.before_when


def test_a_register_moving_between_two_doses_is_charged_to_the_second() -> None:
    # A meter that books 0.50 kWh when its calendar is written (no current): read before the
    # second dose's calendar write, the carried reading puts the move into that dose's advance,
    # where the limit (here: the 10 kWh dose) fails it; read after the write it would be unseen.
    rig, bench, links = _bench(1)
    _dose(rig, bench, links, 1, "dose T1")
    meter = links[1]
    plain_store = meter.store

    def booking_store(address: str, values: list[str]) -> None:
        if address == "C.90.5":  # the seasons table, once per calendar write
            meter.register += Decimal("0.50")
        plain_store(address, values)

    meter.store = booking_store  # type: ignore[method-assign]
    second = _dose(rig, bench, links, 2, "dose T2")
    assert second.after[1]["1-1:1.8.0"] - second.before[1]["1-1:1.8.0"] == Decimal("10.50")


@pytest.mark.parametrize("between", [LOAD, LoadPoint.balanced(230.0, 0.001, "1")])
def test_any_current_between_two_doses_makes_the_second_read_its_own_before(between) -> None:
    rig, bench, links = _bench()
    _dose(rig, bench, links, 1, "dose T1")
    bench.energise(between)
    bench.dwell(5.0)
    second = _dose(rig, bench, links, 2, "dose T2")
    assert second.before_from == ""
    assert [_register_reads(m) for m in links.values()] == [4, 4]


def test_the_source_off_between_two_doses_keeps_the_carried_reading() -> None:
    # Off or voltage only, a good meter books nothing (standards.md 1.4, no-load).
    rig, bench, links = _bench()
    _dose(rig, bench, links, 1, "dose T1")
    rig.loads.note(bench.now, None)
    assert _dose(rig, bench, links, 2, "dose T2").before_from == "dose T1"


def test_another_read_or_other_meters_read_their_own_before() -> None:
    rig, bench, links = _bench()
    _dose(rig, bench, links, 1, "dose T1")
    fewer = {1: links[1]}
    assert _dose(rig, bench, fewer, 2, "dose T2").before_from == ""
    second = dose_in_tariff(rig, bench, SimpleNamespace(now=lambda: bench.now,
                                                        dwell=bench.dwell),
                            [], fewer, 3, load=LOAD, idle=IDLE, seconds=1.0, wiring="3P4W",
                            quantity="active",
                            read=(TARIFF,), label="tariff read", quiet_s=1.0)
    assert second.before_from == ""


def test_a_failed_dose_leaves_nothing_to_carry() -> None:
    rig, bench, links = _bench()
    _dose(rig, bench, links, 1, "dose T1")

    def broken(*addresses: str):
        raise RuntimeError("no answer")

    links[2].read = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        # Another read: the before-reading is read, and fails at position 2.
        dose_in_tariff(rig, bench, SimpleNamespace(now=lambda: bench.now, dwell=bench.dwell),
                       [], links, 2, load=LOAD, idle=IDLE, seconds=1.0, wiring="3P4W",
                       quantity="active", read=(TARIFF,), label="broken", quiet_s=1.0)
    del links[2].read
    assert rig.tariff_carry.dose_reading is None
    assert _dose(rig, bench, links, 3, "dose T3").before_from == ""


def _calendar_writes(meter: Meter) -> list[str]:
    return [address for write in meter.writes for address, _ in write]


def test_a_series_of_tariff_tests_writes_each_meters_calendar_back_once_at_its_end() -> None:
    rig, _, links = _bench()
    for k in (1, 2):
        with tariff_in_force(rig, [], links, k):
            assert links[1].calendar["C.90.5"] == [f"01-01=T{k}"]
    # Tariff 2 stays in force after its test, until the series ends (rig.procedures.run).
    assert links[1].calendar["C.90.5"] == ["01-01=T2"]
    assert rig.programming_entries == 2
    write_back(rig)
    assert rig.tariff_carry.forced is None and rig.programming_entries == 3
    for meter in links.values():
        assert meter.calendar == MEMORY_CALENDAR  # each meter's own calendar written back
        # Read once; tariff 1's three tables, of tariff 2's the two that differ (the holidays
        # stay empty), the meter's own three back: 8 writes where a write back after each
        # test made 12.
        assert len([r for r in meter.reads if r == CALENDAR]) == 1
        assert _calendar_writes(meter) == [*CALENDAR, "C.90.5", "C.90.6", *CALENDAR]
    write_back(rig)  # nothing left to write back: no programming state entered
    assert rig.programming_entries == 3


def test_the_same_tariff_again_is_not_written_again() -> None:
    rig, _, links = _bench(1)
    for _ in range(3):
        with tariff_in_force(rig, [], links, 4):
            pass
    assert _calendar_writes(links[1]) == list(CALENDAR)
    assert rig.programming_entries == 1  # the meters are not put in programming for nothing


def test_a_tariff_test_after_other_programming_writes_every_table_of_its_tariff() -> None:
    # A programming state entered since the last tariff test (a demand setting, a clock)
    # may have written any table: the tariff's tables are all written again, and the meters'
    # own calendars, read before the series, are the ones written back.
    rig, _, links = _bench(1)
    with tariff_in_force(rig, [], links, 1):
        pass
    with rig.programming():
        links[1].write([("C.90.7", ["01-01"])])
    with tariff_in_force(rig, [], links, 1):
        assert links[1].calendar["C.90.7"] == [""]
    write_back(rig)
    assert _calendar_writes(links[1]) == [*CALENDAR, "C.90.7", *CALENDAR, *CALENDAR]
    assert links[1].calendar == MEMORY_CALENDAR


def test_the_calendars_are_read_again_after_any_other_programming() -> None:
    # Anything written to a meter goes through its programming state (A1000 manual 2.2.1):
    # a clock or table written after the calendars went back may have changed them too.
    rig, _, links = _bench()
    with tariff_in_force(rig, [], links, 1):
        pass
    write_back(rig)
    with rig.programming():
        links[1].write([("C.90.7", ["01-01"])])
    with tariff_in_force(rig, [], links, 2):
        pass
    write_back(rig)
    assert len([r for r in links[1].reads if r == CALENDAR]) == 2
    assert links[1].calendar["C.90.7"] == ["01-01"]  # the newer calendar is the one restored


def test_a_tariff_test_on_other_meters_has_the_first_meters_calendars_back_first() -> None:
    rig, _, links = _bench(2)
    with tariff_in_force(rig, [], links, 1):
        pass
    with tariff_in_force(rig, [], {2: links[2]}, 3):
        assert links[1].calendar == MEMORY_CALENDAR
        assert links[2].calendar["C.90.5"] == ["01-01=T3"]
    write_back(rig)
    assert links[2].calendar == MEMORY_CALENDAR


@pytest.mark.parametrize("where", ["block", "write"])
def test_a_tariff_test_that_fails_has_the_calendars_written_back_at_once(where: str) -> None:
    rig, _, links = _bench(2)
    with tariff_in_force(rig, [], links, 1):
        pass
    if where == "write":  # position 2 refuses the tariff's tables: position 1 took them
        plain_store = links[2].store

        def refusing(address: str, values: list[str]) -> None:
            if "T2" in values[-1]:
                raise MeterReadError("position 2: W1 C.90.5: NAK")
            plain_store(address, values)

        links[2].store = refusing  # type: ignore[method-assign]
    failure = "position 2: W1" if where == "write" else "the block failed"
    with pytest.raises((MeterReadError, RuntimeError), match=failure), \
            tariff_in_force(rig, [], links, 2):
        raise RuntimeError("the block failed")
    assert rig.tariff_carry.forced is None
    assert links[1].calendar == links[2].calendar == MEMORY_CALENDAR


def test_a_dose_by_readout_takes_the_registers_the_readout_carries_from_it() -> None:
    rig, bench, links = _bench(1)
    meter = links[1]
    bench.energise(IDLE)
    dose = dose_in_tariff(rig, bench, SimpleNamespace(now=lambda: bench.now, dwell=bench.dwell),
                          [], links, 2, load=LOAD, idle=IDLE, seconds=10.0, wiring="3P4W",
                          quantity="active", read=(TARIFF, "1-1:1.8.0"), label="dose T2",
                          quiet_s=2.0, by_readout=True)
    assert dose.after[1]["1-1:1.8.0"] - dose.before[1]["1-1:1.8.0"] == 10
    assert list(dose.before[1]) == list(dose.after[1]) == [TARIFF, "1-1:1.8.0"]
    # 1.8.0 from the two readouts, before and after the dose, the second still with tariff 2's
    # seasons in force (the calendar written back after it); only the tariff by R1.
    assert meter.readouts == [["01-01=T2"], ["01-01=T2"]]
    assert _register_reads(meter) == 0
    assert [r for r in meter.reads if r] == [CALENDAR, (TARIFF,), (TARIFF,)]


def test_a_readout_that_fails_at_one_meter_leaves_the_others_calendars_written_back() -> None:
    rig, bench, links = _bench(2)
    plain_readout = links[2].readout

    def readout_once():  # the before-reading's readout answers, the after-reading's does not
        if links[2].readouts:
            raise MeterReadError("position 2: readout: no answer")
        return plain_readout()

    links[2].readout = readout_once  # type: ignore[method-assign]
    bench.energise(IDLE)
    with pytest.raises(MeterReadError, match="position 2: readout"):
        dose_in_tariff(rig, bench, SimpleNamespace(now=lambda: bench.now, dwell=bench.dwell),
                       [], {1: links[1], 2: links[2]}, 3, load=LOAD, idle=IDLE, seconds=1.0,
                       wiring="3P4W", quantity="active", read=(TARIFF,), label="dose T3",
                       quiet_s=1.0, by_readout=True)
    # Position 1 read its registers; both got their own calendars back.
    assert len(links[1].readouts) == 2
    assert links[1].calendar == links[2].calendar == MEMORY_CALENDAR
    assert rig.tariff_carry.dose_reading is None


def test_a_dose_reading_fewer_registers_takes_them_from_a_reading_of_more() -> None:
    # The register map's after-reading holds every energy register: a dose after it that
    # reads some of them (no current between) takes those from it, in its own order.
    rig, bench, links = _bench()
    bench.energise(IDLE)
    first = dose_in_tariff(rig, bench, SimpleNamespace(now=lambda: bench.now,
                                                       dwell=bench.dwell),
                           [], links, 1, load=LOAD, idle=IDLE, seconds=10.0, wiring="3P4W",
                           quantity="active", read=(TARIFF, "1-1:1.8.0"), label="dose T1",
                           quiet_s=2.0)
    reads = len(links[1].reads)
    second = _dose(rig, bench, links, 2, "dose T2")
    assert second.before_from == "dose T1"
    assert second.before == {n: {"1-1:1.8.0": v["1-1:1.8.0"]} for n, v in first.after.items()}
    assert list(second.before[1]) == list(ENERGY)
    assert links[1].reads[reads:] == [ENERGY]  # the after-reading only
    # The other way round, a reading of fewer registers does not stand for one of more.
    assert _dose(rig, bench, links, 3, "dose T3").before_from == "dose T2"
    third = dose_in_tariff(rig, bench, SimpleNamespace(now=lambda: bench.now,
                                                       dwell=bench.dwell),
                           [], links, 4, load=LOAD, idle=IDLE, seconds=1.0, wiring="3P4W",
                           quantity="active", read=(TARIFF, "1-1:1.8.0"), label="dose T4",
                           quiet_s=1.0)
    assert third.before_from == ""
