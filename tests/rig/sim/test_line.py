"""Line timing of the simulated meter links in virtual time, through real ptys and the rig's
IEC 62056-21 client (rig/sim/line.py)."""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from meter.iec62056_21 import Client, ProtocolTimeout
from meter.iec62056_21.messages import Message, OptionSelect
from meter.iec62056_21.timing import Timing
from rig.meterlink import SIMULATED_LINE_TIMING
from rig.sim import SimBench
from rig.sim.bench import SimBenchError
from rig.sim.line import LineClock, LineSettings
from tests.rig.sim.conftest import SIM_BENCH
from tests.rig.sim.test_world import T0, make_world

TR = 0.2  # benches/sim.yaml sim.line.reaction_s
# Characters on the wire (standards.md 6.3), 10 bits each (7E1):
REQUEST = len("/?!\r\n")  # at 300 Bd
IDENT = len("/BSE5A1000\r\n")  # at 300 Bd (manufacturer BSE, baud character 5)
OPTION = len("\x06051\r\n")  # ACK 0 5 1 CR LF at 300 Bd
P0 = len("\x01P0\x02()\x03") + 1  # with its BCC, at 9600 Bd
R1_CLOCK = len("\x01R1\x020.9.1()\x03") + 1
ANSWER_CLOCK = len("\x020.9.1(000000)\x03") + 1


def test_a_sign_on_and_an_r1_take_their_time_on_the_wire() -> None:
    with SimBench(SIM_BENCH, positions=1) as sim:
        assert sim.control is not None
        t0 = sim.control.time()
        with Client(sim.substitutions["sim:meter1"], timing=SIMULATED_LINE_TIMING) as client:
            client.program()
            t1 = sim.control.time()
            client.read("0.9.1")
            t2 = sim.control.time()
    # Hand arithmetic: (5 + 12 + 6) characters at 300 Bd = 0.7667 s, 8 at 9600 Bd = 8.3 ms,
    # tr before the identification, the option select, P0 and the rig's next message: 0.8 s.
    sign_on = (REQUEST + IDENT + OPTION) * 10 / 300 + P0 * 10 / 9600 + 4 * TR
    assert t1 - t0 == pytest.approx(sign_on, abs=1e-4)
    assert sign_on == pytest.approx(1.575, abs=1e-3)
    # One R1 of the clock: 13 + 16 characters at 9600 Bd and tr twice = 0.4302 s.
    assert t2 - t1 == pytest.approx((R1_CLOCK + ANSWER_CLOCK) * 10 / 9600 + 2 * TR, abs=1e-4)


def test_lines_of_different_positions_take_their_time_side_by_side() -> None:
    with SimBench(SIM_BENCH, positions=3) as sim:
        assert sim.control is not None
        urls = [sim.substitutions[f"sim:meter{k}"] for k in (1, 2, 3)]

        def sign_on(url: str) -> None:
            with Client(url, timing=SIMULATED_LINE_TIMING) as client:
                client.program()
                client.read("0.9.1")

        t0 = sim.control.time()
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(sign_on, urls))
        parallel = sim.control.time() - t0
        sim.control.advance(1.0)  # the line's own break and tr are over
        t0 = sim.control.time()
        sign_on(urls[0])
        one = sim.control.time() - t0
    # Three heads at once take the time of one: a sign-on and an R1 (the rig does not wait for
    # its break).
    assert parallel == pytest.approx(one, abs=1e-4)
    assert one == pytest.approx(1.575 + 0.4302, abs=1e-3)


def test_the_meter_answers_at_the_end_of_its_reaction_time() -> None:
    with SimBench(SIM_BENCH, positions=1) as sim:
        assert sim.control is not None
        with Client(sim.substitutions["sim:meter1"], timing=SIMULATED_LINE_TIMING) as client:
            client.program()
            sent = sim.control.time()
            shown = client.read("0.9.1")[0].raw
        with sim.world.access():
            clock = sim.world.position(1).meter.clock
            latched = clock.meter_seconds(sent + R1_CLOCK * 10 / 9600 + TR)
    # The meter's time when it starts answering (not when the rig sent, nor when it read).
    assert shown == f"{int(latched) // 3600 % 24:02d}{int(latched) // 60 % 60:02d}" \
                    f"{int(latched) % 60:02d}"


