"""rig.sim.lineserver: line splitting, and a message's lines handed over together (TCP, pty)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
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
