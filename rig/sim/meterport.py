"""The simulated meters' IEC 62056-21 ports, served by the simulator's one ServingLoop thread.

A MeterServer (meter.iec62056_21.server) would serve its port from a thread of its own; at 12
positions 12 such threads and the rig's threads hand the GIL and the world's lock to one
another at every exchange. Here the loop that serves the instruments (rig.sim.serving) serves
every meter port too: a `MeterPort` watches the server's pty master (or its TCP listener, then
the one connection accepted, one client at a time as the server's own thread does) and drives
the link's sans-IO LineSession (meter.iec62056_21.session), the same serving logic as the
server's thread: input read -> `receive`, the wait the session asked for run out -> `time_out`
(a loop timer, or, for a wait of 0 on a virtual line, a look for input already there), its
output written before it waits again. meter/ knows nothing of the loop (DESIGN.md: meter/
does not import rig/); this module adapts one to the other.

Nothing here blocks: reads and writes are non-blocking. An answer the port cannot take at once
(a client that stopped reading filled it) is written as the port drains, the session held
until it is out, and dropped after `WRITE_STALL_S` without progress, as the server's thread
does (a meter's transmitter does not wait for a listener).
"""

from __future__ import annotations

import functools
import logging
import os
import socket

from meter.iec62056_21.server import FAILED_RETRY_S, GONE_ERRNOS, WRITE_STALL_S, MeterServer
from meter.iec62056_21.session import CLOSED, LineSession
from rig.sim.serving import ServingLoop

log = logging.getLogger("rig.sim")

_READ_SIZE = 4096


class MeterPort:
    """One MeterServer's port served in `loop` (created, not started: `start` replaces the
    server's own thread)."""

    def __init__(self, server: MeterServer, loop: ServingLoop) -> None:
        self.server = server
        self.loop = loop
        self._session: LineSession | None = None
        self._fd = -1  # the link being served: the pty master or the accepted connection
        self._sock: socket.socket | None = None  # the accepted TCP connection
        self._out = b""  # output the port has not taken yet
        self._token = 0  # the current wait's timer (a timer of an older wait does nothing)
        self._watching = ""  # what the link is watched for: "read", "write" or ""
        self._closed = False

    # -- lifecycle (any thread) --------------------------------------------------------------
    def start(self) -> MeterPort:
        self.loop.call(self._open)
        return self

    def close(self) -> None:
        """Stop serving and free the port (the loop may have stopped already)."""
        self.loop.call(self._shut)
        self.server.close()

    # -- in the loop's thread ----------------------------------------------------------------
    def _open(self) -> None:
        listener = self.server.listener
        if listener is not None:
            listener.setblocking(False)
        self._next_link()

    def _shut(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._token += 1
        if self._session is not None:
            self._session.stop()
            self.server.session_ended(self._session)
            self._session = None
        self._end_link()
        listener = self.server.listener
        if listener is not None:
            self.loop.watch(listener)

    def _accept(self) -> None:
        listener = self.server.listener
        if self._closed or listener is None or self._session is not None:
            return
        try:
            sock, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        self.loop.watch(listener)  # one client at a time: the next waits in the backlog
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self._begin(sock.fileno(), sock)

    def _begin(self, fd: int, sock: socket.socket | None) -> None:
        self._fd, self._sock, self._out = fd, sock, b""
        self._session = self.server.open_session(is_socket=sock is not None)
        self._pump()

    def _end_link(self) -> None:
        """The link is no longer served: unwatched, a TCP connection closed."""
        self._watch("")
        if self._sock is not None:
            self._sock.close()
        self._fd, self._sock, self._out = -1, None, b""

    def _ended(self, session: LineSession) -> None:
        """The session ended (the client went away, an idle connection, a failure): serve the
        next link, after a pause if it failed (the server's thread does the same)."""
        self.server.session_ended(session)
        self._session = None
        self._end_link()
        if self._closed:
            return
        if session.failed or self.server.listener is None:
            # A pty's session ends only by a failure or a hang-up (EIO, which the held slave
            # should prevent): a pause, lest a port that keeps failing take the loop.
            self.loop.call_later(FAILED_RETRY_S, self._next_link)
        else:
            self._next_link()

    def _next_link(self) -> None:
        if self._closed:
            return
        listener = self.server.listener
        if listener is None:
            self._begin(self.server.pty_master, None)  # a pty is served for the port's life
        else:
            self.loop.watch(listener, read=self._accept)

    def _pump(self) -> None:
        """Run the session until it waits for input: write its output, and while it waits 0 s
        (an answer due now) look for input already there."""
        session = self._session
        while session is not None and not self._closed:
            self._out += session.data_to_send()
            if self._out and not self._flush():
                return  # the port is full: the rest goes out as it drains (`_writable`)
            if session.ended:
                self._ended(session)
                return
            wait = session.wait
            if wait is not None and wait <= 0:
                data = self._read()
                if data is None:
                    session.time_out()
                else:
                    session.receive(data)
                continue
            self._token += 1
            self._watch("read")
            if wait is not None:
                self.loop.call_later(wait, functools.partial(self._timer, self._token))
            return

    def _watch(self, what: str) -> None:
        """Watch the link for "read", "write" or nothing (""); unchanged, no system call."""
        if what == self._watching or self._fd < 0:
            return
        if what == "read":
            self.loop.watch(self._fd, read=self._readable)
        elif what == "write":
            self.loop.watch(self._fd, write=self._writable)
        else:
            self.loop.watch(self._fd)
        self._watching = what

    def _readable(self) -> None:
        session = self._session
        if session is None or self._closed:
            return
        data = self._read()
        if data is None:
            return
        self._token += 1  # the wait's timer is void
        session.receive(data)
        self._pump()

    def _timer(self, token: int) -> None:
        session = self._session
        if token != self._token or session is None or self._closed:
            return
        session.time_out()
        self._pump()

    def _read(self) -> bytes | None:
        """What the link has now (CLOSED: the client went away), None if nothing."""
        try:
            return os.read(self._fd, _READ_SIZE)  # b'' = TCP EOF
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as error:
            if error.errno in GONE_ERRNOS:
                return CLOSED
            raise

    def _flush(self) -> bool:
        """Write what the port takes now; True once everything is out (or dropped)."""
        try:
            n = os.write(self._fd, self._out)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError as error:
            log.info("IEC 62056-21 server %s: write failed (%s)", self.server.address, error)
            self._out = b""
            return True
        self._out = self._out[n:]
        if not self._out:
            return True
        # The port is full: wait for it to drain (not reading meanwhile, as a thread blocked
        # in write does not), dropping the rest after a stall.
        self._token += 1
        self._watch("write")
        self.loop.call_later(WRITE_STALL_S, functools.partial(self._stalled, self._token))
        return False

    def _writable(self) -> None:
        if self._closed or self._session is None:
            return
        if self._flush():
            self._pump()

    def _stalled(self, token: int) -> None:
        if token != self._token or self._closed or self._session is None:
            return
        log.info("IEC 62056-21 server %s: nobody reads the port, %d bytes dropped",
                 self.server.address, len(self._out))
        self._out = b""
        self._pump()