def test_a_line_turned_off_takes_no_virtual_time() -> None:
    with SimBench(SIM_BENCH, positions=1, sim_options={"line": {"enabled": False}}) as sim:
        assert sim.control is not None
        t0 = sim.control.time()
        with Client(sim.substitutions["sim:meter1"], timing=SIMULATED_LINE_TIMING) as client:
            client.program()
            client.read("0.9.1")
        assert sim.control.time() == t0


def test_inter_character_time_is_charged_between_characters() -> None:
    settings = LineSettings(reaction_s=0.2, inter_character_s=0.01)
    # 13 characters at 9600 Bd and 12 gaps of 10 ms.
    assert settings.duration(13, 9600) == pytest.approx(13 * 10 / 9600 + 0.12)
    assert settings.duration(0, 9600) == 0.0


@pytest.mark.parametrize(("line", "says"), [
    ({"reaction_s": -0.1}, "sim.line.reaction_s: must be a finite number >= 0"),
    ({"reaction_s": 2.0}, "exceeds the 1.5 s maximum of tr"),
    ({"reaction_s": "fast"}, "sim.line.reaction_s: expected seconds"),
    ({"inter_character_s": 1.5}, "is not below the 1.5 s of ta"),
    ({"enabled": "yes"}, "sim.line.enabled: expected true or false"),
    ({"baud": 9600}, r"sim.line: unknown key\(s\) \['baud'\]"),
    ([0.2], "sim.line: expected a mapping"),
])
def test_bad_line_settings_are_named(line: object, says: str) -> None:
    with pytest.raises(SimBenchError, match=says), \
            SimBench(SIM_BENCH, positions=1, sim_options={"line": line}):
        pass


def test_two_clocks_of_one_world_do_not_push_each_other() -> None:
    world = make_world([0.0])
    a = LineClock(world, LineSettings())
    b = LineClock(world, LineSettings())
    with world.access():  # the rig got to T0 (an instrument command, a dwell)
        pass
    # (Differences from T0: pytest.approx's relative tolerance on ~1.8e9 s would be ~30 min.)
    # Both lines carry a 13-character request at 9600 Bd from T0: answers at T0 + 0.2135 s.
    a.received(13, 9600, True)
    b.received(13, 9600, True)
    assert world.t - T0 == pytest.approx(13 / 960 + 0.2)
    a.sent(16, 9600)
    b.sent(16, 9600)
    # The world is not moved by the answers; the rig's next access waits for them and tr.
    assert world.t - T0 == pytest.approx(13 / 960 + 0.2)
    world.advance(1.0)  # a dwell of 1 s counts from there
    assert world.t - T0 == pytest.approx(29 / 960 + 0.4 + 1.0)
    # A break is not waited for: the line is busy, the world is not moved. It went out when
    # the rig had the answer (and its tr), however late this line's thread takes it up.
    a.received(5, 9600, False)
    assert world.t - T0 == pytest.approx(29 / 960 + 1.4)
    assert a.free_at - T0 == pytest.approx(29 / 960 + 0.4 + 5 / 960 + 0.2)


def _session_then_dwell(break_before_dwell: bool) -> tuple[float, float]:
    """A sign-on request and its answer, then the break and a 180 s dwell in the order given;
    then the next sign-on request. Its answer instant and the world's time after it."""
    world = make_world([0.0])
    line = LineClock(world, LineSettings())
    with world.access():
        pass
    line.received(5, 300, True)  # /?! CR LF
    line.sent(12, 300)  # the identification
    if break_before_dwell:
        line.received(5, 9600, False)
        world.advance(180.0)
    else:  # the rig's dwell reaches the world before this line's thread takes the break up
        world.advance(180.0)
        line.received(5, 9600, False)
    line.received(5, 300, True)
    return line.free_at, world.t


def test_a_break_is_dated_the_same_however_late_its_line_takes_it_up() -> None:
    # Two runs of one plan differed by this: the break dated by the rig's next command (a
    # dwell) when the line's thread ran after it, so the next sign-on started later.
    early, late = _session_then_dwell(True), _session_then_dwell(False)
    assert early == late
    # Hand arithmetic: request 5 + identification 12 characters at 300 Bd with tr twice,
    # then the 180 s dwell; the next request (5 at 300 Bd) and tr from there.
    first = 17 * 10 / 300 + 2 * 0.2
    assert early[0] - T0 == pytest.approx(first + 180.0 + 5 * 10 / 300 + 0.2)


