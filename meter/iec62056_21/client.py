"""IEC 62056-21 client (the rig's hand-held unit) over a pyserial port.

    with Client("/dev/ttyUSB0") as meter:          # or socket://127.0.0.1:PORT, rfc2217://, loop://
        for r in meter.readout():
            print(r.obis, r.value, r.unit)
        meter.program(password="00000000")
        meter.write("0.9.1", "120000")
        print(meter.read("1.8.0"))
        meter.sign_off()

The protocol logic is `state.Connection`; this wrapper moves bytes, applies the baud rate the
connection agreed, keeps the reaction time before it sends and turns the connection's
incidents into exceptions (ProtocolTimeout naming what was awaited, RepeatLimitExceeded,
MeterError, PasswordRefused, ConnectionLost).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import select
import socket
import stat
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from types import TracebackType

import serial
from serial.urlhandler.protocol_socket import Serial as SocketSerial

try:
    from termios import error as _TermiosError  # POSIX pyserial drains with tcdrain
except ImportError:  # Windows: no termios, nothing to restart
    _TermiosError = OSError

from .bank import args_dataset
from .datasets import DataSet, Value
from .errors import (
    ConnectionLost,
    MeterError,
    PasswordRefused,
    ProtocolError,
    ProtocolTimeout,
    RepeatLimitExceeded,
    UnexpectedMessage,
)
from .framing import NEED_DATA
from .messages import (
    BREAK,
    MODE_C_BAUD,
    START_BAUD,
    Ack,
    Command,
    DataMessage,
    ErrorMessage,
    Identification,
    Message,
    OptionSelect,
    Readout,
    Request,
)
from .readings import Reading
from .state import (
    IDLE,
    PROG,
    Connection,
    Event,
    Ignored,
    Incident,
    Invalid,
    Role,
    State,
    TimedOut,
)
from .timing import Timing

log = logging.getLogger(__name__)
PasswordSource = str | Callable[[str], str]
# Read poll interval where the transport has no descriptor to wait on (elsewhere the read
# waits in select()): a read returns as soon as a byte is there; this only bounds how late a
# deadline is noticed. Fixed, because setting a posix port's timeout re-applies termios.
_POLL = 0.02
_CHUNK = 65536
#: How a client waits for input: (descriptor, at most seconds) -> True once it is readable or
#: hung up, False at the time-out; descriptor None: a pause, no input awaited.
InputWait = Callable[[int | None, float], bool]
#: The wait of the task a client runs in (rig.meterhub sets it in each task's own context):
#: one thread then runs many clients, each yielding while it waits. A context variable and
#: not a Client argument, because the wait belongs to whoever runs the client at that moment,
#: not to the client: a session opened in one batch of tasks is read from the next batch's
#: tasks, and clients are made by factories that know nothing of tasks. Unset: `wait_in_place`.
INPUT_WAIT: ContextVar[InputWait | None] = ContextVar("iec62056_21_input_wait", default=None)


def wait_in_place(fd: int | None, seconds: float) -> bool:
    """`InputWait` that blocks the calling thread (select(); time.sleep for a pause)."""
    if fd is None:
        time.sleep(seconds)
        return False
    return bool(select.select([fd], [], [], seconds)[0])


#: How long `Client.open` tries a socket:// connection again that the server refused: a
#: server taking one connection at a time (a serial device server, `python -m meter serve`)
#: may not have taken up the previous client's close yet (pyserial waited 0.3 s after every
#: close for this instead, `SocketPort`).
RECONNECT_S = 1.0
_RECONNECT_PAUSE_S = 0.05


class SocketPort(SocketSerial):
    """pyserial's socket:// port, closed at once. pyserial 3.5's own `close` ends with
    `time.sleep(0.3)`, "in case of quick reconnects, give the server some time"
    (serial/urlhandler/protocol_socket.py): 0.3 s added to every session, and in the rig's
    meter hub, whose one thread runs every position's client, 0.3 s of every position in
    turn. A refused reconnect is tried again by `Client.open` instead (`RECONNECT_S`)."""

    def close(self) -> None:
        if not self.is_open:
            return
        sock, self._socket = self._socket, None
        self.is_open = False
        if sock is not None:
            with contextlib.suppress(OSError):  # the peer may have gone already
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def port_for_url(url: str, **kwargs: object) -> serial.SerialBase:
    """`serial.serial_for_url`, with `SocketPort` for socket:// URLs (the scheme is
    case-insensitive there too)."""
    if not url.lower().startswith("socket://"):
        return serial.serial_for_url(url, **kwargs)
    do_not_open = bool(kwargs.pop("do_not_open", False))
    port = SocketPort(None, **kwargs)
    port.port = url
    if not do_not_open:
        port.open()
    return port


def _refused(error: BaseException) -> bool:
    """pyserial's socket:// open raised for a refused connection (it raises SerialException
    from inside its handler of the socket's error, which is then the context)."""
    return isinstance(error.__context__, ConnectionRefusedError)


