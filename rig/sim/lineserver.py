"""Line transports for the simulated instruments: TCP on 127.0.0.1 (a VISA SOCKET resource) and
a pty (a VISA ASRL resource / pyserial port).

A transport owns no behaviour: the lines of each received chunk go to `handler(lines) -> reply
lines` together (a message of several commands is carried out as one), and the replies go back
with the dialect's terminator, in one send. Instrument faults that belong to the link
(slow replies, a dropped connection) are applied here.

Every server of a simulated bench is served by one thread (rig.sim.serving.ServingLoop, passed as
`loop`); a server given none runs a loop of its own. A connection is read again only once its
reply is out: a slow reply (a timer, not a sleep) holds its own connection back and no other,
and a client that does not read its replies stops being read, as a blocked send would stop it.

pty facts (anchors.md 17): the server keeps its own slave fd open so the master never sees EIO
when a client closes the port, and sets the slave raw (no echo, no CR/LF translation).

No byte sequence stops a server: bytes outside ASCII reach the handler as U+FFFD, replies are
sent as ASCII with '?' for anything else, and a handler that raises is logged and the message
goes unanswered (as a real instrument ignores what it cannot parse); the serving loop goes on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import tty
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from rig.sim.serving import ServingLoop

log = logging.getLogger("rig.sim")

Handler = Callable[[list[str]], list[str]]
Callback = Callable[[], None]
_LINE_ENDS = (b"\r", b"\n")  # either ends a line; empty lines are skipped


@dataclass
class LinkFaults:
    """Faults injected from the control endpoint. `silent` = the instrument stops answering."""

    delay_s: float = 0.0
    silent: bool = False


class _LineSplitter:
    """Splits a byte stream on any of CR, LF (SCPI lines end in LF, possibly CR LF; MTE in CR)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[str]:
        buf = self._buf + data if self._buf else data
        # bytes.splitlines splits at CR, LF and CR LF only (and costs half a regex split); a
        # last piece with no line end is unfinished.
        complete = buf.splitlines()
        self._buf = b"" if buf[-1:] in _LINE_ENDS or not complete else complete.pop()
        lines = [x.decode("ascii", errors="replace").strip() for x in complete if x.strip()]
        if len(self._buf) > 65536:  # no terminator in 64 KiB: garbage, drop it
            self._buf = b""
        return lines


class _LineServer(ABC):
    """What both transports share: from received bytes to the bytes of the reply, served by a
    loop (one of its own unless given the bench's)."""

    def __init__(
        self, handler: Handler, terminator: str, name: str, loop: ServingLoop | None
    ) -> None:
        self.handler = handler
        self.terminator = terminator.encode()
        # What ends a reply line, where the instrument's differs from its commands' (a
        # dialect's `reply_terminator`, set by rig.sim.bench).
        self.reply_terminator = self.terminator
        self.name = name
        self.faults = LinkFaults()
        self.failures = 0  # messages whose handler raised (logged; the server went on)
        self._own_loop = loop is None
        self.loop = loop if loop is not None else ServingLoop(f"sim-{name}")

    def start(self) -> None:
        if self._own_loop:
            self.loop.start()
        self.loop.call(self._open)

    def close(self) -> None:
        self.loop.call(self._shut)
        if self._own_loop:
            self.loop.stop()

    @abstractmethod
    def _open(self) -> None:
        """Register with the loop (in its thread)."""

    @abstractmethod
    def _shut(self) -> None:
        """Unregister and close everything (in the loop's thread)."""

    def _reply(self, splitter: _LineSplitter, data: bytes) -> bytes:
        """The reply to one received chunk (b"" for none), after the silent fault (the delay
        fault is the transport's: `_delay`). The replies to every line of a chunk go out
        together: a client that sends several commands in one write gets one segment back, not
        one per line."""
        lines = splitter.feed(data)
        if not lines:
            return b""
        try:
            replies = self.handler(lines)
        except Exception:  # the instrument stays up whatever one message does to its model
            self.failures += 1
            log.exception("sim %s: message %r failed", self.name, lines)
            return b""
        if self.faults.silent or not replies:
            return b""
        end = self.reply_terminator.decode("ascii")
        return (end.join(replies) + end).encode("ascii", errors="replace")

    def _delay(self, reply: bytes) -> float:
        """How long `reply` is held back (the injected slow reply; the link is not read
        meanwhile)."""
        return self.faults.delay_s if reply else 0.0


