"""rig.sim.serving: one thread serves every instrument; a slow or stuck link holds back only its
own connection."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from rig.sim.lineserver import TcpLineServer
from rig.sim.serving import ServingLoop

TIMEOUT_S = 10.0  # generous: the machine may be loaded


class Named:
    """Answers every line with the server's name; records the thread each call ran in."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.threads: set[threading.Thread] = set()

    def __call__(self, lines: list[str]) -> list[str]:
        self.threads.add(threading.current_thread())
        return [f"{self.name}:{line}" for line in lines]


@pytest.fixture
def loop() -> Iterator[ServingLoop]:
    running = ServingLoop("test-serving").start()
    yield running
    running.stop()


def _connect(server: TcpLineServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _line(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(4096)
        assert chunk, "connection closed early"
        data += chunk
    return data.decode().rstrip("\n")


def test_twelve_instruments_on_one_thread_answer_requests_sent_before_any_reply_is_read(
    loop: ServingLoop,
) -> None:
    handlers = [Named(f"mad{k}") for k in range(1, 13)]
    servers = [TcpLineServer(h, "\n", h.name, loop) for h in handlers]
    for s in servers:
        s.start()
    socks = [_connect(s) for s in servers]
    try:
        for k, sock in enumerate(socks):  # as rig.instruments.steps.run_together sends
            sock.sendall(f"poll {k}\n".encode())
        assert [_line(sock) for sock in socks] == [f"mad{k + 1}:poll {k}" for k in range(12)]
        threads = set().union(*(h.threads for h in handlers))
        assert len(threads) == 1 and threads != {threading.current_thread()}
    finally:
        for sock in socks:
            sock.close()
        for s in servers:
            s.close()


def test_a_slow_reply_holds_back_its_own_connection_only(loop: ServingLoop) -> None:
    slow = TcpLineServer(Named("slow"), "\n", "slow", loop)
    fast = TcpLineServer(Named("fast"), "\n", "fast", loop)
    slow.faults.delay_s = 2.0
    for s in (slow, fast):
        s.start()
    a, b = _connect(slow), _connect(fast)
    try:
        t0 = time.monotonic()
        a.sendall(b"first\nsecond\n")  # one message: one reply after the delay
        b.sendall(b"now\n")
        assert _line(b) == "fast:now"
        answered_fast = time.monotonic() - t0
        assert _line(a) == "slow:first\nslow:second"
        assert time.monotonic() - t0 >= 2.0  # the delay was kept
        slow.faults.delay_s = 0.0
        a.sendall(b"third\n")  # the link is read again after its slow reply
        assert _line(a) == "slow:third"
        # The other instrument did not wait for the slow one (generous: a loaded machine).
        assert answered_fast < 2.0
    finally:
        a.close()
        b.close()
        slow.close()
        fast.close()


def test_a_client_that_never_reads_stops_being_read_and_the_others_are_served(
    loop: ServingLoop,
) -> None:
    big = TcpLineServer(lambda lines: ["x" * 60000 for _ in lines], "\n", "big", loop)
    other = TcpLineServer(Named("other"), "\n", "other", loop)
    for s in (big, other):
        s.start()
    hog, sock = _connect(big), _connect(other)
    try:
        hog.setblocking(False)
        for _ in range(200):  # 12 MB of replies asked for, none read
            try:
                hog.send(b"q\n" * 10)
            except BlockingIOError:
                break  # the server stopped reading it: its send buffer filled up first
        sock.sendall(b"still?\n")
        assert _line(sock) == "other:still?"
    finally:
        hog.close()
        sock.close()
        big.close()
        other.close()


def test_call_runs_in_the_loop_thread_and_hands_back_value_and_exception(
    loop: ServingLoop,
) -> None:
    assert loop.call(threading.current_thread) is not threading.current_thread()

    def fails() -> None:
        raise ValueError("from the loop")

    with pytest.raises(ValueError, match="from the loop"):
        loop.call(fails)
