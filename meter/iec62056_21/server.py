"""Meter side: serve RegisterBanks over IEC 62056-21 on a pty or a TCP port.

    with MeterServer([bank], transport="pty") as server:     # or transport="tcp"
        print(server.address)   # /dev/pts/N  or  127.0.0.1:PORT
        Client(server.url) ...  # server.url is what pyserial's serial_for_url opens

One session is served at a time (an optical port has one head on it). What is done with the
bytes of a link is sans-IO (meter.iec62056_21.session.LineSession); `start()` drives it from a
background thread blocked in select() until bytes come or a time-out of the protocol is due (an
idle port costs nothing), and an event loop may drive it instead, for many ports in one thread
(rig.sim.meterport: the simulated bench's serving loop; it uses `pty_master` / `listener`,
`open_session` and `close`, not `start`).

On a pty the slave path is a real serial device that the server holds open for its whole life,
as a meter's port is always there: the master never hangs up, clients open and close the slave,
and the meter cannot see them leave. A session therefore ends as on a real line, by the
protocol (standards.md 6.3, 6.6): a break, a time-out (option select, readout repeat,
programming-mode inactivity) or the next sign-on, a request being answered in any state.
Nothing of an ended session reaches the next: the meter sends no answer once its client has
spoken again (a client is silent while it waits, so input then means it gave up waiting: the
answer is dropped and the input served), an idle meter drops everything before a request, and
output the last client left unread in the port is flushed before the next identification goes
out. On TCP it accepts one connection after the other on one port. Several banks on one port
form a multi-drop bus: each answers only its own device address; `/?!` is answered only when
one bank is served.

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
from typing import Any, TypeVar

from .bank import RegisterBank, RegisterError, command_args
from .datasets import ERROR_TEXT_FORBIDDEN, ERROR_TEXT_MAX, DataSet, Value
from .errors import ProtocolError
from .messages import (
    Ack,
    Command,
    DataMessage,
    ErrorMessage,
    Message,
    Readout,
    Request,
)
from .session import CLOSED, LineObserver, LineSession, ProtocolClock, SignOn
from .state import (
    ANSWER_DUE,
    IDENT_DUE,
    P0_DUE,
    PASSWORD_DUE,
    READOUT_DUE,
    Connection,
    Invalid,
    State,
)
from .timing import Timing

log = logging.getLogger(__name__)
T = TypeVar("T")

FAILED_RETRY_S = 0.02  # after a session failed: a pause before serving the next
# A pty whose client stopped reading fills up; after this long the rest of an answer is
# dropped (a meter's transmitter does not wait for a listener).
WRITE_STALL_S = 2.0
# Errors of a read that mean the client went away: EIO on a pty whose every client closed the
# slave (anchors.md 17), a reset or closed TCP connection.
GONE_ERRNOS = (errno.EIO, errno.ECONNRESET, errno.EBADF)


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
            if error.errno in GONE_ERRNOS:
                return CLOSED  # pty: every client closed the slave (anchors.md 17)
            raise

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        stalled_from: float | None = None
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                now = time.monotonic()
                stalled_from = stalled_from or now
                if now - stalled_from > WRITE_STALL_S:
                    log.info("IEC 62056-21: nobody reads the port, %d bytes dropped", len(view))
                    return
                select.select([], [self.fd], [], WRITE_STALL_S)
                continue
            stalled_from = None
            view = view[n:]


class WallClock:
    """Protocol timers in wall time: a real line (`python -m meter serve`, tests)."""

    def now(self) -> float:
        return time.monotonic()

    def input_time(self) -> float:
        return time.monotonic()

    def wall_wait(self, seconds: float) -> float | None:
        return max(0.0, seconds)


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
        self.line = line
        self.clock: ProtocolClock = clock or WallClock()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self.log = log
        self.sessions = 0  # sign-ons answered, for tests and logs
        self.disconnects = 0  # clients that went away after sending something
        self.idle_closes = 0  # TCP connections closed after the inactivity time-out
        self.dropped = 0  # answers not sent: the client spoke before they went out
        self._session: LineSession | None = None
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
        session = self._session
        return session.state if session is not None else State.IDLE

    @property
    def pty_master(self) -> int:
        """The pty's master fd (the meter's end of the port; -1 on TCP or once closed)."""
        return self._master

    @property
    def listener(self) -> socket.socket | None:
        """The TCP listening socket (None on a pty or once closed)."""
        return self._listener

    # ---- lifecycle ----
    def start(self) -> MeterServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"iec62056-21 {self.address}", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving (from any thread) and free the port."""
        self._stop.set()
        session = self._session
        if session is not None:
            session.stop()
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
                self._stop.wait(FAILED_RETRY_S)

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
        """Serve sessions on one link until the client goes away or the server stops: this
        thread drives the link's LineSession with select()."""
        session = self.open_session(link.is_socket)
        try:
            while not self._stop.is_set():
                out = session.data_to_send()
                if out:
                    try:
                        link.write(out)
                    except OSError as error:
                        log.info("IEC 62056-21 server %s: write failed (%s)", self.address, error)
                if session.ended:
                    break
                data = link.read(session.wait)
                if self._stop.is_set():
                    break
                if data is None:
                    session.time_out()
                else:
                    session.receive(data)
        finally:
            session.stop()
            self.session_ended(session)
        if session.failed:
            self._stop.wait(FAILED_RETRY_S)

    def open_session(self, is_socket: bool) -> LineSession:
        """A new client's link (a pty's for the server's life, or one TCP connection), for a
        driver to serve (meter.iec62056_21.session); `state` follows it."""
        self._session = LineSession(self, is_socket)
        return self._session

    def session_ended(self, session: LineSession) -> None:
        """The driver is done with `session`'s link: IDLE until the next one."""
        if self._session is session:
            self._session = None

    # ---- answers ----
    def _call(self, fn: Callable[[], T]) -> T:
        if self._call_in_owner is not None:
            return self._call_in_owner(fn)  # type: ignore[no-any-return]
        with self._lock:
            return fn()

    def _answer(self, conn: Connection, session: SignOn, event: object) -> bytes:
        state = conn.state
        if state is IDENT_DUE:
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
        if state is READOUT_DUE:
            return self._guarded(conn, lambda: Readout.of(self._call(bank.readout)))
        if state is P0_DUE:
            return conn.send(Command("P", "0", DataSet("", (Value(self.p0_operand),))))
        if state is PASSWORD_DUE:
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
        if state is ANSWER_DUE:
            if session.blocks and isinstance(event, Ack):  # a partial block was acknowledged
                return self._next_block(conn, session)
            session.blocks = []  # any other message abandons the rest of a partial answer
            return self._guarded(conn, lambda: self._command(conn, session, bank, event))
        raise ProtocolError(f"meter state {state.value} owes no answer")

    def _fallback(self, conn: Connection) -> bytes:
        if conn.state is IDENT_DUE:
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
        self, conn: Connection, session: SignOn, bank: RegisterBank, event: object
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

    def _first_block(self, session: SignOn) -> Message:
        block = session.blocks.pop(0)
        return DataMessage.of(block, partial=bool(session.blocks))

    def _next_block(self, conn: Connection, session: SignOn) -> bytes:
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