def test_a_meter_answers_at_its_own_line_instant_when_another_line_is_ahead() -> None:
    """Two heads driven in parallel: line a's thread has sent its next message before line b's
    thread takes up its first one. Meter b still answers at its own instant, not at the time
    line a has moved the world to (which depends on which thread ran first)."""
    world = make_world([0.0, 0.0])
    a = LineClock(world, LineSettings())
    b = LineClock(world, LineSettings())
    with world.access():
        pass
    a.received(13, 9600, True)
    a.sent(16, 9600)
    a.received(13, 9600, True)  # a's second R1: the world is at its answer
    b.received(13, 9600, True)  # b's first R1, from the same instant as a's first
    assert world.t - T0 == pytest.approx(13 / 960 + 0.2 + 16 / 960 + 0.2 + 13 / 960 + 0.2)
    assert a.answer_time() == world.t
    assert b.answer_time() - T0 == pytest.approx(13 / 960 + 0.2)
    assert LineClock(world, LineSettings()).answer_time() == world.t  # nothing received yet


def test_parallel_meters_answer_their_clocks_at_their_own_line_instants() -> None:
    """Through the real stack: meter 2's clock read, after meter 1's line has gone 30 R1s
    ahead, shows the time of meter 2's own answer instant."""
    with SimBench(SIM_BENCH, positions=2) as sim:
        assert sim.control is not None
        one, two = (Client(sim.substitutions[f"sim:meter{k}"], timing=SIMULATED_LINE_TIMING)
                    for k in (1, 2))
        with one, two:
            one.program()
            two.program()
            start = sim.control.time()  # both lines are free from here
            for _ in range(30):  # about 13 s of line 1's time
                one.read("0.9.1")
            shown = two.read("0.9.1")[0].raw
        with sim.world.access():
            latched = sim.world.position(2).meter.clock.meter_seconds(
                start + R1_CLOCK * 10 / 9600 + TR)
    assert shown == f"{int(latched) // 3600 % 24:02d}{int(latched) // 60 % 60:02d}" \
                    f"{int(latched) % 60:02d}"


# ---- protocol times in virtual time (meter/iec62056_21/server.py `clock`) ------------------

