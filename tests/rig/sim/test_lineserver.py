"""rig.sim.lineserver: line splitting, and a message's lines handed over together (TCP, pty)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from rig.sim.dialects.base import Dialect
from rig.sim.lineserver import PtyLineServer, TcpLineServer, _LineSplitter


def test_splitter_takes_cr_lf_and_crlf_and_keeps_an_unfinished_line() -> None:
    s = _LineSplitter()
    assert s.feed(b"A?\nB 1;\r\nC\r\n\nD") == ["A?", "B 1;", "C"]
    assert s.feed(b"E?") == []  # still unfinished: "DE?"
    assert s.feed(b"\r") == ["DE?"]
    assert s.feed(b"x" * 70000) == [] and s.feed(b"\nF\n") == ["F"]  # 64 KiB garbage dropped


class Recorder:
    """A handler that records each call's lines and answers every query with its position."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.called = threading.Event()

    def __call__(self, lines: list[str]) -> list[str]:
        self.calls.append(list(lines))
        self.called.set()
        return [f"{i}:{line}" for i, line in enumerate(lines) if line.endswith("?")]


@pytest.fixture
def tcp() -> Iterator[tuple[TcpLineServer, Recorder]]:
    handler = Recorder()
    server = TcpLineServer(handler, "\n", "test")
    server.start()
    yield server, handler
    server.close()


def _read_lines(sock: socket.socket, n: int) -> list[str]:
    data = b""
    while data.count(b"\n") < n:
        chunk = sock.recv(4096)
        assert chunk, "connection closed early"
        data += chunk
    return data.decode().splitlines()


def test_tcp_message_of_several_lines_is_one_call_with_replies_in_order(tcp) -> None:
    server, handler = tcp
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"A 1;\nB?\nC?\n")
        assert _read_lines(sock, 2) == ["1:B?", "2:C?"]
    assert handler.calls == [["A 1;", "B?", "C?"]]


def test_pty_message_of_several_lines_is_one_call_with_replies_in_order() -> None:
    handler = Recorder()
    server = PtyLineServer(handler, "\r", "test")
    server.start()
    fd = os.open(server.path, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, b"A?\rB 2\rC?\r")
        data = b""
        while data.count(b"\r") < 2:
            data += os.read(fd, 4096)
        assert data == b"0:A?\r2:C?\r"
        assert handler.calls == [["A?", "B 2", "C?"]]
    finally:
        os.close(fd)
        server.close()


class World:
    """The part of the world a dialect's handle_lines touches, counting accesses."""

    def __init__(self) -> None:
        self.accesses = 0

    @contextlib.contextmanager
    def access(self) -> Iterator[World]:
        self.accesses += 1
        yield self


class Echo(Dialect):
    roles = ("reference",)

    def dispatch(self, line: str) -> list[str]:
        if line == "BOOM?":
            raise RuntimeError("model failed")
        return [line.lower()] if line.endswith("?") else []


def test_handle_lines_is_one_world_access_and_a_failing_line_keeps_the_others() -> None:
    world = World()
    dialect = Echo(world)  # type: ignore[arg-type]
    assert dialect.handle_lines(["A?", "SET 1", "BOOM?", "B?"]) == ["a?", "b?"]
    assert world.accesses == 1 and dialect.lines == 4
    assert list(dialect.errors) == [(-300, "Device-specific error (RuntimeError)")]
    assert dialect.handle("C?") == ["c?"] and world.accesses == 2


class Hostile:
    """A handler that echoes every line (non-ASCII included) and raises on 'BOOM'."""

    def __call__(self, lines: list[str]) -> list[str]:
        if "BOOM" in lines:
            raise RuntimeError("model failed")
        return [f"got {line}" for line in lines]


def test_tcp_server_survives_a_failing_handler_and_non_ascii_both_ways() -> None:
    server = TcpLineServer(Hostile(), "\n", "test")
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"BOOM\n")  # no answer, and the connection is still served
            deadline = time.monotonic() + 10
            while server.failures == 0 and time.monotonic() < deadline:
                time.sleep(0.01)  # the next message must not share BOOM's segment
            sock.sendall(b"\xff\xfeA\n")  # U+FFFD reaches the handler; '?' goes back
            assert _read_lines(sock, 1) == ["got ??A"]
        assert server.failures == 1
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"B\n")
            assert _read_lines(sock, 1) == ["got B"]
    finally:
        server.close()


def test_pty_server_survives_a_failing_handler_and_a_client_that_never_reads() -> None:
    server = PtyLineServer(Hostile(), "\r", "test")
    server.start()
    fd = os.open(server.path, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, b"BOOM\r\xff\r")
        for _ in range(200):  # ~200 KiB of replies nobody reads: more than a pty buffers
            os.write(fd, b"X" * 1000 + b"\r")
        # The port's only thread is still serving: throw away the backlog, then ask.
        os.set_blocking(fd, False)
        with contextlib.suppress(BlockingIOError):
            while os.read(fd, 65536):
                pass
        os.set_blocking(fd, True)
        os.write(fd, b"\rC\r")
        data = b""
        while not data.endswith(b"got C\r"):
            data += os.read(fd, 4096)
        assert server.failures == 1
    finally:
        os.close(fd)
        server.close()
