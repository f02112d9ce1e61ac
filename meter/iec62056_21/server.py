"""Meter side: serve RegisterBanks over IEC 62056-21 on a pty or a TCP port.

    with MeterServer([bank], transport="pty") as server:     # or transport="tcp"
        print(server.address)   # /dev/pts/N  or  127.0.0.1:PORT
        Client(server.url) ...  # server.url is what pyserial's serial_for_url opens

One background thread serves one session at a time (an optical port has one head on it),
blocked in select() until bytes come or a time-out of the protocol is due: an idle port costs
nothing. On a pty the slave path is a real serial device that the server holds open for its
whole life, as a meter's port is always there: the master never hangs up, clients open and
close the slave, and the meter cannot see them leave. A session therefore ends as on a real
line, by the protocol (standards.md 6.3, 6.6): a break, a time-out (option select, readout
repeat, programming-mode inactivity) or the next sign-on, a request being answered in any
state. Nothing of an ended session reaches the next: the meter sends no answer once its client
has spoken again (a client is silent while it waits, so input then means it gave up waiting:
the answer is dropped and the input served), an idle meter drops everything before a request,
and output the last client left unread in the port is flushed before the next identification
goes out. On TCP it accepts one connection after the other on one port. Several banks on one
port form a multi-drop bus: each answers only its own device address; `/?!` is answered only
when one bank is served.

The server never crashes: broken frames are NAKed or ignored as the state machine says,
intact but invalid commands get an error message, a bank's RegisterError gives `(text)`,
any other exception `(ERROR)`, and after each of these it serves the next sign-on. A TCP
connection silent for the inactivity time-out (``Timing.inactivity``, 120 s: standards.md 6.6
gives 60..120 s) is closed, so a client that connects and says nothing frees the port; on a pty
any client can sign on at any time, so nothing needs freeing there.
Bank calls go through `call_in_owner` (or under `lock`), one at a time.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import termios
import threading
import time
import tty
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol, TypeVar

from .bank import RegisterBank, RegisterError, command_args
from .datasets import ERROR_TEXT_FORBIDDEN, ERROR_TEXT_MAX, DataSet, Value
from .errors import ProtocolError
from .framing import NEED_DATA
from .messages import (
    BREAK,
    Ack,
    Command,
    DataMessage,
    ErrorMessage,
    Message,
    Readout,
    Request,
)
from .state import Connection, Incident, Invalid, Role, State
from .timing import Timing

log = logging.getLogger(__name__)
T = TypeVar("T")

CLOSED = b""  # link.read result: the peer went away
_FAILED_RETRY = 0.02  # after a session failed: a pause before serving the next
# A pty whose client stopped reading fills up; after this long the rest of an answer is
# dropped (a meter's transmitter does not wait for a listener).
_WRITE_STALL_S = 2.0
_BREAK = BREAK.encode()


def error_text(text: str) -> str:
    """Make `text` a legal error message text: <= 32 chars without ( ) * / ! (standards.md 6.3)."""
    clean = "".join(ch for ch in text if " " <= ch <= "~" and ch not in ERROR_TEXT_FORBIDDEN)
    return clean[:ERROR_TEXT_MAX] or "ERROR"


class _Link:
    """Byte pipe to one client; read returns bytes, None on time-out, CLOSED when gone."""

    def __init__(self, fd: int, wake_fd: int, is_socket: bool) -> None:
        self.fd = fd
        self.wake_fd = wake_fd
        self.is_socket = is_socket

    def read(self, timeout: float | None) -> bytes | None:
        ready, _, _ = select.select([self.fd, self.wake_fd], [], [], timeout)
        if self.wake_fd in ready:
            return CLOSED
        if not ready:
            return None
        try:
            return os.read(self.fd, 4096)  # b'' = TCP EOF
        except OSError as error:
            if error.errno in (errno.EIO, errno.ECONNRESET, errno.EBADF):
                return CLOSED  # pty: every client closed the slave (anchors.md 17)
            raise

    def input_within(self, seconds: float) -> bool:
        """Wait up to `seconds`; True as soon as the client sends (or hangs up, or the server
        is woken to stop)."""
        ready, _, _ = select.select([self.fd, self.wake_fd], [], [], seconds)
        return bool(ready)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        stalled_from: float | None = None
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                now = time.monotonic()
                stalled_from = stalled_from or now
                if now - stalled_from > _WRITE_STALL_S:
                    log.info("IEC 62056-21: nobody reads the port, %d bytes dropped", len(view))
                    return
                select.select([], [self.fd], [], _WRITE_STALL_S)
                continue
            stalled_from = None
            view = view[n:]


class ProtocolClock(Protocol):
    """The time the server's protocol timers run in (the `clock` option)."""

    def now(self) -> float:
        """The line's current instant in seconds (any origin): timers start from it."""

    def input_time(self) -> float:
        """The instant input that is here now came at: timers are checked against it."""

    def wall_wait(self, seconds: float) -> float | None:
        """Wall seconds to wait for input before a timer `seconds` ahead on this clock is due
        (None: wait for input alone; the timer is checked against `now` when input comes)."""


