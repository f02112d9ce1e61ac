"""MeterLink, MeterSessions and clock_offsets against simulated meters on real ptys."""

from __future__ import annotations

import contextlib
import copy
import os
import re
import threading
import time
from collections.abc import Iterator

import pytest
import yaml

from meter.iec62056_21 import Client
from meter.iec62056_21.datasets import DataSet
from meter.iec62056_21.readings import Reading
from meter.iec62056_21.timing import Timing
from rig.meterlink import (
    SIMULATED_LINE_TIMING,
    MeterLink,
    MeterReadError,
    MeterSessions,
    Probe,
    _informative,
    clock_offsets,
    each,
    kept_errors,
    meter_seconds,
    vernier_period,
)
from rig.safety import StopRequest
from rig.sim import SimBench
from rig.timebase import VirtualTimebase
from tests.rig.sim.conftest import SIM_BENCH

FAST = Timing(reaction_min=0.0, reaction_min_fast=0.0)
MIDNIGHT = 1767225600.0  # 2026-01-01T00:00:00Z


def links_of(sim: SimBench, addresses: dict[int, str] | None = None,
             stop: StopRequest | None = None, timing: Timing = FAST) -> dict[int, MeterLink]:
    out = {}
    for n in sim.bench["positions"]:
        number = n["id"]
        url = sim.substitutions[f"sim:meter{number}"]
        address = (addresses or {}).get(number, "")

        def factory(url: str = url, address: str = address) -> Client:
            return Client(url, device_address=address, timing=timing)

        out[number] = MeterLink(number, factory, "00000000", url, stop=stop)
    return out


def sign_ons(sim: SimBench) -> int:
    assert sim.simulator is not None
    return sum(server.sessions for server in sim.simulator.meter_servers)