def _protocol_events(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the meter and client ends logged of time-outs, NAKs, repeats and dropped answers,
    without the port (each SimBench has its own)."""
    return [re.sub(r"/dev/pts/\d+|127\.0\.0\.1:\d+", "PORT", r.getMessage())
            for r in caplog.records if r.name.startswith("meter.iec62056_21")
            and "refused 7E1" not in r.getMessage()]


class _SlowClient(Client):
    """The rig's client, slow for `stall_s` of wall time before it sends an option select
    (its thread descheduled on a loaded machine): the meter waits for it meanwhile."""

    stall_s = 0.0

    def _send(self, message: Message) -> None:
        if isinstance(message, OptionSelect):
            time.sleep(self.stall_s)
        super()._send(message)


def _reads_with_a_slow_moment(where: str, timing: Timing,
                              caplog: pytest.LogCaptureFixture, stall_s: float = 2.5) -> tuple:
    """A readout, then a programming session with three R1s, the machine slow for `stall_s`
    of wall time at one moment (`where`): "meter", the meter's handler of the first R1 (load,
    a database commit in the same process), or "rig", the rig's client before each option
    select. What was read, the virtual time it took, the server's counters and the protocol
    events of both ends."""
    caplog.clear()
    calls = 0
    with SimBench(SIM_BENCH, positions=1) as sim:
        assert sim.control is not None and sim.simulator is not None
        simulator = sim.simulator
        plain = simulator._call_in_world

        def handler(fn):  # the world's request handler, slow once
            nonlocal calls
            calls += 1
            if where == "meter" and calls == 4:  # ident, readout, ident, (P0: none), R1
                time.sleep(stall_s)
            return plain(fn)

        (server,) = simulator.meter_servers
        server._call_in_owner = handler
        url = sim.substitutions["sim:meter1"]
        _SlowClient.stall_s = stall_s if where == "rig" else 0.0
        t0 = sim.control.time()
        with _SlowClient(url, timing=timing) as client:
            readout = {r.address: r.raw for r in client.readout()}
        with _SlowClient(url, timing=timing) as client:
            client.program()
            read = [client.read(a)[0].raw for a in ("0.9.1", "1.8.0", "0.9.1")]
        elapsed = sim.control.time() - t0
        counters = (server.sessions, server.dropped, server.disconnects)
    return readout, read, round(elapsed, 9), counters, _protocol_events(caplog)


@pytest.mark.parametrize("where", ["meter", "rig"])
def test_a_slow_moment_on_the_machine_changes_no_exchange(
        where: str, caplog: pytest.LogCaptureFixture) -> None:
    """The meter's protocol times run in the line's virtual time and the rig's client waits
    on the simulated bench only as a guard (rig.meterlink.SIMULATED_LINE_TIMING): a stall of
    2.5 s of wall time, longer than the 1.8 s an answer may take (tr max 1.5 s + 0.3 s) and
    the 2.2 s the meter waits for an option select (standards.md 6.6), changes neither the
    exchanges nor what is read nor the virtual time they took."""
    caplog.set_level(logging.INFO, logger="meter.iec62056_21")
    steady = _reads_with_a_slow_moment(where, SIMULATED_LINE_TIMING, caplog, stall_s=0.0)
    stalled = _reads_with_a_slow_moment(where, SIMULATED_LINE_TIMING, caplog)
    assert stalled == steady
    assert steady[4] == []  # no time-out, NAK, repeat or dropped answer at all


def test_a_slow_moment_changes_the_exchanges_where_time_outs_are_wall_time(
        caplog: pytest.LogCaptureFixture) -> None:
    """The same stall in the meter's handler against a client that times out in wall time
    (the standard's 1.8 s, as on a real line): it NAKs, the meter drops its late answer and
    sends it again. What the test above would see if a wall time-out were left on the line."""
    caplog.set_level(logging.INFO, logger="meter.iec62056_21")
    steady = _reads_with_a_slow_moment("meter", SIMULATED_LINE_TIMING, caplog, stall_s=0.0)
    wall = _reads_with_a_slow_moment("meter", Timing(reaction_min=0.0, reaction_min_fast=0.0),
                                     caplog)
    assert wall[4] != [] and wall[2:4] != steady[2:4]


def test_the_meter_ends_a_session_after_its_inactivity_time_in_virtual_time() -> None:
    """Programming-mode inactivity (Timing.inactivity 120 s; standards.md 6.6: 60..120 s)
    counts virtual time: 119 s of dwell keeps the session, 121 s ends it (the meter, back to
    idle, answers no command). Neither takes wall time."""
    quick = Timing(reaction_min=0.0, reaction_min_fast=0.0, answer_slack=0.5)
    with SimBench(SIM_BENCH, positions=1) as sim:
        assert sim.control is not None
        url = sim.substitutions["sim:meter1"]
        with Client(url, timing=quick, repeats=0) as client:
            client.program()
            sim.control.advance(119.0)
            assert client.read("0.9.1")
            sim.control.advance(121.0)
            with pytest.raises(ProtocolTimeout):
                client.read("0.9.1")


def test_meter_sessions_keep_the_source_watchdog_fed() -> None:
    """The simulated source's watchdog (wall time) guards against a dead controller: one that
    reads its meters for longer than the watchdog's time, sending the source nothing, is
    alive, and the source stays on. Silent afterwards, it trips."""
    with SimBench(SIM_BENCH, positions=1) as sim:
        assert sim.control is not None
        world = sim.world
        world.change_source(lambda source: setattr(source.state, "output_on", True))
        sim.control.arm_watchdog(1.0)
        started = time.monotonic()
        with Client(sim.substitutions["sim:meter1"], timing=SIMULATED_LINE_TIMING) as client:
            client.program()
            while time.monotonic() - started < 2.5:
                client.read("0.9.1")
        assert not world.check_watchdog() and world.source.state.output_on
        time.sleep(1.5)
        world.check_watchdog()  # if the simulator's watchdog thread has not yet
        assert not world.source.state.output_on
