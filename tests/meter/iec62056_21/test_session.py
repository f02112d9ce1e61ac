"""The meter side's sans-IO LineSession, driven by hand: bytes and time-outs in, what to send,
how long to wait and the end out. No thread, no port read: the server is built, not started.

Figures from standards.md: 6.3 (messages: request `/?!CR LF`, identification `/XXXZ Ident CR LF`,
ACK/option select `ACK 0 Z Y CR LF`), 6.6 (tr >= 200 ms before an answer, the meter's 2.2 s
wait for the option select); here the shrunk FAST timing of the other protocol tests."""

from __future__ import annotations

import pytest

from meter.iec62056_21 import MeterServer, State
from meter.iec62056_21.session import CLOSED

from .conftest import FAST
from .demo_bank import DemoBank

REQUEST = b"/?!\r\n"
IDENT = b"/ABC5DEMO1000\r\n"  # DemoBank: manufacturer ABC, baud character 5
READOUT_SELECT = b"\x06050\r\n"  # ACK, protocol 0, baud character 5, mode 0: data readout


class HandClock:
    """The protocol timers' clock, moved by the test. `virtual`: the simulated line's kind,
    whose timers are checked when input comes (no wall wait); else a wall clock."""

    def __init__(self, virtual: bool) -> None:
        self.t = 100.0
        self.virtual = virtual

    def now(self) -> float:
        return self.t

    def input_time(self) -> float:
        return self.t

    def wall_wait(self, seconds: float) -> float | None:
        return None if self.virtual else max(0.0, seconds)


def _server(clock: HandClock, transport: str = "pty") -> MeterServer:
    made = MeterServer(DemoBank(), transport=transport, timing=FAST, clock=clock)
    made.close()  # the port itself is not used: the session is driven by hand
    return made


def test_an_answer_waits_the_reaction_time_then_goes_out() -> None:
    clock = HandClock(virtual=False)
    server = _server(clock)
    session = server.open_session(is_socket=False)
    assert session.wait is None and server.state is State.IDLE  # idle: nothing timed
    session.receive(REQUEST)
    assert session.data_to_send() == b""
    assert session.wait == pytest.approx(FAST.reaction_min)  # tr before the identification
    clock.t += FAST.reaction_min
    session.time_out()  # tr passed with no input: the identification goes out
    assert session.data_to_send() == IDENT
    assert server.sessions == 1 and server.state is State.AWAIT_OPTION
    # Now the meter waits for the option select (its time-out from the identification on).
    assert session.wait == pytest.approx(FAST.option_select_wait)
    session.receive(READOUT_SELECT)
    clock.t += FAST.reaction_min
    session.time_out()
    readout = session.data_to_send()
    assert readout.startswith(b"\x02F.F(00000000)") and b"!\r\n\x03" in readout
    assert server.dropped == 0


def test_input_before_the_answer_went_out_drops_it_and_is_served() -> None:
    clock = HandClock(virtual=False)
    server = _server(clock)
    session = server.open_session(is_socket=False)
    session.receive(REQUEST)
    assert session.wait == pytest.approx(FAST.reaction_min)
    session.receive(REQUEST)  # the client spoke again within tr: it stopped waiting
    assert server.dropped == 1 and session.data_to_send() == b""
    assert session.wait == pytest.approx(FAST.reaction_min)  # the repeat gets its own answer
    session.time_out()
    assert session.data_to_send() == IDENT and server.sessions == 2  # built twice, sent once


def test_on_a_virtual_line_an_answer_is_due_at_once_and_timers_run_on_input() -> None:
    clock = HandClock(virtual=True)
    server = _server(clock)
    session = server.open_session(is_socket=False)
    session.receive(REQUEST)
    assert session.wait == 0.0  # no wall pause: only a look for input already there
    session.time_out()
    assert session.data_to_send() == IDENT
    assert session.wait is None  # the option-select timer is not a wall wait here...
    clock.t += FAST.option_select_wait + 0.01
    session.receive(READOUT_SELECT)  # ...but input after it ran out comes too late
    assert session.data_to_send() == b"" and session.wait is None
    assert server.state is State.IDLE  # timed out first; the late option select is ignored


def test_input_already_there_drops_the_answer_on_a_virtual_line() -> None:
    clock = HandClock(virtual=True)
    server = _server(clock)
    session = server.open_session(is_socket=False)
    session.receive(REQUEST)
    session.receive(REQUEST)  # found waiting when the identification was due
    assert server.dropped == 1
    session.time_out()
    assert session.data_to_send() == IDENT and server.sessions == 2  # built twice, sent once


def test_the_client_going_away_ends_the_session() -> None:
    server = _server(HandClock(virtual=False))
    session = server.open_session(is_socket=False)
    session.receive(b"garbage")
    session.receive(CLOSED)
    assert session.ended and not session.failed and server.disconnects == 1
    server.session_ended(session)
    assert server.state is State.IDLE


def test_an_idle_connection_is_closed_after_the_inactivity_time() -> None:
    clock = HandClock(virtual=False)
    server = _server(clock, transport="tcp")
    session = server.open_session(is_socket=True)
    assert session.wait == pytest.approx(FAST.inactivity)
    clock.t += FAST.inactivity
    session.time_out()
    assert session.ended and server.idle_closes == 1 and server.disconnects == 0


def test_a_failing_line_observer_ends_the_session_as_failed() -> None:
    class Broken:
        def received(self, nbytes: int, baud: int, answer_due: bool) -> None:
            raise RuntimeError("observer broke")

        def sent(self, nbytes: int, baud: int) -> None: ...

    made = MeterServer(DemoBank(), transport="pty", timing=FAST, line=Broken())
    made.close()
    session = made.open_session(is_socket=False)
    session.receive(REQUEST)
    assert session.ended and session.failed  # logged; the driver serves the next session


def test_no_answer_goes_out_once_stopped() -> None:
    clock = HandClock(virtual=False)
    server = _server(clock)
    session = server.open_session(is_socket=False)
    session.receive(REQUEST)
    session.stop()
    session.time_out()
    assert session.data_to_send() == b""  # the identification was built, not sent