class _Client:
    """One TCP connection of a TcpLineServer, served in the loop's thread."""

    def __init__(self, server: TcpLineServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.splitter = _LineSplitter()
        self.out = b""  # reply bytes the socket has not taken yet
        self.watching: str | None = None
        self.closed = False

    def readable(self) -> None:
        if self.closed:
            return
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        reply = self.server._reply(self.splitter, data)
        if not reply:
            return
        delay = self.server._delay(reply)
        if delay > 0:
            self.watch(None)
            self.server.loop.call_later(delay, lambda: self.send(reply))
            return
        try:  # the usual case, straight out: the socket takes the whole reply at once
            sent = self.sock.send(reply)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return
        if sent < len(reply):
            self.send(reply[sent:])

    def send(self, data: bytes) -> None:
        """Send `data` after what is waiting; read again once everything is out."""
        if self.closed:
            return
        self.out += data
        self.writable()

    def writable(self) -> None:
        if self.closed:
            return
        try:
            sent = self.sock.send(self.out)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return
        self.out = self.out[sent:]
        self.watch("write" if self.out else "read")

    def watch(self, what: str | None) -> None:
        """Have the loop call `readable` ("read"), `writable` ("write") or neither (None); a
        change only (each is a system call)."""
        if what != self.watching:
            self.watching = what
            self.server.loop.watch(
                self.sock,
                read=self.readable if what == "read" else None,
                write=self.writable if what == "write" else None,
            )

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.watch(None)
        self.server._forget(self)
        self.sock.close()


class TcpLineServer(_LineServer):
    """Accepts any number of clients on 127.0.0.1, a port chosen by the OS."""

    def __init__(
        self, handler: Handler, terminator: str, name: str, loop: ServingLoop | None = None
    ) -> None:
        super().__init__(handler, terminator, name, loop)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.setblocking(False)
        self.port: int = self._sock.getsockname()[1]
        self._clients: set[_Client] = set()
        self._lock = threading.Lock()  # the set is read by drop_connections in any thread

    @property
    def address(self) -> str:
        return f"TCPIP::127.0.0.1::{self.port}::SOCKET"

    def _open(self) -> None:
        self.loop.watch(self._sock, read=self._accept)

    def _accept(self) -> None:
        try:
            conn, _ = self._sock.accept()
        except BlockingIOError:
            return
        except OSError:
            # e.g. out of file descriptors: the instrument stays up and tries again shortly
            self.loop.watch(self._sock)
            self.loop.call_later(0.05, self._open)
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setblocking(False)
        client = _Client(self, conn)
        with self._lock:
            self._clients.add(client)
        client.watch("read")

    def _forget(self, client: _Client) -> None:
        with self._lock:
            self._clients.discard(client)

    def drop_connections(self) -> int:
        """Close every client connection now (the instrument 'drops' the link): shut down here,
        in any thread; the loop sees each end and closes it."""
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            with contextlib.suppress(OSError):
                c.sock.shutdown(socket.SHUT_RDWR)
        return len(clients)

    def _shut(self) -> None:
        self.loop.watch(self._sock)
        self._sock.close()
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            c.close()


class PtyLineServer(_LineServer):
    """Serves a line dialect on a pty; clients open `path` (VISA `ASRL<path>::INSTR`)."""

    def __init__(
        self, handler: Handler, terminator: str, name: str, loop: ServingLoop | None = None
    ) -> None:
        super().__init__(handler, terminator, name, loop)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._splitter = _LineSplitter()
        self._closed = False

    @property
    def address(self) -> str:
        return f"ASRL{self.path}::INSTR"

    def _open(self) -> None:
        self._resume()

    def _resume(self) -> None:
        if not self._closed:
            self.loop.watch(self._master, read=self._readable)

    def _readable(self) -> None:
        if self._closed:
            return
        try:
            data = os.read(self._master, 4096)
        except OSError:  # EIO/EAGAIN: nothing to read now
            return
        reply = self._reply(self._splitter, data)
        delay = self._delay(reply)
        if delay > 0:
            self.loop.watch(self._master)

            def answer() -> None:
                self._write(reply)
                self._resume()

            self.loop.call_later(delay, answer)
        elif reply:
            self._write(reply)

    def _write(self, reply: bytes) -> None:
        # Non-blocking: a client that never reads loses replies (as on a serial line whose
        # receiver overflows) instead of holding up the port.
        if not self._closed:
            with contextlib.suppress(OSError):
                os.write(self._master, reply)

    def drop_connections(self) -> int:
        """A serial line cannot be dropped; the nearest fault is a line that stops answering."""
        self.faults.silent = True
        return 0

    def _shut(self) -> None:
        self._closed = True
        self.loop.watch(self._master)
        for fd in (self._master, self._slave):
            os.close(fd)
