"""Minimal scripted line servers on 127.0.0.1 (TCP) and on a pty, for transport-level tests.

They only answer what a test scripts; the full simulated instruments live in rig/sim.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable

Responder = Callable[[str], list[str]]


class LineServer:
    """TCP server on 127.0.0.1:<ephemeral>: each line goes to `respond`, its lines are sent back.

    `drop_first` closes the first connection after its first line without replying.
    """

    def __init__(self, respond: Responder, terminator: str = "\n", drop_first: bool = False):
        self.respond = respond
        self.terminator = terminator
        self.drop_first = drop_first
        self.received: list[str] = []
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def resource(self) -> str:
        return f"TCPIP::127.0.0.1::{self.port}::SOCKET"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            t = threading.Thread(target=self._handle, args=(conn, self.connections), daemon=True)
            t.start()
            self._threads.append(t)

    def _handle(self, conn: socket.socket, number: int) -> None:
        buffer = ""
        with conn:
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                buffer += data.decode("ascii")
                while self.terminator in buffer:
                    line, buffer = buffer.split(self.terminator, 1)
                    line = line.rstrip("\r")
                    self.received.append(line)
                    if self.drop_first and number == 1:
                        conn.shutdown(socket.SHUT_RDWR)
                        return
                    for reply in self.respond(line):
                        conn.sendall((reply + self.terminator).encode("ascii"))

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._sock.close()
        self._accept.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)


class PtyServer:
    """A pty whose master side answers lines through `respond` (a serial instrument on a pty)."""

    def __init__(self, respond: Responder, terminator: str = "\r"):
        self.respond = respond
        self.terminator = terminator
        self.received: list[str] = []
        self.master, slave = os.openpty()
        self.device = os.ttyname(slave)
        self._slave = slave
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def resource(self) -> str:
        return f"ASRL{self.device}::INSTR"

    def _serve(self) -> None:
        import select

        buffer = ""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            buffer += data.decode("ascii")
            while self.terminator in buffer:
                line, buffer = buffer.split(self.terminator, 1)
                self.received.append(line)
                for reply in self.respond(line):
                    os.write(self.master, (reply + self.terminator).encode("ascii"))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self.master)
        os.close(self._slave)
