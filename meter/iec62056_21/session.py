"""Meter side of one link, sans-IO: what a MeterServer does with the bytes one client sends.

A `LineSession` serves one link (a pty for the server's life, or one TCP connection) from its
first byte to its end. It does no I/O and keeps no thread: its driver reads the link and hands
what came in (`receive`, b"" when the client went away) or says that the wait it asked for
passed with nothing (`time_out`); the session answers by the bytes to send (`data_to_send`), the
wall seconds to wait for input next (`wait`: None for as long as it takes, 0 for input already
there) and `ended`. Two drivers run it: the server's own thread with select()
(meter.iec62056_21.server, `python -m meter serve`) and the simulated bench's one serving loop
(rig.sim.meterport), so both serve by this one implementation:

    session = server.open_session(is_socket=False)
    while not session.ended:
        link.write(session.data_to_send())
        data = link.read(timeout=session.wait)       # None: nothing came in time
        session.receive(data) if data is not None else session.time_out()

The driver writes what is to be sent before it waits: an answer goes out, then the session
waits for the next input. An answer waits for the reaction time as a wait for input: input that
comes meanwhile (on a virtual line, where the wait is 0: input already there when the answer is
due) means the client stopped waiting, and the answer is dropped (see `_reply`).

Internally the serving logic is one generator (`_serve`), written as the loop a thread would
run: it yields the wall seconds it waits for input and is sent what came (None: nothing).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Protocol

from .bank import RegisterBank
from .datasets import DataSet
from .framing import NEED_DATA
from .messages import BREAK, Request
from .state import IDLE, PROGRAMMING_STATES, Connection, Incident, Role, State
from .timing import Timing

CLOSED = b""  # what a read gives when the client went away
_BREAK = BREAK.encode()

# What `_serve` and its parts yield (the wall seconds to wait for input) and are sent (what came,
# or None), then return.
_Steps = Generator[float | None, bytes | None, None]
_Sent = Generator[float | None, bytes | None, bool]


class ProtocolClock(Protocol):
    """The time the server's protocol timers run in (the `clock` option)."""

    def now(self) -> float:
        """The line's current instant in seconds (any origin): timers start from it."""

    def input_time(self) -> float:
        """The instant input that is here now came at: timers are checked against it."""

    def wall_wait(self, seconds: float) -> float | None:
        """Wall seconds to wait for input before a timer `seconds` ahead on this clock is due
        (None: wait for input alone; the timer is checked against `now` when input comes)."""


class LineObserver(Protocol):
    """What a MeterServer tells of its line (the `line` option)."""

    def received(self, nbytes: int, baud: int, answer_due: bool) -> None:
        """A message (or a broken frame) of `nbytes` has been taken at `baud`, not yet
        answered; `answer_due`: the meter owes an answer to it (a break is not answered)."""

    def sent(self, nbytes: int, baud: int) -> None:
        """An answer of `nbytes` is going out at `baud`."""


class _Log(Protocol):
    """The driver's logger (a logging.Logger): the session itself does no I/O."""

    def info(self, msg: str, *args: Any) -> None: ...
    def exception(self, msg: str, *args: Any) -> None: ...


class Served(Protocol):
    """What a LineSession needs of its server (meter.iec62056_21.server.MeterServer): the
    settings, the answers (the banks), the counters it keeps and a logger."""

    address: str
    timing: Timing
    repeats: int
    clock: ProtocolClock
    line: LineObserver | None
    log: _Log
    sessions: int
    disconnects: int
    idle_closes: int
    dropped: int

    def _answer(self, conn: Connection, signon: SignOn, event: object) -> bytes: ...
    def _fallback(self, conn: Connection) -> bytes: ...


@dataclass
class SignOn:
    """Per sign-on data of the server: the bank addressed and queued partial blocks (R6)."""

    bank: RegisterBank | None = None
    blocks: list[list[DataSet]] = field(default_factory=list)

    def start(self, bank: RegisterBank) -> None:
        self.bank = bank
        self.blocks = []