def test_clock_offsets_sign_on_once_per_meter_and_find_the_offset() -> None:
    with SimBench(SIM_BENCH, positions=3, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        links = links_of(sim)
        before = sign_ons(sim)
        offsets = clock_offsets(links, VirtualTimebase(sim.control), 0.05)
        # One session per meter for all of its polls (twenty or so each), not one per poll.
        assert sign_ons(sim) - before == 3
        for reading in offsets.values():
            # The simulated meters' clocks are set to true time (+1 ppm): 0 within the bracket
            # and half an exchange; the bracket is the resolution asked, from polls an
            # exchange apart (a poll: 13 + 16 characters at 9600 Bd and tr = 0.2 s twice).
            assert abs(reading.offset_s) <= reading.half_width_s
            assert reading.resolution_s <= 0.05
            assert reading.latch_s == pytest.approx((0.2 + 0.2 + 29 * 10 / 9600) / 2, abs=1e-4)
            # The meter latches its clock when it answers: 13 characters and tr after the send.
            assert reading.sent_offset_s - reading.resolution_s / 2 <= 0.2 + 13 * 10 / 9600
            assert reading.sent_offset_s + reading.resolution_s / 2 >= 0.2 + 13 * 10 / 9600


def test_clock_offsets_resolve_a_set_offset_through_the_line_timing() -> None:
    with SimBench(SIM_BENCH, positions=2, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        with sim.world.access():  # meter 2's clock 0.3137 s ahead of meter 1's
            clock = sim.world.position(2).meter.clock
            clock.set(sim.world.t, clock.meter_seconds(sim.world.t) + 0.3137)
        before = sign_ons(sim)
        offsets = clock_offsets(links_of(sim), VirtualTimebase(sim.control), 0.02)
        difference = offsets[2].sent_offset_s - offsets[1].sent_offset_s
        assert abs(difference - 0.3137) <= (offsets[1].resolution_s
                                            + offsets[2].resolution_s) / 2
        assert max(r.resolution_s for r in offsets.values()) <= 0.02
        # 0.02 s asked of an exchange of 0.4302 s: 50 instants 0.46 s apart (vernier_period).
        # Each meter is polled only where its bracket still holds its own roll-over (the two
        # 0.3137 s apart), a third of them or less, one session a meter for all its polls.
        assert all(2 <= r.probes <= 50 // 3 for r in offsets.values())
        assert sign_ons(sim) - before == 2


def test_clock_offsets_across_midnight_count_the_new_day() -> None:
    for before_midnight in (0.6, 12.0, 30.0):  # polls after, across, and before midnight
        options = {"meter_reaction_s": 0.0, "start_time": MIDNIGHT - before_midnight}
        with SimBench(SIM_BENCH, positions=1, sim_options=options) as sim:
            assert sim.control is not None
            (reading,) = clock_offsets(links_of(sim), VirtualTimebase(sim.control),
                                       0.05).values()
            # Without the day carried over, 00:00:00 on the old date is a day early.
            assert abs(reading.offset_s) <= reading.half_width_s


def test_clock_offsets_name_a_clock_that_does_not_run() -> None:
    with SimBench(SIM_BENCH, positions=1, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        with sim.world.access():  # from now on a clock at a tenth of its rate
            clock = sim.world.position(1).meter.clock
            clock.set(sim.world.t, clock.meter_seconds(sim.world.t))
            clock.drift_ppm = -900_000.0
        with pytest.raises(MeterReadError, match=r"position 1: .* clock polls over"):
            clock_offsets(links_of(sim), VirtualTimebase(sim.control), 0.05)


def test_sessions_stay_open_until_ended() -> None:
    with SimBench(SIM_BENCH, positions=2, sim_options={"meter_reaction_s": 0.0}) as sim:
        links = links_of(sim)
        before = sign_ons(sim)
        with MeterSessions(links) as sessions:
            for _ in range(3):
                assert set(sessions.read("0.9.1", "C.1.0")) == {1, 2}
            sessions.end([1])
            assert set(sessions.read("C.1.0")) == {2}
        assert sign_ons(sim) - before == 2


def test_meters_on_a_shared_bus_take_a_session_per_read() -> None:
    bench = yaml.safe_load(SIM_BENCH.read_text())
    first = bench["positions"][0]
    bench["positions"] = [dict(copy.deepcopy(first), id=k, link=f"sim:meter{k}",
                               address=f"10{k}") for k in (1, 2)]
    with SimBench(bench=bench, sim_options={"bus": True, "meter_reaction_s": 0.0}) as sim:
        links = links_of(sim, {1: "101", 2: "102"})
        before = sign_ons(sim)
        with MeterSessions(links) as sessions:
            numbers = {n: int(r["C.1.0"].value) for n, r in sessions.read("C.1.0").items()}
            sessions.read("C.1.0")
        assert numbers == {1: 1, 2: 2}  # each meter answered for itself
        assert sign_ons(sim) - before == 4  # two reads x two meters, one after the other


def test_after_a_stop_request_a_link_starts_no_exchange() -> None:
    from rig.safety import StopRequested

    opened = []

    def factory() -> Client:
        opened.append(1)
        raise AssertionError("no client may be opened after a stop request")

    stop = StopRequest()
    link = MeterLink(1, factory, "00000000", "port", stop=stop)
    stop.request("SIGINT received")
    for call in (link.readout, lambda: link.read("0.9.1"), lambda: link.write([("0.9.1", ["1"])])):
        with pytest.raises(StopRequested):
            call()
    assert opened == []


@contextlib.contextmanager
def silent_link(number: int, answer_timeout_s: float) -> Iterator[MeterLink]:
    """A link to a pty nobody answers on: a meter that is silent (unplugged head)."""
    master, slave = os.openpty()
    url = os.ttyname(slave)
    timing = Timing(reaction_min=0.0, reaction_min_fast=0.0, reaction_max=answer_timeout_s,
                    answer_slack=0.0)
    try:
        yield MeterLink(number, lambda: Client(url, timing=timing, repeats=0), "00000000", url)
    finally:
        os.close(slave)
        os.close(master)


def test_one_silent_meter_times_out_while_the_others_answer_in_one_thread() -> None:
    """The ports' work runs as tasks of the calling thread: a silent meter first in order
    waits out its time-out while the meters after it are read meanwhile, not after it.
    The served meters' wall waits are the rig's guards on the simulated bench (their times
    are virtual): a loaded machine must not time them out."""
    with SimBench(SIM_BENCH, positions=3, sim_options={"meter_reaction_s": 0.0}) as sim, \
            silent_link(0, 8.0) as silent, silent_link(0, 1.0) as quick:
        links = {0: silent, **links_of(sim, timing=SIMULATED_LINE_TIMING)}
        caller = threading.get_ident()
        seen: dict[int, tuple[int, float]] = {}

        def read(link: MeterLink) -> dict[str, Reading]:
            try:
                return link.read("C.1.0", "0.9.1")
            finally:
                seen[link.number] = (threading.get_ident(), time.monotonic())

        start = time.monotonic()
        got = each(links, kept_errors(read))
        assert list(got) == [0, 1, 2, 3]
        assert isinstance(got[0], MeterReadError)
        assert re.match(r"position 0: session: .*identification", str(got[0]))
        assert seen[0][1] - start >= 8.0  # its own time-out, in full
        for n in (1, 2, 3):  # each meter answered for itself (serial number = position)
            assert int(got[n]["C.1.0"].value) == n
            assert seen[n][1] < seen[0][1]
        assert {ident for ident, _ in seen.values()} == {caller}

        # Without kept_errors: every port finishes, then the first error in order is raised.
        seen.clear()
        links[0] = quick
        with pytest.raises(MeterReadError, match="position 0: session"):
            each(links, read)
        assert set(seen) == {0, 1, 2, 3}


def test_a_stop_request_ends_the_reads_of_every_port() -> None:
    from rig.safety import StopRequest, StopRequested

    stop = StopRequest()
    with SimBench(SIM_BENCH, positions=3, sim_options={"meter_reaction_s": 0.0}) as sim:
        links = links_of(sim, stop=stop, timing=SIMULATED_LINE_TIMING)
        before = sign_ons(sim)
        with MeterSessions(links) as sessions:
            assert set(sessions.read("0.9.1")) == {1, 2, 3}
            stop.request("operator stop")
            with pytest.raises(StopRequested):
                sessions.read("0.9.1")
        with pytest.raises(StopRequested):
            each(links, lambda link: link.read("0.9.1"))
        assert sign_ons(sim) - before == 3  # no exchange started after the request


def test_vernier_polls_fall_on_every_phase_of_the_second() -> None:
    # An exchange of 0.4302 s and 0.02 s asked: 50 polls 23/50 = 0.46 s apart (23 is the first
    # numerator >= 0.4302 x 50 = 21.5 coprime to 50; 22 is not).
    period, count = vernier_period(0.4302, 0.02)
    assert (period, count) == (0.46, 50)
    phases = sorted(round((j * 23) % 50) for j in range(count))
    assert phases == list(range(50))  # every multiple of 1/50 s within the second
    assert vernier_period(0.4302, 0.025) == (0.475, 40)  # 17.2 -> 18 shares 2 with 40: 19
    with pytest.raises(ValueError, match="resolution must be in"):
        vernier_period(0.43, 0.0)


def test_a_reading_that_must_be_a_number_names_the_position_address_and_text() -> None:
    # C.14.0 answers the tariff as a number (A1000 manual Appendix A); a text there is a fault
    # of the meter's answer, reported with what it read.
    link = MeterLink(7, lambda: Client("loop://"), "00000000", "port")
    readings = {"C.14.0": Reading.of(DataSet.of("C.14.0", "2")),
                "0.9.1": Reading.of(DataSet.of("0.9.1", "T2"))}
    assert link.numeric(readings, "C.14.0") == 2
    with pytest.raises(MeterReadError, match=r"^position 7: 0\.9\.1\(T2\) is not a number$"):
        link.numeric(readings, "0.9.1")


def test_meter_seconds_of_a_date_and_time_and_a_bad_text_each_time() -> None:
    # 2023-01-01 00:00:00 is 19358 days after 1970-01-01: 1672531200 s; %y 69..99 is 19xx.
    assert meter_seconds("230101", "000000") == 1672531200.0
    assert meter_seconds("230101", "000001") == 1672531201.0
    assert meter_seconds("700101", "000000") == 0.0
    for _ in range(2):  # cached answers, but a text that is no time raises every time
        with pytest.raises(ValueError):
            meter_seconds("230101", "250000")


def _probe(sent: float, shown: str) -> Probe:
    return Probe(sent, sent + 0.43, Reading.of(DataSet.of("0.9.1", shown)))


def test_a_poll_is_sent_only_where_the_roll_over_can_lie() -> None:
    # A meter clock 0.3 s ahead of the send instants (its latch included). On 2026-01-01 at
    # 00:01:40 (100 s into the day): a poll sent at 100.00 shows 00:01:40, so clock minus send
    # lies in [0, 1); one sent at 100.45 shows 00:01:40 too (100.75), so it lies in
    # [-0.45, 0.55). Together: [0, 0.55).
    date = _probe(99.0, "260101")
    date_seconds = meter_seconds("260101", "000000")
    polls = [_probe(date_seconds + 100.0, "000140"), _probe(date_seconds + 100.45, "000140")]

    def informative(sent: float, margin: float = 0.0) -> bool:
        return _informative(date, polls, date_seconds + sent, margin)

    # Sent at 100.90 the meter may show 100 or 101 (100.90 .. 101.45): it narrows the bracket.
    assert informative(100.90)
    # At 101.20 it shows 101 whatever the offset in [0, 0.55) (101.20 .. 101.75): not sent.
    assert not informative(101.20)
    # At 101.46 the roll-over to 102 may lie in it (101.46 .. 102.01).
    assert informative(101.46)
    # At 101.44 only with a margin for the send instant (101.44 .. 101.99, 0.02 on each side).
    assert not informative(101.44)
    assert informative(101.44, margin=0.02)
    # Before two polls nothing is bracketed to less than a second: every poll is sent.
    assert _informative(date, polls[:1], date_seconds + 101.20, 0.0)

