"""MeterLink, MeterSessions and clock_offsets against simulated meters on real ptys."""

from __future__ import annotations

import copy

import pytest
import yaml

from meter.iec62056_21 import Client
from meter.iec62056_21.timing import Timing
from rig.meterlink import MeterLink, MeterSessions, clock_offsets
from rig.sim import SimBench
from rig.timebase import VirtualTimebase
from tests.rig.sim.conftest import SIM_BENCH

FAST = Timing(reaction_min=0.0, reaction_min_fast=0.0)
MIDNIGHT = 1767225600.0  # 2026-01-01T00:00:00Z


def links_of(sim: SimBench, addresses: dict[int, str] | None = None) -> dict[int, MeterLink]:
    out = {}
    for n in sim.bench["positions"]:
        number = n["id"]
        url = sim.substitutions[f"sim:meter{number}"]
        address = (addresses or {}).get(number, "")

        def factory(url: str = url, address: str = address) -> Client:
            return Client(url, device_address=address, timing=FAST)

        out[number] = MeterLink(number, factory, "00000000", url)
    return out


def sign_ons(sim: SimBench) -> int:
    assert sim.simulator is not None
    return sum(server.sessions for server in sim.simulator.meter_servers)


def test_clock_offsets_sign_on_once_per_meter_and_find_the_offset() -> None:
    with SimBench(SIM_BENCH, positions=3, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        links = links_of(sim)
        before = sign_ons(sim)
        offsets = clock_offsets(links, VirtualTimebase(sim.control), step_s=0.05)
        # One session per meter for all of its polls (ten or so each), not one per poll.
        assert sign_ons(sim) - before == 3
        for reading in offsets.values():
            # The simulated meters' clocks are set to true time: 0 within the half step.
            assert abs(reading.offset_s) <= reading.half_width_s + 1e-5  # float steps at 1.7e9 s
            assert reading.half_width_s == pytest.approx(0.025)


def test_clock_offsets_across_midnight_count_the_new_day() -> None:
    options = {"meter_reaction_s": 0.0, "start_time": MIDNIGHT - 0.6}  # 23:59:59.4
    with SimBench(SIM_BENCH, positions=1, sim_options=options) as sim:
        assert sim.control is not None
        (reading,) = clock_offsets(links_of(sim), VirtualTimebase(sim.control), 0.05).values()
        # Without the day carried over, 00:00:00 on the old date is a day early.
        assert abs(reading.offset_s) <= 0.025 + 1e-5
        assert reading.true_time == pytest.approx(MIDNIGHT, abs=0.06)


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
    from rig.safety import StopRequest, StopRequested

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