class WallClock:
    """Protocol timers in wall time: a real line (`python -m meter serve`, tests)."""

    def now(self) -> float:
        return time.monotonic()

    def input_time(self) -> float:
        return time.monotonic()

    def wall_wait(self, seconds: float) -> float | None:
        return max(0.0, seconds)


class LineObserver(Protocol):
    """What a MeterServer tells of its line (the `line` option)."""

    def received(self, nbytes: int, baud: int, answer_due: bool) -> None:
        """A message (or a broken frame) of `nbytes` has been taken at `baud`, not yet
        answered; `answer_due`: the meter owes an answer to it (a break is not answered)."""

    def sent(self, nbytes: int, baud: int) -> None:
        """An answer of `nbytes` is going out at `baud`."""


class MeterServer:
    """Serve one or more RegisterBanks (multi-drop) on a pty or a TCP port."""

    def __init__(
        self,
        banks: RegisterBank | Sequence[RegisterBank],
        *,
        transport: str = "pty",
        host: str = "127.0.0.1",
        port: int = 0,
        timing: Timing | None = None,
        repeats: int = 3,
        lock: threading.Lock | threading.RLock | None = None,
        call_in_owner: Callable[[Callable[[], Any]], Any] | None = None,
        block_size: int = 32,
        p0_operand: str = "",
        line: LineObserver | None = None,
        clock: ProtocolClock | None = None,
    ) -> None:
        """
        timing: reaction_min applies (reaction_min_fast once an identification with a
            lower-case 3rd letter went out), and the inactivity time-out.
        lock / call_in_owner: serialise bank calls with the owner's own work; call_in_owner(fn)
            must run fn() and return its result.
        block_size: R6 answers (partial blocks) carry this many data sets per block.
        p0_operand: the operand sent in P0 after the programming-mode option select.
        line: told of every message's bytes and speed as it is received (before it is
            answered) and sent, e.g. to let a simulated line take its time (rig.sim.line).
        clock: the time of the protocol's timers (reaction time, option select, inter-character
            and inactivity time-outs): the wall clock unless given, the line's virtual time on
            the simulated bench (rig.sim.line.LineClock), where the machine's scheduling must
            not change what the meter does.
        """
        self.banks: tuple[RegisterBank, ...] = (
            (banks,) if isinstance(banks, RegisterBank) else tuple(banks)
        )
        if not self.banks:
            raise ValueError("MeterServer needs at least one RegisterBank")
        if transport not in ("pty", "tcp"):
            raise ValueError(f"transport must be 'pty' or 'tcp', got {transport!r}")
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.transport = transport
        self.timing = timing or Timing()
        self.repeats = repeats
        self.block_size = block_size
        self.p0_operand = p0_operand
        self._lock = lock or threading.Lock()
        self._call_in_owner = call_in_owner
        self._line = line
        self.clock: ProtocolClock = clock or WallClock()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self.sessions = 0  # sign-ons answered, for tests and logs
        self.disconnects = 0  # clients that went away after sending something
        self.idle_closes = 0  # TCP connections closed after the inactivity time-out
        self.dropped = 0  # answers not sent: the client spoke before they went out
        self._conn: Connection | None = None
        self._master = self._slave = -1
        self._listener: socket.socket | None = None
        if transport == "pty":
            self._master, self._slave = os.openpty()  # the slave held: no client yet
            os.set_blocking(self._master, False)  # writes to a full port must not hang
            tty.setraw(self._slave)  # no echo or line editing while no client has configured it
            self.address = os.ttyname(self._slave)
            self.url = self.address
        else:
            self._listener = socket.create_server((host, port))
            h, p = self._listener.getsockname()[:2]
            self.address = f"{h}:{p}"
            self.url = f"socket://{h}:{p}"

    @property
    def state(self) -> State:
        """Protocol state of the session being served (IDLE between clients)."""
        conn = self._conn
        return conn.state if conn is not None else State.IDLE

    # ---- lifecycle ----
    def start(self) -> MeterServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"iec62056-21 {self.address}", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = self._wake_r = self._wake_w = -1
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> MeterServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- serving loop ----
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.transport == "pty":
                    self._serve_pty()
                else:
                    self._accept_one()
            except Exception:  # the server must outlive anything a session does
                log.exception("IEC 62056-21 server %s: session failed", self.address)
                self._stop.wait(_FAILED_RETRY)

    def _serve_pty(self) -> None:
        """Serve the port for the server's life: clients come and go on the held slave."""
        self._serve(_Link(self._master, self._wake_r, is_socket=False))

    def _accept_one(self) -> None:
        assert self._listener is not None
        ready, _, _ = select.select([self._listener, self._wake_r], [], [])
        if self._wake_r in ready or self._stop.is_set():
            return
        sock, _ = self._listener.accept()
        with sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._serve(_Link(sock.fileno(), self._wake_r, is_socket=True))

    def _serve(self, link: _Link) -> None:
        """Serve sessions on one link until the client goes away or the server stops."""
        self._conn = Connection(Role.METER, self.timing, self.repeats)
        try:
            self._serve_link(link, self._conn)
        finally:
            self._conn = None  # IDLE between clients

    def _serve_link(self, link: _Link, conn: Connection) -> None:
        session = _Session()
        clock = self.clock
        last_rx = clock.now()
        received = False
        fed = framed = 0  # bytes received; of those, bytes of the messages taken so far
        idle_from: float | None = None
        rx_baud: int | None = None  # the speed input came at, kept across a time-out it ended
        while not self._stop.is_set():
            baud = rx_baud if rx_baud is not None else conn.baud  # the pending bytes' speed
            event = conn.next_event()
            if isinstance(event, Request):
                # A client signs on at the start speed whatever the meter's state (one that
                # ended its session by going silent, after a readout, say: standards.md 6.3).
                baud = conn.start_baud
            if self._line is not None and event is not NEED_DATA:
                taken = fed - conn.pending_count
                self._line.received(taken - framed, baud, conn.must_answer)
                framed = taken
            if isinstance(event, Incident):
                log.info("IEC 62056-21 server %s at %.3f: %s %s", self.address, clock.now(),
                         type(event).__name__, event.reason)
            if event is NEED_DATA:
                rx_baud = None
                wait = conn.wait()
                now = clock.now()
                deadline = now + wait[0] if wait else None
                idle_close = False
                if conn.state is not State.IDLE or conn.pending_count:
                    idle_from = None
                elif idle_from is None:
                    idle_from = now
                if link.is_socket and idle_from is not None:
                    # A connection that says nothing must not hold the port for good: idle (no
                    # session, nothing received) for the inactivity time-out (standards.md 6.6:
                    # 60..120 s; Timing.inactivity) it is closed.
                    idle_at = max(idle_from, last_rx) + self.timing.inactivity
                    if idle_at <= now:
                        self._idle_close()
                        return
                    if deadline is None or idle_at < deadline:
                        deadline, idle_close = idle_at, True
                data = link.read(None if deadline is None else clock.wall_wait(deadline - now))
                if (data not in (None, CLOSED) and deadline is not None
                        and self._input_time(data, conn) >= deadline):
                    # Input that came after a timer was due (on a virtual line the timers are
                    # checked as input comes): the time-out happened first.
                    if idle_close:
                        self._idle_close()
                        return
                    rx_baud = conn.baud
                    self._timed_out(link, conn, last_rx)
                elif data is None and idle_close:
                    continue  # the inactivity time-out: closed at the top of the loop
                elif data is None:
                    self._timed_out(link, conn, last_rx)
                    continue
                if data == CLOSED:
                    if received:
                        self.disconnects += 1
                    return
                assert data is not None
                received = True
                fed += len(data)
                conn.receive_data(data)
                last_rx = clock.now()
                continue
            if isinstance(event, Incident) and event.reply:
                self._reply(link, event.reply, last_rx, conn.reaction_time)
            # Modes A and B: the readout follows the identification with no input between,
            # so keep answering while the state owes one (each answer changes the state).
            while conn.must_answer and not self._stop.is_set():
                reaction = conn.reaction_time  # before send: the identification itself uses 200 ms
                try:
                    answer = self._answer(conn, session, event)
                except Exception:  # never leave an answer owed, never drop the link
                    log.exception("IEC 62056-21 server %s: answer failed", self.address)
                    answer = self._fallback(conn)
                if not answer:
                    continue
                if not self._reply(link, answer, last_rx, reaction):
                    if conn.must_answer:  # modes A/B: the readout after a dropped identification
                        conn.abandon()
                    break
                last_rx = clock.now()

    def _input_time(self, data: bytes, conn: Connection) -> float:
        """When `data` came, for the timers (the same instant on a wall clock). Only the
        programming-mode inactivity timer can run out while the client does something else
        (a dwell): there the input came when the client sent it (`input_time`). The other
        timers (option select, readout repeat, the rest of a frame) run between messages a
        client sends back to back, and a break it sends as soon as it has its last answer and
        does not wait for (client.py `close`): those came at the line's own instant, whatever
        the client has done since (rig.sim.line `_start` dates a break so)."""
        waiting = conn.state in (State.PROG, State.AWAIT_BLOCK_ACK) and not conn.pending_count
        if waiting and not data.startswith(_BREAK):
            return self.clock.input_time()
        return self.clock.now()

    def _timed_out(self, link: _Link, conn: Connection, last_rx: float) -> None:
        """A protocol timer expired: the state's time-out (a NAK for a frame cut short, or
        back to idle)."""
        incident = conn.timeout()
        log.info("IEC 62056-21 server %s at %.3f: %s", self.address, self.clock.now(),
                 incident.reason)
        if incident.reply:
            self._reply(link, incident.reply, last_rx, conn.reaction_time)

    def _idle_close(self) -> None:
        self.idle_closes += 1
        log.info("IEC 62056-21 server %s: connection idle for %.0f s, closed",
                 self.address, self.timing.inactivity)

    def _reply(self, link: _Link, data: bytes, last_rx: float, reaction: float) -> bool:
        """Send `data` once the reaction time has passed since `last_rx`; False if it was not
        sent: the server stops, or the client spoke meanwhile. A client says nothing while it
        waits for an answer, so input now means it stopped waiting (it timed out and repeats,
        NAKs, breaks or signs on again, or it hung up): the answer is stale and is dropped, and
        the input is served instead (a NAK gets this answer, a request a new identification).
        On a virtual line the reaction time is the line's (rig.sim.line): no wall pause."""
        pause = self.clock.wall_wait(last_rx + reaction - self.clock.now())
        spoke = link.input_within(pause or 0.0)
        if self._stop.is_set():
            return False
        if spoke:
            log.info("IEC 62056-21 server %s at %.3f: the client spoke before the answer went "
                     "out; %d bytes dropped", self.address, self.clock.now(), len(data))
            self.dropped += 1
            return False
        if self._line is not None:
            self._line.sent(len(data), self._conn.baud if self._conn is not None else 0)
        try:
            link.write(data)
        except OSError as error:
            log.info("IEC 62056-21 server %s: write failed (%s)", self.address, error)
        return True

    # ---- answers ----
    def _call(self, fn: Callable[[], T]) -> T:
        if self._call_in_owner is not None:
            return self._call_in_owner(fn)  # type: ignore[no-any-return]
        with self._lock:
            return fn()

    def _answer(self, conn: Connection, session: _Session, event: object) -> bytes:
        state = conn.state
        if state is State.IDENT_DUE:
            assert isinstance(event, Request)
            bank = self._select(event.address)
            if bank is None:
                conn.decline()
                return b""
            if self._slave >= 0:
                # A new session: output of the one before that its client left unread in the
                # port (an answer it gave up on) is not for this client.
                termios.tcflush(self._slave, termios.TCIFLUSH)
            try:
                ident = self._call(bank.identification)
                data = conn.send(ident)
            except Exception:
                log.exception("IEC 62056-21 server %s: identification failed", self.address)
                conn.decline()
                return b""
            session.start(bank)
            self.sessions += 1
            return data
        bank = session.bank
        if bank is None:  # cannot happen through the table; answer rather than crash
            return conn.send(ErrorMessage("ERROR"))
        if state is State.READOUT_DUE:
            return self._guarded(conn, lambda: Readout.of(self._call(bank.readout)))
        if state is State.P0_DUE:
            return conn.send(Command("P", "0", DataSet("", (Value(self.p0_operand),))))
        if state is State.PASSWORD_DUE:
            assert isinstance(event, Command)
            level = event.name
            given = event.data.values[0].value if event.data is not None else ""
            try:
                ok = bool(self._call(lambda: bank.check_password(level, given)))
            except RegisterError as error:  # the bank's own answer, e.g. (PASSWORD LOCKED)
                return conn.send(ErrorMessage(error_text(error.text)))
            except Exception:
                log.exception("IEC 62056-21 server %s: check_password failed", self.address)
                ok = False
            # Wrong password: error message, the session stays open ([L]: meters differ;
            # some answer B0 instead).
            return conn.send(Ack() if ok else ErrorMessage("PASSWORD"))
        if state is State.ANSWER_DUE:
            if session.blocks and isinstance(event, Ack):  # a partial block was acknowledged
                return self._next_block(conn, session)
            session.blocks = []  # any other message abandons the rest of a partial answer
            return self._guarded(conn, lambda: self._command(conn, session, bank, event))
        raise ProtocolError(f"meter state {state.value} owes no answer")

    def _fallback(self, conn: Connection) -> bytes:
        if conn.state is State.IDENT_DUE:
            conn.decline()
            return b""
        return conn.send(ErrorMessage("ERROR"))

    def _guarded(self, conn: Connection, build: Callable[[], Message]) -> bytes:
        """Build an answer; bank errors become error messages (docs/conventions.md 3)."""
        try:
            message = build()
            return conn.send(message)
        except RegisterError as error:
            return conn.send(ErrorMessage(error_text(error.text)))
        except Exception:
            log.exception("IEC 62056-21 server %s: bank call failed", self.address)
            return conn.send(ErrorMessage("ERROR"))

    def _command(
        self, conn: Connection, session: _Session, bank: RegisterBank, event: object
    ) -> Message:
        if isinstance(event, Invalid):
            return ErrorMessage(error_text(f"INVALID {type(event.error).__name__}"))
        if not isinstance(event, Command):
            return ErrorMessage(error_text(f"UNEXPECTED {type(event).__name__}"))
        name = event.name
        address = event.data.address if event.data is not None else ""
        if name in ("R1", "R5", "R6"):
            if bank.read_requires_password and not conn.authenticated:
                return ErrorMessage("NO ACCESS")
            args = command_args(event.data)
            sets = list(self._call(lambda: bank.read(address, args)))
            if not sets:
                return ErrorMessage("NO DATA")
            if name == "R6" and len(sets) > self.block_size:
                session.blocks = [
                    sets[i : i + self.block_size] for i in range(0, len(sets), self.block_size)
                ]
                return self._first_block(session)
            return DataMessage.of(sets)
        if name in ("W1", "E2"):
            if not conn.authenticated:
                return ErrorMessage("NO ACCESS")
            values = _values(event.data)
            if name == "W1":
                self._call(lambda: bank.write(address, values))
                return Ack()
            result = list(self._call(lambda: bank.execute(address, values)))
            return DataMessage.of(result) if result else Ack()
        return ErrorMessage(f"UNKNOWN COMMAND {name}")

    def _first_block(self, session: _Session) -> Message:
        block = session.blocks.pop(0)
        return DataMessage.of(block, partial=bool(session.blocks))

    def _next_block(self, conn: Connection, session: _Session) -> bytes:
        return conn.send(self._first_block(session))

    def _select(self, address: str) -> RegisterBank | None:
        if address == "":
            return self.banks[0] if len(self.banks) == 1 else None
        for bank in self.banks:
            try:
                if self._call(bank.device_address) == address:
                    return bank
            except Exception:
                log.exception("IEC 62056-21 server %s: device_address failed", self.address)
        return None


class _Session:
    """Per sign-on data of the server: the bank addressed and queued partial blocks."""

    def __init__(self) -> None:
        self.bank: RegisterBank | None = None
        self.blocks: list[list[DataSet]] = []

    def start(self, bank: RegisterBank) -> None:
        self.bank = bank
        self.blocks = []


def _values(data: DataSet | None) -> tuple[str, ...]:
    """W1/E2 values: the texts of the data set's brackets; a lone `()` gives ()."""
    if data is None:
        return ()
    texts = tuple(v.value for v in data.values)
    return () if texts == ("",) else texts


def serve_pty(banks: RegisterBank | Sequence[RegisterBank], **options: Any) -> MeterServer:
    """Start serving on a new pty; `server.address` is the slave path."""
    return MeterServer(banks, transport="pty", **options).start()


def serve_tcp(banks: RegisterBank | Sequence[RegisterBank], **options: Any) -> MeterServer:
    """Start serving on 127.0.0.1 (port 0 = any free port); `server.address` is host:port."""
    return MeterServer(banks, transport="tcp", **options).start()
