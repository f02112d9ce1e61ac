"""Line transports for the simulated instruments: TCP on 127.0.0.1 (a VISA SOCKET resource) and
a pty (a VISA ASRL resource / pyserial port).

A transport owns no behaviour: the lines of each received chunk go to `handler(lines) -> reply
lines` together (a message of several commands is carried out as one), and the replies go back
with the dialect's terminator. Instrument faults that belong to the link
(slow replies, a dropped connection) are applied here.

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
import re
import select
import socket
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("rig.sim")

Handler = Callable[[list[str]], list[str]]
_LINE_END = re.compile(rb"[\r\n]")  # either ends a line; empty lines are skipped


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
        *complete, self._buf = _LINE_END.split(self._buf + data)  # the last piece is unfinished
        lines = [x.decode("ascii", errors="replace").strip() for x in complete if x.strip()]
        if len(self._buf) > 65536:  # no terminator in 64 KiB: garbage, drop it
            self._buf = b""
        return lines


class _LineServer:
    """What both transports share: from received bytes to the bytes of the reply."""

    def __init__(self, handler: Handler, terminator: str, name: str) -> None:
        self.handler = handler
        self.terminator = terminator.encode()
        # What ends a reply line, where the instrument's differs from its commands' (a
        # dialect's `reply_terminator`, set by rig.sim.bench).
        self.reply_terminator = self.terminator
        self.name = name
        self.faults = LinkFaults()
        self.failures = 0  # messages whose handler raised (logged; the server went on)

    def _reply(self, splitter: _LineSplitter, data: bytes) -> bytes:
        """The reply to one received chunk (b"" for none), after the injected faults. The
        replies to every line of a chunk go out together: a client that sends several
        commands in one write gets one segment back, not one per line."""
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
        if self.faults.delay_s > 0:
            time.sleep(self.faults.delay_s)  # injected slow reply
        end = self.reply_terminator
        return b"".join(r.encode("ascii", errors="replace") + end for r in replies)


class TcpLineServer(_LineServer):
    """Accepts any number of clients; one thread per client."""

    def __init__(self, handler: Handler, terminator: str, name: str) -> None:
        super().__init__(handler, terminator, name)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._accept, name=f"sim-{name}-accept", daemon=True)

    @property
    def address(self) -> str:
        return f"TCPIP::127.0.0.1::{self.port}::SOCKET"

    def start(self) -> None:
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._stopping:
                    return
                time.sleep(0.05)  # e.g. out of file descriptors: the instrument stays up
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._clients.add(conn)
            threading.Thread(
                target=self._serve, args=(conn,), name=f"sim-{self.name}-client", daemon=True
            ).start()

    def _serve(self, conn: socket.socket) -> None:
        splitter = _LineSplitter()
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                reply = self._reply(splitter, data)
                if reply:
                    conn.sendall(reply)
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(conn)
            conn.close()

    def drop_connections(self) -> int:
        """Close every client connection now (the instrument 'drops' the link)."""
        with self._lock:
            clients = list(self._clients)
        for c in clients:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        return len(clients)

    def close(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self.drop_connections()
        self._thread.join(timeout=2)


class PtyLineServer(_LineServer):
    """Serves a line dialect on a pty; clients open `path` (VISA `ASRL<path>::INSTR`)."""

    def __init__(self, handler: Handler, terminator: str, name: str) -> None:
        super().__init__(handler, terminator, name)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"sim-{name}-pty", daemon=True)

    @property
    def address(self) -> str:
        return f"ASRL{self.path}::INSTR"

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        splitter = _LineSplitter()
        while True:
            ready, _, _ = select.select([self._master, self._wake_r], [], [])
            if self._wake_r in ready:
                return
            try:
                data = os.read(self._master, 4096)
            except OSError:
                continue
            reply = self._reply(splitter, data)
            if reply:
                # Non-blocking: a client that never reads loses replies (as on a serial line
                # whose receiver overflows) instead of stopping this, the port's only thread.
                with contextlib.suppress(OSError):
                    os.write(self._master, reply)

    def drop_connections(self) -> int:
        """A serial line cannot be dropped; the nearest fault is a line that stops answering."""
        self.faults.silent = True
        return 0

    def close(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            os.close(fd)
