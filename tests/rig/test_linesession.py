"""Reads and programming writes in one session, through the real line to simulated A1000s."""

from __future__ import annotations

import pytest
import yaml

from meter.a1000.meter import A1000
from meter.electrical import ElectricalInputs
from meter.iec62056_21.messages import Readout
from rig.hands import SimulatorHands
from rig.linesession import (
    ProgrammingSessions,
    in_order,
    not_in,
    read_by_readout,
    read_write_read,
    readout_part,
)
from rig.linetime import A1000_READOUT_CHARACTERS, SIGN_ON_S, readout_s
from rig.meterlink import MeterReadError, MeterSessions, clock_offsets, each
from rig.safety import StopRequest, StopRequested
from rig.sim import SimBench
from rig.sim.bench import expand_positions
from rig.timebase import VirtualTimebase
from tests.meter.a1000.helpers import T0, VirtualTime, ideal_config
from tests.rig.sim.conftest import SIM_BENCH
from tests.rig.test_meterlink import links_of, sign_ons


def test_reads_writes_and_reads_again_in_one_sign_on() -> None:
    with SimBench(SIM_BENCH, positions=1, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        (link,) = links_of(sim).values()
        hands = SimulatorHands(sim.control)
        hands.enter_programming([1])  # W1 needs the meter's programming state (manual 2.2.1)
        before = sign_ons(sim)
        # The weekend table read, written and read again (A1000 manual 1.4 item 5: up to 2
        # days): the readings are by address, the later read stands and shows the write.
        got = read_write_read(link, ["C.90.6"], [("C.90.6", ["67", "T2"])], ["C.90.6"])
        assert sign_ons(sim) - before == 1
        assert [v.value for v in got["C.90.6"].values] == ["67", "T2"]
        assert link.read("C.90.6")["C.90.6"].raw == got["C.90.6"].raw
        hands.leave_programming([1])


def test_a_write_the_meter_refuses_names_position_and_address() -> None:
    # Outside its programming state the meter refuses W1 (A1000 manual 2.2.1).
    with SimBench(SIM_BENCH, positions=1, sim_options={"meter_reaction_s": 0.0}) as sim:
        (link,) = links_of(sim).values()
        with pytest.raises(MeterReadError, match=r"position 1: (P1|W1 C\.90\.6)"):
            read_write_read(link, write=[("C.90.6", ["67", "T2"])])


# The A1000's readout carries the energy registers of manual Appendix A (1.8, 2.8, 5.8..8.8,
# total and tariffs); 3.8.0 (R+) and the tariff in force C.14.0 are not among them.
ENERGY = ["1-1:1.8.0", "1-1:3.8.0", "C.14.0", "1-1:5.8.2"]


def test_a_read_by_readout_takes_what_the_readout_carries_and_r1_the_rest() -> None:
    with SimBench(SIM_BENCH, positions=1, sim_options={"meter_reaction_s": 0.0}) as sim:
        (link,) = links_of(sim).values()
        carried = readout_part(link, ENERGY)
        assert list(carried) == ["1-1:1.8.0", "1-1:5.8.2"]
        assert not_in(carried, ENERGY) == ["1-1:3.8.0", "C.14.0"]
        before = sign_ons(sim)
        got = read_by_readout(link, ENERGY)
        # One readout and one R1 session for the two it does not carry.
        assert sign_ons(sim) - before == 2
        assert list(got) == ENERGY
        by_r1 = link.read(*ENERGY)
        assert {a: r.raw for a, r in got.items()} == {a: r.raw for a, r in by_r1.items()}


def test_a_read_by_readout_never_assumes_the_meters_list() -> None:
    # A meter configured to read out only its clock and A+ (the list is the meter's, not the
    # rig's): everything else of the read comes by R1, the values as R1 reads them.
    options = {"meter_reaction_s": 0.0,
               "meter": {"overrides": {"readout": ["0.9.1", "1-1:1.8.0"]}}}
    with SimBench(SIM_BENCH, positions=1, sim_options=options) as sim:
        (link,) = links_of(sim).values()
        assert list(readout_part(link, ENERGY)) == ["1-1:1.8.0"]
        got = read_by_readout(link, ENERGY)
        assert list(got) == ENERGY
        assert {a: r.raw for a, r in got.items()} == {
            a: r.raw for a, r in link.read(*ENERGY).items()}


def test_a_read_the_readout_carries_whole_needs_no_r1_session() -> None:
    with SimBench(SIM_BENCH, positions=1, sim_options={"meter_reaction_s": 0.0}) as sim:
        (link,) = links_of(sim).values()
        before = sign_ons(sim)
        got = read_by_readout(link, ["1-1:2.8.0", "1-1:8.8.4"])
        assert sign_ons(sim) - before == 1
        assert in_order(["1-1:8.8.4", "1-1:2.8.0"], got) == {
            "1-1:8.8.4": got["1-1:8.8.4"], "1-1:2.8.0": got["1-1:2.8.0"]}


def test_the_planned_readout_time_is_the_a1000_readouts_length_at_9600_bd(tmp_path) -> None:
    # The bundled A1000's readout list, encoded as it goes on the line (STX .. ETX BCC): the
    # plan's estimate (rig.linetime.readout_s) takes its length within 10 %.
    meter = A1000(ideal_config(), start_time=T0, state_dir=tmp_path)
    meter.set_inputs(T0, ElectricalInputs.balanced(57.7, 5.0, 0))
    message = Readout.of(meter.register_bank(VirtualTime(T0 + 86400)).readout()).encode()
    assert len(message) == pytest.approx(A1000_READOUT_CHARACTERS, rel=0.1)
    # 10 bits a character at 9600 Bd (standards.md 6.1, 6.2), after the sign-on.
    assert readout_s() == pytest.approx(SIGN_ON_S + A1000_READOUT_CHARACTERS * 10 / 9600)


def test_reads_join_the_session_of_the_clock_polls() -> None:
    # The procedures read a clock offset and, at the same moment, logs or settings: one sign-on
    # a meter for both (rig.meterlink.clock_offsets given the sessions), the same offsets.
    with SimBench(SIM_BENCH, positions=2, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        links = links_of(sim)
        timebase = VirtualTimebase(sim.control)
        before = sign_ons(sim)
        with MeterSessions(links) as sessions:
            offsets = clock_offsets(links, timebase, 0.1, sessions)
            settings = sessions.read("1-1:0.8.0", "C.50.0")
        assert sign_ons(sim) - before == 2
        assert set(settings) == {1, 2} and all(set(r) == {"1-1:0.8.0", "C.50.0"}
                                               for r in settings.values())
        again = clock_offsets(links, timebase, 0.1)
        for n in links:
            # Two readings of one clock a few seconds apart (+-0.5 s/day, manual 3.2.3).
            assert abs(again[n].offset_s - offsets[n].offset_s) <= (
                again[n].half_width_s + offsets[n].half_width_s)
        with MeterSessions({1: links[1]}) as one, pytest.raises(ValueError, match="positions"):
            clock_offsets(links, timebase, 0.1, one)


def _series(held: ProgrammingSessions, links, seasons: list[str]) -> list[dict[int, str]]:
    """The seasons table written and read back, once per entry of `seasons`, at every meter."""
    return [{n: r["C.90.5"].values[0].value for n, r in each(
        links, lambda link, s=s: held.step(link, write=[("C.90.5", [s])],
                                           then_read=["C.90.5"])).items()}
            for s in seasons]


def test_a_series_of_writes_and_reads_costs_one_sign_on_a_meter() -> None:
    with SimBench(SIM_BENCH, positions=2, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        links = links_of(sim)
        hands = SimulatorHands(sim.control)
        hands.enter_programming([1, 2])
        before = sign_ons(sim)
        with ProgrammingSessions(links) as held:
            got = _series(held, links, ["01-01=T1", "01-01=T2", "01-01=T3"])
        # Each setting read back in the same session (A1000 manual 1.4 item 6: fixed tariff).
        assert got == [dict.fromkeys((1, 2), f"01-01=T{k}") for k in (1, 2, 3)]
        assert sign_ons(sim) - before == 2
        hands.leave_programming([1, 2])


def test_a_step_that_fails_ends_its_session_and_the_next_signs_on_again() -> None:
    with SimBench(SIM_BENCH, positions=1, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        links = links_of(sim)
        hands = SimulatorHands(sim.control)
        hands.enter_programming([1])
        before = sign_ons(sim)
        with ProgrammingSessions(links) as held:
            _series(held, links, ["01-01=T1"])
            # The meter refuses a table it cannot hold (manual 1.4 item 6: MM-DD=P<n> or T<n>).
            with pytest.raises(MeterReadError, match=r"position 1: W1 C\.90\.5"):
                held.step(links[1], write=[("C.90.5", ["13-45=X9"])])
            assert _series(held, links, ["01-01=T4"]) == [{1: "01-01=T4"}]
        assert sign_ons(sim) - before == 2
        hands.leave_programming([1])


def test_meters_on_a_shared_bus_take_a_session_per_step() -> None:
    # Two meters addressed 1 and 2 on one line (rig.sim.bench.expand_positions numbers them).
    bench = yaml.safe_load(SIM_BENCH.read_text())
    bench["positions"][0]["address"] = "1"
    on_a_bus = {"bus": True, "meter_reaction_s": 0.0}
    with SimBench(bench=expand_positions(bench, 2), sim_options=on_a_bus) as sim:
        assert sim.control is not None
        links = links_of(sim, {1: "1", 2: "2"})
        hands = SimulatorHands(sim.control)
        hands.enter_programming([1, 2])
        before = sign_ons(sim)
        with ProgrammingSessions(links) as held:
            got = _series(held, links, ["01-01=T2", "01-01=T3"])
        assert got == [dict.fromkeys((1, 2), f"01-01=T{k}") for k in (2, 3)]
        assert sign_ons(sim) - before == 4  # two steps x two meters, one after the other
        hands.leave_programming([1, 2])


def test_after_a_stop_request_a_held_session_writes_nothing_more() -> None:
    stop = StopRequest()
    with SimBench(SIM_BENCH, positions=1, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        links = links_of(sim, stop=stop)
        hands = SimulatorHands(sim.control)
        hands.enter_programming([1])
        with ProgrammingSessions(links) as held:
            _series(held, links, ["01-01=T1"])
            stop.request("operator pressed Ctrl-C")
            with pytest.raises(StopRequested):
                held.step(links[1], write=[("C.90.5", ["01-01=T2"])])
        assert tuple(sim.world.position(1).meter.tou.encode_seasons()) == ("01-01=T1",)