class LineSession:
    """One link of a MeterServer, sans-IO (see the module doc)."""

    def __init__(self, server: Served, is_socket: bool) -> None:
        self.server = server
        self.is_socket = is_socket
        self.conn = Connection(Role.METER, server.timing, server.repeats)
        self.signon = SignOn()
        self.wait: float | None = None  # wall seconds to wait for input (None: no limit)
        self.ended = False
        self.failed = False  # ended by an exception (logged): pause before the next session
        self.stopped = False
        self._out: list[bytes] = []
        self._held: bytes | None = None  # input that came while an answer waited: served next
        self._steps: _Steps = self._serve()
        self._step(None, first=True)

    # ---- the driver's side ----
    def receive(self, data: bytes) -> None:
        """Input read from the link; CLOSED (b"") when the client went away."""
        self._step(data)

    def time_out(self) -> None:
        """`wait` seconds passed with no input."""
        self._step(None)

    def data_to_send(self) -> bytes:
        """The bytes to write to the link now (all of them before waiting for input)."""
        out = b"".join(self._out)
        self._out.clear()
        return out

    def stop(self) -> None:
        """The server stops: no answer goes out from now on."""
        self.stopped = True

    @property
    def state(self) -> State:
        return State.IDLE if self.ended else self.conn.state

    def _step(self, data: bytes | None, first: bool = False) -> None:
        if self.ended:
            return
        try:
            self.wait = next(self._steps) if first else self._steps.send(data)
        except StopIteration:
            self.ended = True
        except Exception:  # the server must outlive anything a session does
            self.server.log.exception("IEC 62056-21 server %s: session failed",
                                      self.server.address)
            self.ended = self.failed = True

    # ---- the serving logic ----
    def _serve(self) -> _Steps:
        server, conn = self.server, self.conn
        clock, line = server.clock, server.line
        last_rx = clock.now()
        received = False
        fed = framed = 0  # bytes received; of those, bytes of the messages taken so far
        idle_from: float | None = None
        rx_baud: int | None = None  # the speed input came at, kept across a time-out it ended
        while not self.stopped:
            baud = rx_baud if rx_baud is not None else conn.baud  # the pending bytes' speed
            event = conn.next_event()
            if isinstance(event, Request):
                # A client signs on at the start speed whatever the meter's state (one that
                # ended its session by going silent, after a readout, say: standards.md 6.3).
                baud = conn.start_baud
            if line is not None and event is not NEED_DATA:
                taken = fed - conn.pending_count
                line.received(taken - framed, baud, conn.must_answer)
                framed = taken
            if isinstance(event, Incident):
                server.log.info("IEC 62056-21 server %s at %.3f: %s %s", server.address,
                                clock.now(), type(event).__name__, event.reason)
            if event is NEED_DATA:
                rx_baud = None
                wait = conn.wait()
                now = clock.now()
                deadline = now + wait[0] if wait else None
                idle_close = False
                if conn.state is not IDLE or conn.pending_count:
                    idle_from = None
                elif idle_from is None:
                    idle_from = now
                if self.is_socket and idle_from is not None:
                    # A connection that says nothing must not hold the port for good: idle (no
                    # session, nothing received) for the inactivity time-out (standards.md 6.6:
                    # 60..120 s; Timing.inactivity) it is closed.
                    idle_at = max(idle_from, last_rx) + server.timing.inactivity
                    if idle_at <= now:
                        self._idle_close()
                        return
                    if deadline is None or idle_at < deadline:
                        deadline, idle_close = idle_at, True
                if self._held is not None:  # input that came while an answer waited
                    data, self._held = self._held, None
                else:  # written out here (not a generator of its own): once per message
                    data = yield None if deadline is None else clock.wall_wait(deadline - now)
                if (data not in (None, CLOSED) and deadline is not None
                        and self._input_time(data) >= deadline):
                    # Input that came after a timer was due (on a virtual line the timers are
                    # checked as input comes): the time-out happened first.
                    if idle_close:
                        self._idle_close()
                        return
                    rx_baud = conn.baud
                    yield from self._timed_out(last_rx)
                elif data is None and idle_close:
                    continue  # the inactivity time-out: closed at the top of the loop
                elif data is None:
                    yield from self._timed_out(last_rx)
                    continue
                if data == CLOSED:
                    if received:
                        server.disconnects += 1
                    return
                assert data is not None
                received = True
                fed += len(data)
                conn.receive_data(data)
                last_rx = clock.now()
                continue
            if isinstance(event, Incident) and event.reply:
                yield from self._reply(event.reply, last_rx, conn.reaction_time)
            # Modes A and B: the readout follows the identification with no input between,
            # so keep answering while the state owes one (each answer changes the state).
            while conn.must_answer and not self.stopped:
                reaction = conn.reaction_time  # before send: the identification itself uses 200 ms
                try:
                    answer = server._answer(conn, self.signon, event)
                except Exception:  # never leave an answer owed, never drop the link
                    server.log.exception("IEC 62056-21 server %s: answer failed", server.address)
                    answer = server._fallback(conn)
                if not answer:
                    continue
                sent = yield from self._reply(answer, last_rx, reaction)
                if not sent:
                    if conn.must_answer:  # modes A/B: the readout after a dropped identification
                        conn.abandon()
                    break
                last_rx = clock.now()

    def _input_time(self, data: bytes) -> float:
        """When `data` came, for the timers (the same instant on a wall clock). Only the
        programming-mode inactivity timer can run out while the client does something else
        (a dwell): there the input came when the client sent it (`input_time`). The other
        timers (option select, readout repeat, the rest of a frame) run between messages a
        client sends back to back, and a break it sends as soon as it has its last answer and
        does not wait for (client.py `close`): those came at the line's own instant, whatever
        the client has done since (rig.sim.line `_start` dates a break so)."""
        conn, clock = self.conn, self.server.clock
        waiting = conn.state in PROGRAMMING_STATES and not conn.pending_count
        if waiting and not data.startswith(_BREAK):
            return clock.input_time()
        return clock.now()

    def _timed_out(self, last_rx: float) -> _Steps:
        """A protocol timer expired: the state's time-out (a NAK for a frame cut short, or
        back to idle)."""
        incident = self.conn.timeout()
        server = self.server
        server.log.info("IEC 62056-21 server %s at %.3f: %s", server.address,
                        server.clock.now(), incident.reason)
        if incident.reply:
            yield from self._reply(incident.reply, last_rx, self.conn.reaction_time)

    def _idle_close(self) -> None:
        server = self.server
        server.idle_closes += 1
        server.log.info("IEC 62056-21 server %s: connection idle for %.0f s, closed",
                        server.address, server.timing.inactivity)

    def _reply(self, data: bytes, last_rx: float, reaction: float) -> _Sent:
        """Send `data` once the reaction time has passed since `last_rx`; False if it was not
        sent: the server stops, or the client spoke meanwhile. A client says nothing while it
        waits for an answer, so input now means it stopped waiting (it timed out and repeats,
        NAKs, breaks or signs on again, or it hung up): the answer is stale and is dropped, and
        the input is served instead (a NAK gets this answer, a request a new identification).
        On a virtual line the reaction time is the line's (rig.sim.line): no wall pause, only
        a look for input already there."""
        server, clock = self.server, self.server.clock
        pause = clock.wall_wait(last_rx + reaction - clock.now())
        spoke = yield pause or 0.0
        if self.stopped:
            return False
        if spoke is not None:
            self._held = spoke
            server.log.info("IEC 62056-21 server %s at %.3f: the client spoke before the answer "
                            "went out; %d bytes dropped", server.address, clock.now(), len(data))
            server.dropped += 1
            return False
        if server.line is not None:
            server.line.sent(len(data), self.conn.baud)
        self._out.append(data)
        return True