def is_pty(url: str) -> bool:
    """Whether `url` is the path of a Linux pty slave: a character device of major 136-143,
    "Unix98 PTY slaves" in the kernel's Documentation/admin-guide/devices.txt."""
    try:
        found = os.stat(url)
    except (OSError, ValueError):  # a URL (socket://, loop://), or no such path
        return False
    return stat.S_ISCHR(found.st_mode) and 136 <= os.major(found.st_rdev) <= 143


def _wait(fd: int | None, seconds: float) -> bool:
    return (INPUT_WAIT.get() or wait_in_place)(fd, seconds)


@functools.lru_cache(maxsize=4096)
def _command_of(name: str, address: str, args: tuple[str, ...]) -> Command:
    """Command `name` (R1..R6, E2) of `address` with `args`. Immutable, so each one a plan sends
    thousands of times is built, checked and encoded once (a bad one raises every time)."""
    return Command(name[0], name[1], args_dataset(address, args))


class Client:
    """A mode C (A, B readout) client on a pyserial URL; use as a context manager."""

    def __init__(
        self,
        url: str,
        *,
        device_address: str = "",
        timing: Timing | None = None,
        repeats: int = 3,
        max_baud: int = 19200,
        switch_baud: bool = True,
        start_baud: int = START_BAUD,
        port_factory: Callable[..., serial.SerialBase] = port_for_url,
    ) -> None:
        """
        device_address: sent in the request (multi-drop bus; '' = point to point).
        max_baud: cap on the speed proposed in the option select.
        switch_baud: False for meters that acknowledge a faster speed but keep talking at the
            start speed: the proposal is sent but the port stays where it is.
        start_baud: 300 per the standard; some meters use a fixed higher start speed.
        timing.baud_switch_delay: pause between the option select leaving the port and the
            change of speed.
        """
        self.url = url
        self.device_address = device_address
        self.timing = timing or Timing()
        self.repeats = repeats
        self.max_baud = max_baud
        self.switch_baud = switch_baud
        self.start_baud = start_baud
        self._port_factory = port_factory
        self._port: serial.SerialBase | None = None
        # The open port's descriptor (`_descriptor`) and whether it is pyserial's socket://,
        # found once at `open`: every write and read asks.
        self._fd: int | None = None
        self._is_socket = False
        self.framing = "7E1"
        self.conn = self._new_connection()
        self.identification: Identification | None = None
        self.p0_operand: str | None = None

    def _new_connection(self) -> Connection:
        return Connection(Role.CLIENT, self.timing, self.repeats, self.start_baud)

    # ---- port ----
    def open(self) -> Client:
        if self._port is not None:
            return self
        # A pty carries 8-bit bytes with no parity and may refuse 7E1 (anchors.md 17): it is
        # opened 8N1 at once (a refused open and a warning per session otherwise).
        self.framing = "8N1" if is_pty(self.url) else "7E1"
        seven = self.framing == "7E1"
        port = self._port_factory(
            self.url,
            do_not_open=True,
            baudrate=self.start_baud,
            bytesize=serial.SEVENBITS if seven else serial.EIGHTBITS,
            parity=serial.PARITY_EVEN if seven else serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=_POLL,
        )
        try:
            self._open_port(port)
        except Exception as error:
            if not seven:
                raise
            # Another device that refuses 7E1 (anchors.md 17 names ptys; this port is none).
            log.warning("%s refused 7E1 (%s); using 8N1", self.url, error)
            port.bytesize = serial.EIGHTBITS
            port.parity = serial.PARITY_NONE
            port.open()
            self.framing = "8N1"
        if isinstance(port, SocketSerial):
            # pyserial leaves Nagle on: a message written right after another would wait for
            # the peer's delayed ACK (tens of ms). Set on a duplicate of the descriptor, which
            # shares the socket.
            with socket.fromfd(port.fileno(), socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._port = port
        self._fd = self._descriptor(port)
        self._is_socket = isinstance(port, SocketSerial)
        return self

    @staticmethod
    def _open_port(port: serial.SerialBase) -> None:
        """Open `port`; a refused socket:// connection is tried again for `RECONNECT_S`."""
        deadline = time.monotonic() + RECONNECT_S
        while True:
            try:
                port.open()
                return
            except serial.SerialException as error:
                if not (isinstance(port, SocketSerial) and _refused(error)
                        and time.monotonic() < deadline):
                    raise
            _wait(None, _RECONNECT_PAUSE_S)

    def close(self) -> None:
        """Sign off (break) if still in programming mode, then close the port."""
        if self._port is None:
            return
        try:
            if self.conn.state is State.PROG:
                self.sign_off()
        except (ProtocolError, serial.SerialException, OSError):
            pass  # closing anyway: the meter returns to idle on its inactivity time-out
        finally:
            self._port.close()
            self._port = None

    def __enter__(self) -> Client:
        return self.open()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def port(self) -> serial.SerialBase:
        if self._port is None:
            raise ProtocolError(f"client for {self.url} is not open (use it as a context manager)")
        return self._port

    # ---- public operations ----
    def readout(self) -> list[Reading]:
        """Sign on and read the data readout (mode C option select '0'; modes A/B directly)."""
        ident = self._sign_on()
        if ident.mode == "C":
            self._send(OptionSelect.for_rate(self._rate_for(ident), OptionSelect.READOUT))
        event = self._expect("data readout")
        if isinstance(event, ErrorMessage):
            raise MeterError(event.text, "the readout request")
        if not isinstance(event, Readout):
            raise UnexpectedMessage("client", "AWAIT_READOUT", "accept", event)
        return [Reading.of(ds) for ds in event.datasets]

    def program(self, password: PasswordSource | None = None, level: str = "P1") -> Identification:
        """Sign on in programming mode (option select '1'); send the password if given."""
        ident = self._sign_on()
        if ident.mode != "C":
            self._abandon()
            raise ProtocolError(
                f"meter {ident.manufacturer}{ident.ident} is in mode {ident.mode}: "
                "programming mode needs mode C"
            )
        self._send(OptionSelect.for_rate(self._rate_for(ident), OptionSelect.PROGRAMMING))
        event = self._expect("P0 command")
        if isinstance(event, ErrorMessage):
            raise MeterError(event.text, "the programming-mode request")
        assert isinstance(event, Command)
        self.p0_operand = event.data.values[0].value if event.data is not None else ""
        if password is not None:
            self.password(password, level)
        return ident

    def password(self, password: PasswordSource, level: str = "P1") -> None:
        """Send P1 (password compared by the meter) or P2 (result of the secure algorithm;
        pass a callable to compute it from the P0 operand)."""
        if level not in ("P1", "P2"):
            raise ValueError(f"password level must be 'P1' or 'P2', got {level!r}")
        text = password(self.p0_operand or "") if callable(password) else password
        answer = self._command(Command("P", level[1], DataSet("", (Value(text),))))
        if isinstance(answer, Ack):
            return
        if isinstance(answer, ErrorMessage):
            raise PasswordRefused(f"meter refused the {level} password: ({answer.text})")
        raise PasswordRefused(f"meter refused the {level} password and signed off ({answer!r})")

    def read(self, address: str, args: Sequence[str] = (), *, command: str = "R1") -> list[Reading]:
        """R1 `address()`; R5/R6 with args, e.g. read('P.01', ('2301010000', '2301020000'),
        command='R5') sends `P.01(2301010000;2301020000)`. Partial blocks are collected."""
        if command not in ("R1", "R2", "R3", "R4", "R5", "R6"):
            raise ValueError(f"read command must be R1..R6, got {command!r}")
        answer = self._command(_command_of(command, address, tuple(args)))
        return self._readings(answer, f"{command} {address}")

    def write(self, address: str, values: str | Sequence[str], *, unit: str | None = None) -> None:
        """W1 `address(value[*unit])...`; the meter answers ACK."""
        texts = (values,) if isinstance(values, str) else tuple(values)
        vals = tuple(Value(t, unit if i == 0 else None) for i, t in enumerate(texts))
        answer = self._command(Command("W", "1", DataSet(address, vals)))
        if isinstance(answer, ErrorMessage):
            raise MeterError(answer.text, f"W1 {address}")
        if not isinstance(answer, Ack):
            raise UnexpectedMessage("client", "AWAIT_ANSWER", "accept as answer to W1", answer)

    def execute(self, address: str, values: Sequence[str] = ()) -> list[Reading]:
        """E2 `address(values)`; returns the data the meter sends back (empty on ACK)."""
        answer = self._command(_command_of("E2", address, tuple(values)))
        return self._readings(answer, f"E2 {address}")

    def sign_off(self) -> None:
        """Break `SOH B0 ETX BCC`: the meter returns to idle (no answer is due)."""
        self._send(BREAK)

    # ---- internals ----
    def _rate_for(self, ident: Identification) -> int:
        cap = min(ident.max_baud, self.max_baud)
        return max(r for r in MODE_C_BAUD.values() if r <= max(cap, START_BAUD))

    def _sign_on(self) -> Identification:
        if self.conn.state is not IDLE:
            self._abandon()
        self.port.reset_input_buffer()
        self._send(Request(self.device_address))
        event = self._expect("identification message")
        assert isinstance(event, Identification)
        self.identification = event
        return event

    def _command(self, command: Command) -> Message:
        if self.conn.state is not PROG:
            raise ProtocolError(
                f"{command.name} needs programming mode (call program() first); "
                f"client is in {self.conn.state.value}"
            )
        # Nothing is owed to us between commands: what came meanwhile is stale (an answer sent
        # again for a NAK that crossed it) and must not pass for the answer to this one.
        self.port.reset_input_buffer()
        self._send(command)
        lines: list[tuple[DataSet, ...]] = []
        while True:
            answer = self._expect(f"answer to {command.name}")
            if isinstance(answer, DataMessage) and answer.partial:
                lines.extend(answer.lines)
                self._send(Ack())  # next partial block, please
                continue
            if lines:
                if not isinstance(answer, DataMessage):
                    raise UnexpectedMessage(
                        "client", "AWAIT_ANSWER", "accept as last block", answer
                    )
                return DataMessage(tuple(lines) + answer.lines)
            return answer

    def _readings(self, answer: Message, what: str) -> list[Reading]:
        if isinstance(answer, ErrorMessage):
            raise MeterError(answer.text, what)
        if isinstance(answer, Ack):
            return []
        if isinstance(answer, DataMessage):
            return [Reading.of(ds) for ds in answer.datasets]
        raise UnexpectedMessage("client", "AWAIT_ANSWER", f"accept as answer to {what}", answer)

    def _send(self, message: Message) -> None:
        data = self.conn.send(message)
        self._write(data)

    def _write(self, data: bytes) -> None:
        # No pause before our own messages: the reaction time tr is the answering side's wait
        # (standards.md 6.6: end of received message -> start of the answer), kept by the meter.
        port = self.port
        try:
            fd = self._fd
            if fd is not None and not self._is_socket:
                self._write_all(fd, data)
            else:
                port.write(data)
            self._drain()
        except (serial.SerialException, OSError) as error:
            raise ConnectionLost(f"writing to {self.url} failed: {error}") from error
        self._apply_baud()

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        """Every byte to a serial device or pty, whose output queue takes a whole message
        at once: pyserial's write waits in select() after each os.write even then (a second
        system call, and on a loaded machine a second wait, per message). The descriptor is
        non-blocking (pyserial opens it so): a full queue waits here until it has room."""
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                select.select([], [fd], [], None)

    def _drain(self) -> None:
        """Wait until the bytes are out. tcdrain is not restarted after a signal (PEP 475 does
        not cover termios): a signal handled meanwhile (a profiler, SIGCHLD, the rig's own
        SIGINT guard) must not turn into a lost link."""
        for _ in range(10):
            try:
                self.port.flush()
                return
            except _TermiosError as error:
                if error.args[0] != errno.EINTR:
                    raise serial.SerialException(f"flush: {error}") from error
        self.port.flush()

    def _apply_baud(self) -> None:
        port = self._port
        if port is None or not self.switch_baud or port.baudrate == self.conn.baud:
            return
        if self.timing.baud_switch_delay:
            _wait(None, self.timing.baud_switch_delay)
        port.baudrate = self.conn.baud  # on the open port: never close/reopen (anchors.md 17)

    def _abandon(self) -> None:
        """Forget a half-finished session: back to idle and the start speed."""
        self.conn = self._new_connection()
        self._apply_baud()

    def _expect(self, what: str) -> Message:
        """The next message, after the connection dealt with noise, NAKs and repeats."""
        try:
            return self._expect_inner(what)
        except UnexpectedMessage:
            self._abandon()
            raise

    def _expect_inner(self, what: str) -> Message:
        while True:
            event = self._next_event()
            if isinstance(event, Ignored):
                continue
            if isinstance(event, Incident):
                log.info("IEC 62056-21 client %s: %s while waiting for %s: %s", self.url,
                         type(event).__name__, what, event.reason)
                if event.gave_up:
                    if event.reply:  # the break that ends the session (standards.md 6.6)
                        with contextlib.suppress(ConnectionLost):  # the failure is the news
                            self._write(event.reply)
                    self._apply_baud()
                    if isinstance(event, TimedOut):
                        raise ProtocolTimeout(
                            f"{event.awaited} (after {self.repeats} repeat(s))",
                            event.seconds,
                            event.partial,
                        )
                    if isinstance(event, Invalid):
                        raise event.error or ProtocolError(event.reason)
                    raise RepeatLimitExceeded(f"waiting for {what}: {event.reason}")
                if event.reply:
                    self._write(event.reply)
                continue
            self._apply_baud()
            return event

    def _next_event(self) -> Event:
        while True:
            event = self.conn.next_event()
            if event is not NEED_DATA:
                return event  # type: ignore[return-value]
            wait = self.conn.wait()
            if wait is None:
                raise ProtocolError(f"client in {self.conn.state.value} has nothing to wait for")
            data = self._read(wait[0], wait[1])
            if data:
                self.conn.receive_data(data)
            else:
                return self.conn.timeout()

    @staticmethod
    def _available(port: serial.SerialBase) -> bytes:
        """Whatever the transport holds now, without waiting. pyserial's socket:// reports
        in_waiting as 0 or 1 (a select, not a count), so there one non-blocking read takes
        all that arrived; elsewhere in_waiting is the byte count."""
        if isinstance(port, SocketSerial):
            saved = port.timeout
            port.timeout = 0
            try:
                out = b""
                while chunk := port.read(_CHUNK):
                    out += chunk
                return out
            finally:
                port.timeout = saved
        out = b""
        while waiting := port.in_waiting:
            out += port.read(waiting)
        return out

    @staticmethod
    def _descriptor(port: serial.SerialBase) -> int | None:
        """The port's file descriptor to wait on (a serial device, a pty, socket://); None
        where the transport has none (loop://, rfc2217://): those are polled."""
        try:
            return int(port.fileno())
        except (AttributeError, NotImplementedError, OSError, ValueError,
                serial.SerialException):
            return None

    def _read(self, seconds: float, what: str) -> bytes:
        port = self.port
        fd = self._fd
        deadline = time.monotonic() + seconds
        empty = False  # the last read found the port readable and returned nothing
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b""
            data = b""
            try:
                # Sleep until the first byte comes or the time-out is due (no wake-ups while
                # the meter keeps its reaction time: 48 waiting clients cost no CPU); the
                # read then takes it, or raises if the peer hung up.
                if fd is not None and not _wait(fd, remaining):
                    continue
                if fd is not None and not self._is_socket:
                    # A serial device or pty found readable: one read takes
                    # all that is there (pyserial's read(1) then in_waiting and read(n) took
                    # five system calls, each a wait on a loaded machine). b'' here is a
                    # hang-up, as pyserial reports it.
                    try:
                        data = os.read(fd, _CHUNK)  # pyserial opens it non-blocking
                    except BlockingIOError:
                        continue  # taken meanwhile (another reader of the port)
                    if not data:
                        # Once can be a pty's race (readable, then nothing: seen in about 2 %
                        # of one test's runs); a port that hung up says so again at once.
                        if not empty:
                            empty = True
                            continue
                        raise serial.SerialException("the device reports readiness to read "
                                                     "but returned no data (disconnected?)")
                    return data
                data = port.read(1)  # waits up to _POLL for the first byte
                if data:
                    data += self._available(port)
            except (serial.SerialException, OSError) as error:
                if data:  # hand over what arrived; the next read reports the loss
                    return data
                pending = self.conn.pending
                raise ConnectionLost(
                    f"{self.url} closed while waiting for {what}"
                    + (f" (received only {pending[:40]!r})" if pending else "")
                    + f": {error}"
                ) from error
            if data:
                return data
