"""Load profile (A1000 manual 1.6): 15-min entries, status flags, 128 KiB ring, P.01 readout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from meter.a1000 import load_profile
from meter.a1000.clock import MeterClock, meter_seconds_of
from meter.a1000.load_profile import (
    CAPACITY,
    CLOCK_SET,
    INTERVAL_S,
    POWER_DOWN,
    PROGRAMMING,
    RECORD,
    RESET,
    SHORT,
    STORAGE_BYTES,
    LoadProfile,
    LoadProfileComponent,
    LoadProfileError,
    _running,
    format_readout,
    parse_range,
)

T0 = meter_seconds_of(datetime(2026, 3, 1))
INTERVAL = float(INTERVAL_S)


@dataclass(frozen=True)
class Flow:
    import_: float = 0.0
    export: float = 0.0
    q1: float = 0.0
    q2: float = 0.0
    q3: float = 0.0
    q4: float = 0.0


class Rig:
    def __init__(self, start: float = T0, defects: frozenset[str] = frozenset()) -> None:
        self.clock = MeterClock(base_true=start, base_meter=start, drift_ppm=0.0)
        self.lp = LoadProfileComponent(self.clock, start, defects)
        self.now = start
        self.kw, self.kvar = 0.0, 0.0

    def run_to(self, t: float) -> None:
        while self.now < t:
            nxt = self.lp.next_event(self.now)
            stop = t if nxt is None else min(t, nxt)
            h = (stop - self.now) / 3600
            self.lp.accumulate(self.now, stop, Flow(import_=self.kw * h, q1=self.kvar * h))
            self.now = stop
            self.lp.on_event(self.now)

    def entries(self):
        return self.lp.profile.store.entries()


def test_layout_and_capacity() -> None:
    assert RECORD.size == 29
    assert CAPACITY == STORAGE_BYTES // 29 == 4519


def test_fifteen_minute_entries_with_energies() -> None:
    rig = Rig()
    rig.kw, rig.kvar = 4.0, 2.0
    rig.run_to(T0 + 3600)
    es = rig.entries()
    assert [e.meter_time - T0 for e in es] == [900, 1800, 2700, 3600]
    assert all(e.status == 0 for e in es)
    assert es[0].values == pytest.approx((1.0, 0.0, 0.5, 0.0, 0.0, 0.0))


def test_ring_wraps_at_exact_capacity() -> None:
    lp = LoadProfile(T0)
    for k in range(CAPACITY):
        lp.add([k * 1e-4, 0, 0, 0, 0, 0])
        lp.close()
    es = lp.store.entries()
    assert len(es) == CAPACITY
    assert es[0].meter_time == T0 + 900 and es[0].values[0] == 0.0
    lp.add([0.1234, 0, 0, 0, 0, 0])
    lp.close()
    es = lp.store.entries()
    assert len(es) == CAPACITY
    # The oldest entry (the first) was overwritten; the newest is last.
    assert es[0].meter_time == T0 + 2 * 900
    assert es[0].values[0] == pytest.approx(1e-4)
    assert es[-1].meter_time == T0 + (CAPACITY + 1) * 900
    assert es[-1].values[0] == pytest.approx(0.1234)


def test_power_down_across_intervals() -> None:
    rig = Rig()
    rig.kw = 4.0
    rig.run_to(T0 + 600)
    rig.lp.on_power(rig.now, False)
    assert rig.lp.next_event(rig.now) is None
    rig.now = T0 + 3000  # back at 00:50
    rig.lp.on_power(rig.now, True)
    rig.run_to(T0 + 3600)
    es = rig.entries()
    # 00:15 entry written with the 10 minutes before the outage; 00:30, 00:45 absent; 01:00 short.
    assert [e.meter_time - T0 for e in es] == [900, 3600]
    assert es[0].status == POWER_DOWN
    assert es[0].values[0] == pytest.approx(4.0 * 600 / 3600, abs=1e-4)
    assert es[1].status == POWER_DOWN | SHORT
    assert es[1].values[0] == pytest.approx(4.0 * 600 / 3600, abs=1e-4)


def test_power_down_within_one_interval() -> None:
    rig = Rig()
    rig.kw = 4.0
    rig.run_to(T0 + 120)
    rig.lp.on_power(rig.now, False)
    rig.now = T0 + 300
    rig.lp.on_power(rig.now, True)
    rig.run_to(T0 + 900)
    (e,) = rig.entries()
    assert e.status == POWER_DOWN
    assert e.values[0] == pytest.approx(4.0 * 720 / 3600, abs=1e-4)


def test_defect_entry_lost_at_power_down() -> None:
    rig = Rig(defects=frozenset({"load_profile_lost_at_power_down"}))
    rig.kw = 4.0
    rig.run_to(T0 + 600)
    rig.lp.on_power(rig.now, False)
    rig.now = T0 + 3000
    rig.lp.on_power(rig.now, True)
    rig.run_to(T0 + 3600)
    assert [e.meter_time - T0 for e in rig.entries()] == [3600]


def test_clock_set_flags() -> None:
    rig = Rig()
    rig.kw = 4.0
    rig.run_to(T0 + 100)
    rig.lp.on_clock_set(rig.now, T0 + 100, T0 + 130)  # same slot
    rig.run_to(T0 + 900)
    rig.run_to(T0 + 1000)
    rig.clock.set(rig.now, T0 + 2000)
    rig.lp.on_clock_set(rig.now, T0 + 1000, T0 + 2000)  # 00:16:40 -> 00:33:20
    rig.lp.mark_reset(rig.now)
    rig.run_to(rig.clock.true_time(T0 + 2700))
    es = rig.entries()
    assert [(e.meter_time - T0, e.status) for e in es] == [
        (900, CLOCK_SET), (1800, CLOCK_SET | SHORT), (2700, CLOCK_SET | SHORT | RESET)]


def test_clock_set_back_in_programming_mode_records_on_in_the_new_time() -> None:
    """The rig sets the clock in programming mode (recording stopped): after a setting a day
    back the pending entry is closed when recording resumes and the next ones follow the new
    clock's boundaries, instead of waiting a day for the old slot's end."""
    rig = Rig()
    rig.kw = 4.0
    rig.run_to(T0 + 600)
    rig.lp.on_programming(rig.now, True)
    back = T0 + 600 - 86400
    rig.clock.set(rig.now, back)
    rig.lp.on_clock_set(rig.now, T0 + 600, back)
    rig.lp.on_programming(rig.now, False)
    rig.run_to(rig.clock.true_time(T0 - 86400 + 2700))
    es = rig.entries()
    assert [(e.meter_time - T0, e.status) for e in es] == [
        # 600 s at 4 kW, written with its old stamp when recording resumes (module doc)
        (900, PROGRAMMING | CLOCK_SET),
        (900 - 86400, PROGRAMMING | SHORT),  # the rest of the new slot: 300 s
        (1800 - 86400, 0), (2700 - 86400, 0)]
    assert [e.values[0] for e in es] == pytest.approx([4.0 * 600 / 3600, 4.0 * 300 / 3600,
                                                       1.0, 1.0], abs=1e-4)


def test_readout_by_range_and_format() -> None:
    rig = Rig(start=T0 + 300)
    rig.kw = 2.0
    rig.run_to(T0 + 3600)
    sets = rig.lp.readout(("2603010015;2603010045",))
    # Entry 00:15 is SHORT (started 00:05) -> header; 00:30 new header (status changes to 0).
    assert sets[0] == ("P.01", (
        ("2603010015", None), ("04", None), ("15", None), ("6", None),
        ("1.29.0", None), ("kWh", None), ("2.29.0", None), ("kWh", None),
        ("5.29.0", None), ("kvarh", None), ("6.29.0", None), ("kvarh", None),
        ("7.29.0", None), ("kvarh", None), ("8.29.0", None), ("kvarh", None)))
    assert sets[1] == ("", (("0.3333", None),) + (("0.0000", None),) * 5)
    assert sets[2][0] == "P.01" and sets[2][1][0] == ("2603010030", None)
    assert sets[3][1][0] == ("0.5000", None)
    assert sets[4] == ("", (("0.5000", None),) + (("0.0000", None),) * 5)
    assert len(sets) == 5
    # Open bounds and season digit.
    assert len(rig.lp.readout(("02603010100;",))) == 2


def test_format_consecutive_zero_status_share_header() -> None:
    lp = LoadProfile(T0)
    for _ in range(3):
        lp.close()
    out = format_readout(lp.store.entries())
    assert [a for a, _ in out] == ["P.01", "", "", ""]


@pytest.mark.parametrize(("args", "msg"), [
    (("2603011;",), "expected YYMMDDhhmm"), (("2613010000;",), "not a valid"),
    (("2603020000;2603010000",), "before"), (("a;b;c",), "expected"),
])
def test_bad_ranges(args: tuple[str, ...], msg: str) -> None:
    with pytest.raises(LoadProfileError, match=msg):
        parse_range(args)


def test_empty_range_is_an_error() -> None:
    rig = Rig()
    with pytest.raises(LoadProfileError, match="no entries"):
        rig.lp.readout(("2603010000;2603010100",))


def test_snapshot_round_trip() -> None:
    rig = Rig()
    rig.kw = 1.0
    rig.run_to(T0 + 5000)
    d = rig.lp.snapshot()
    other = Rig(start=T0 + 99999)
    other.lp.restore(d)
    assert other.entries() == rig.entries()
    assert other.lp.next_event(rig.now) == T0 + 5400


# ---------------------------------------------------------------- through the protocol (pty)


def test_load_profile_over_pty_r5() -> None:
    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from meter.iec62056_21.client import Client
    from meter.iec62056_21.errors import MeterError
    from meter.iec62056_21.server import MeterServer
    from meter.iec62056_21.timing import Timing
    from tests.meter.a1000.helpers import T0 as T_HELP  # 2026-03-02 00:00
    from tests.meter.a1000.helpers import ideal_config

    fast = Timing(reaction_min=0.02)
    m = A1000(ideal_config(clock={"drift_ppm": 0.0}), start_time=T_HELP)
    m.set_inputs(T_HELP, ElectricalInputs.balanced(57.7, 5.0, 0.0))
    m.advance_to(T_HELP + 1800)
    m.set_inputs(T_HELP + 1800, ElectricalInputs.dead())  # power-down 00:30 .. 01:10
    m.set_inputs(T_HELP + 4200, ElectricalInputs.balanced(57.7, 5.0, 0.0))
    m.advance_to(T_HELP + 5400)
    memory = m.component("load_profile").readout(("2603020000", "2603020200"))
    bank = m.register_bank()
    with MeterServer(bank, transport="pty", lock=bank.lock, timing=fast) as server, \
            Client(server.url, timing=fast) as c:
        c.program()
        got = c.read("P.01", ("2603020000", "2603020200"), command="R5")
        with pytest.raises(MeterError, match="NO DATA"):
            c.read("P.01", ("2603030000", "2603030100"), command="R5")
    sets = [(r.address, tuple(v.value for v in r.dataset.values)) for r in got]
    assert sets == [(a, tuple(v for v, _ in vals)) for a, vals in memory]
    # 00:15 and 00:30 at 0.8655 kW (0.2164 kWh each); 00:45 the interval the power failed in
    # (POWER_DOWN, empty); 01:00 inside the outage: no entry; 01:15 power back at 01:10
    # (POWER_DOWN | SHORT, 5 min); 01:30 normal.
    headers = [(vals[0], vals[1]) for a, vals in sets if a == "P.01"]
    assert headers == [("2603020015", "00"), ("2603020045", "01"), ("2603020115", "05"),
                       ("2603020130", "00")]
    values = [float(vals[0]) for a, vals in sets if a == ""]
    # 0.216375 kWh per full interval; the 0.1 Wh rounding remainder is carried forward.
    assert values == pytest.approx([0.216375, 0.216375, 0.0, 0.072125, 0.216375], abs=1e-4)
    assert sum(values) == pytest.approx(0.216375 * 3 + 0.072125, abs=1e-4)


def test_lost_entry_defect_through_the_meter() -> None:
    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from tests.meter.a1000.helpers import T0 as T_HELP
    from tests.meter.a1000.helpers import ideal_config

    cfg = ideal_config(clock={"drift_ppm": 0.0})
    stamps = []
    for defects in ((), ("load_profile_lost_at_power_down",)):
        m = A1000(cfg, start_time=T_HELP, defects=defects)
        m.set_inputs(T_HELP, ElectricalInputs.balanced(57.7, 1.0, 0.0))
        m.set_inputs(T_HELP + 600, ElectricalInputs.dead())
        m.set_inputs(T_HELP + 3000, ElectricalInputs.balanced(57.7, 1.0, 0.0))
        m.advance_to(T_HELP + 3600)
        stamps.append([e.meter_time - T_HELP
                       for e in m.component("load_profile").profile.store.entries()])
    assert stamps == [[900, 3600], [3600]]
    with pytest.raises(LoadProfileError, match="fixed"):
        A1000(ideal_config(load_profile={"interval": 30}), start_time=T_HELP)


def test_entries_billing_and_events_survive_a_process_restart(tmp_path) -> None:
    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from tests.meter.a1000.helpers import T0 as T_HELP
    from tests.meter.a1000.helpers import ideal_config

    cfg = ideal_config(clock={"drift_ppm": 0.0})
    m = A1000(cfg, start_time=T_HELP, state_dir=tmp_path)
    m.set_inputs(T_HELP, ElectricalInputs.balanced(57.7, 1.0, 0.0))
    m.advance_to(T_HELP + 2000)
    m.press_reset_button(T_HELP + 2000)
    m.set_inputs(T_HELP + 2100, ElectricalInputs.dead())  # power-down save
    before = m.snapshot()["components"]
    again = A1000(cfg, start_time=T_HELP + 2200, state_dir=tmp_path)
    after = again.snapshot()["components"]
    assert after["load_profile"] == before["load_profile"]
    assert after["billing"] == before["billing"]
    assert after["events"] == before["events"]
    assert len(again.component("load_profile").profile.store.entries()) == 2
    assert again.component("billing").registers.by_source["button"] == 1


def test_entries_add_up_to_the_energy_registers() -> None:
    import random

    from meter.a1000.meter import A1000
    from meter.electrical import ElectricalInputs
    from tests.meter.a1000.helpers import T0 as T_HELP
    from tests.meter.a1000.helpers import ideal_config

    rnd = random.Random(7)
    m = A1000(ideal_config(), start_time=T_HELP)
    t = T_HELP
    for _ in range(60):
        phi = rnd.choice([0.0, 30.0, 150.0, 210.0, -60.0])
        m.set_inputs(t, ElectricalInputs.balanced(57.7, rnd.uniform(0.1, 6.0), phi))
        t += rnd.uniform(60.0, 2000.0)
    m.advance_to(t)
    boundary = m.clock.true_time(m.component("load_profile").profile.slot_end - 900)
    entries = m.component("load_profile").profile.store.entries()
    sums = [sum(e.values[k] for e in entries) for k in range(6)]
    names = ("import", "export", "q1", "q2", "q3", "q4")
    m2 = A1000(ideal_config(), start_time=T_HELP)  # registers at the last entry's end
    rnd = random.Random(7)
    t = T_HELP
    for _ in range(60):
        phi = rnd.choice([0.0, 30.0, 150.0, 210.0, -60.0])
        if t < boundary:
            m2.set_inputs(t, ElectricalInputs.balanced(57.7, rnd.uniform(0.1, 6.0), phi))
        else:
            rnd.uniform(0.1, 6.0)
        t += rnd.uniform(60.0, 2000.0)
    m2.advance_to(boundary)
    for k, q in enumerate(names):
        # Each entry is rounded to 0.1 Wh with the remainder carried: the sum stays within it.
        assert sums[k] == pytest.approx(m2.register(q), abs=1e-4), q


# Channel states (running total kWh, counts stored) a run can start from: nothing, a total
# counted to the last 0.1 Wh or not yet, at or beside half a count, a total below what is
# stored (1 count of total, 3 stored: entries count 0 until the total passes them), and one
# whose entry was clipped at the uint32 top (4.3e9 counts > 0xFFFFFFFF: the rest goes to the
# next entries).
_STATES = [(0.0, 0), (-0.0, 0), (3e-5, 0), (2.5e-4, 0), (2.5e-4, 1), (1.7e-4, 2),
           (-4.9e-5, 0), (430_000.0, 0), (1e-4, 3)]


def _runs() -> st.SearchStrategy[tuple[list[int], list[int], list[float], list[int], int]]:
    """A run for ``LoadProfile.close_run``: spans per entry (even or uneven), the channels with
    energy, their energies per hour, each channel's state (``_STATES``), and spans after the
    last end."""
    per_entry = st.one_of(
        st.tuples(st.integers(1, 4), st.integers(1, CAPACITY + 300)).map(lambda t: [t[0]] * t[1]),
        st.lists(st.integers(1, 4), min_size=1, max_size=60),
    )
    return st.tuples(
        per_entry,
        st.lists(st.integers(0, 5), max_size=3, unique=True),
        st.lists(st.floats(0.0, 5000.0), min_size=6, max_size=6),
        st.lists(st.integers(0, len(_STATES) - 1), min_size=6, max_size=6),
        st.integers(0, 2),
    )


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(_runs())
@example(([3] * (CAPACITY + 77), [0, 5], [1.04, 0, 0, 0, 0, 0.6], [2, 0, 3, 0, 0, 1], 1))
@example(([1, 2, 3] * (CAPACITY // 2), [2], [0.0, 0, 7.3, 0, 0, 0], [0] * 6, 0))
# Totals of exactly half a count (2.5 x 0.1 Wh, spans of no energy) round half to even, in
# three spans per entry and in two; an idle channel clipped at the top counts on.
@example(([3] * 4, [1], [0.0] * 6, [0, 3, 0, 0, 0, 0], 0))
@example(([2] * 4, [4], [0.0] * 6, [0, 0, 0, 0, 4, 0], 1))
@example(([3] * 3, [0], [2.0, 0, 0, 0, 0, 0], [0, 0, 7, 0, 0, 0], 0))
@example(([3] * 5, [0], [0.4, 0, 0, 0, 0, 0], [8, 0, 0, 0, 0, 0], 0))
def test_close_run_writes_what_close_by_close_writes(
    run: tuple[list[int], list[int], list[float], list[int], int],
) -> None:
    # close_run works out each channel's running totals and counts at once and writes the
    # kept entries at once; the event loop adds span by span and closes entry by entry. Same
    # bytes, totals, counts stored and slot: even and uneven spans per entry, runs shorter and
    # longer than the ring, idle channels with counts still due, and spans after the last end.
    per_entry, channels, kw, states, tail = run
    ends: list[float] = []
    t = T0
    for n in per_entry:
        ends += [t + INTERVAL * (k + 1) / n for k in range(n)]
        t += INTERVAL
    ends += [t + 60.0 * (k + 1) for k in range(tail)]
    energies = [(i, [kw[i] * (0.25 / 3) * (1 + 1e-9 * j) for j in range(len(ends))])
                for i in channels]
    fast, numpy_path, slow = LoadProfile(T0), LoadProfile(T0), LoadProfile(T0 - 7 * INTERVAL)
    for p in (fast, numpy_path, slow):
        p.store.append(1, 0, [9] * 6)  # something in the ring before the run, in both
        p.slot_end = T0 + INTERVAL
        p.status = RESET  # the entry in progress keeps its flag; the next ones have none
        p.total = [_STATES[k][0] for k in states]
        p.counted = [_STATES[k][1] for k in states]
    fast.close_run(np.array(ends), [(i, np.array(e)) for i, e in energies])
    with mock.patch.object(load_profile, "_SHORT_RUN", 0):  # short runs through numpy too
        numpy_path.close_run(np.array(ends), [(i, np.array(e)) for i, e in energies])
    for j, end in enumerate(ends):
        for i, e in energies:
            slow.total[i] += e[j]
        if end == slow.slot_end:
            slow.close()
    for p in (fast, numpy_path):
        assert p.store.buf == slow.store.buf
        assert (p.store.head, p.store.count) == (slow.store.head, slow.store.count)
        assert (p.slot_end, p.status) == (slow.slot_end, slow.status)
        assert p.total == slow.total
        assert p.counted == slow.counted


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.lists(st.floats(0.0, 1e4) | st.floats(0.0, 1e-6) | st.sampled_from([0.0, 1e-4]),
                min_size=1, max_size=400),
       st.floats(0.0, 1e6))
def test_running_totals_are_the_loops_sums(energy: list[float], start: float) -> None:
    # The fast path's cumulative sum must add as the loop does, one span after the other (a
    # pairwise sum, as np.sum does, would round differently).
    loop = []
    total = start
    for e in energy:
        total += e
        loop.append(total)
    assert _running(start, np.array(energy)).tolist() == loop


def test_an_entry_counts_what_the_running_total_adds() -> None:
    # Manual 1.6 leaves the rounding of an entry open; the model stores the difference of the
    # channel's running total rounded to 0.1 Wh (half to even). Hand computation, in 0.1 Wh:
    # entry 1 total 1.0 -> 1 count; entry 2 adds 1.5, total 2.5 -> round 2, count 2 - 1 = 1
    # (carrying the remainder instead would count round(0 + 1.5) = 2); entry 3 adds 0 -> 0;
    # entry 4 adds 1.0, total 3.5 -> round 4, count 4 - 2 = 2. Sum 4 = round(3.5) to even.
    p = LoadProfile(T0)
    for add in (1e-4, 1.5e-4, 0.0, 1e-4):
        p.add([add, 0, 0, 0, 0, 0])
        p.close()
    assert [round(e.values[0] / 1e-4) for e in p.store.entries()] == [1, 1, 0, 2]
    assert p.counted[0] == 4 and p.total[0] == pytest.approx(3.5e-4, abs=1e-18)


def test_a_snapshot_of_the_carried_remainder_booking_restores() -> None:
    # Snapshots written before the running totals hold "cur" (the entry in progress with the
    # remainder carried into it) and "carry" (empty between calls): the entry then counts
    # round(cur / 0.1 Wh), as it would have.
    p = LoadProfile(T0)
    p.add([2e-4, 0, 0, 0, 0, 0])
    p.close()
    old = {k: v for k, v in p.snapshot().items() if k not in ("total", "counted")}
    old |= {"cur": [0.37e-4, 0.0, 2.5e-4, 0.0, 0.0, 0.0], "carry": [0.0] * 6}
    q = LoadProfile(T0)
    q.restore(old)
    q.add([1.2e-4, 0, 0, 0, 0, 0])
    q.close()
    # 0.37 + 1.2 = 1.57 -> 2 counts; 2.5 -> 2 (half to even); then the new booking runs on.
    assert [round(v / 1e-4) for v in q.store.entries()[-1].values] == [2, 0, 2, 0, 0, 0]
    assert q.counted == [2, 0, 2, 0, 0, 0]
    assert [e.meter_time for e in q.store.entries()] == [T0 + INTERVAL, T0 + 2 * INTERVAL]
