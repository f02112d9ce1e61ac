"""The client's socket:// port: closed at once, a refused reconnect tried again.

pyserial 3.5 ends the close of a socket:// port with `time.sleep(0.3)` ("in case of quick
reconnects, give the server some time", serial/urlhandler/protocol_socket.py); the rig opens a
session per reading, so that was 0.3 s of every session (meter.iec62056_21.client.SocketPort).
"""

from __future__ import annotations

import socket
import threading

import pytest
import serial
import serial.urlhandler.protocol_socket as pyserial_socket

from meter.iec62056_21 import Client, MeterServer
from meter.iec62056_21 import client as client_module
from meter.iec62056_21.client import SocketPort, port_for_url

from .conftest import FAST
from .demo_bank import PASSWORD, DemoBank


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"pyserial's socket:// close slept {seconds} s")


def test_sessions_back_to_back_over_tcp_close_without_pyserial_sleep(monkeypatch):
    # The old close went through pyserial's, which sleeps 0.3 s: it would raise here.
    monkeypatch.setattr(pyserial_socket.time, "sleep", _no_sleep)
    with MeterServer(DemoBank(), transport="tcp", timing=FAST) as server:
        for _ in range(3):  # each session opens a new connection right after the last closed
            client = Client(server.url, timing=FAST)
            with client:
                port = client.port
                assert isinstance(port, SocketPort)
                client.program(password=PASSWORD)
                assert client.read("1.8.0")[0].raw == "001000.0"
            assert not port.is_open and port._socket is None
        assert server.sessions == 3


def _unlistened() -> tuple[str, int]:
    """An address on 127.0.0.1 nobody listens on: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host, number = probe.getsockname()
    return host, number


def test_a_refused_connection_is_tried_again_until_the_server_listens():
    host, number = _unlistened()
    accepted: list[bool] = []
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def listen_later() -> None:
        listener.bind((host, number))
        listener.listen(1)
        conn, _ = listener.accept()
        accepted.append(True)
        conn.close()

    timer = threading.Timer(0.2, listen_later)
    timer.start()
    try:
        with Client(f"socket://{host}:{number}", timing=FAST) as client:
            assert client.port.is_open
        timer.join(5)
        assert accepted == [True]
    finally:
        timer.cancel()
        listener.close()


def test_a_connection_refused_for_longer_than_the_retry_time_names_the_port(monkeypatch):
    monkeypatch.setattr(client_module, "RECONNECT_S", 0.15)
    host, number = _unlistened()
    url = f"socket://{host}:{number}"
    with pytest.raises(serial.SerialException, match=rf"{url}.*refused"):
        Client(url, timing=FAST).open()


def test_only_socket_urls_get_the_socket_port():
    port = port_for_url("SOCKET://127.0.0.1:1", do_not_open=True)  # scheme: any case
    assert isinstance(port, SocketPort) and not port.is_open
    assert port.port == "SOCKET://127.0.0.1:1"
    loop = port_for_url("loop://", do_not_open=True)
    assert not isinstance(loop, SocketPort)
    assert isinstance(loop, serial.SerialBase)
