"""Meter ports served by one ServingLoop (rig.sim.meterport): real ptys and TCP, the rig's
IEC 62056-21 Client, the wall clock (the meter tests' FAST timing, standards.md 6.6 shrunk).
The serving logic is the MeterServer's own (meter.iec62056_21.session); what is checked here
is the loop's side: several ports in one thread, waits as timers, one TCP client at a time,
the inactivity close, a port nobody reads, close()."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from meter.iec62056_21 import Client, DataSet, MeterServer, State, Timing
from rig.sim.meterport import MeterPort
from rig.sim.serving import ServingLoop
from tests.meter.iec62056_21.conftest import FAST
from tests.meter.iec62056_21.demo_bank import PASSWORD, DemoBank

REQUEST = b"/?!\r\n"
IDENT = b"/ABC5DEMO1000\r\n"


@contextmanager
def ports(*servers: MeterServer) -> Iterator[list[MeterPort]]:
    loop = ServingLoop("test-meterports").start()
    served = [MeterPort(server, loop).start() for server in servers]
    try:
        yield served
    finally:
        for port in served:
            port.close()
        loop.stop()


def _serving_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("iec62056-21")]


def _wait_for(predicate, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_sessions_on_several_ports_in_one_thread(transport: str) -> None:
    banks = [DemoBank(), DemoBank()]
    servers = [MeterServer(b, transport=transport, timing=FAST) for b in banks]
    with ports(*servers):
        assert _serving_threads() == []  # no thread per port: the loop serves them
        for n, server in enumerate(servers):
            with Client(server.url, timing=FAST) as client:
                client.program(password=PASSWORD)
                client.write("0.9.1", f"12000{n}")
                assert client.read("0.9.1")[0].raw == f"12000{n}"
                client.sign_off()
            with Client(server.url, timing=FAST) as client:
                assert len(client.readout()) == len(banks[n].registers)
        # On a pty the held slave outlives every client's close: the port never hangs up; on
        # TCP each client's connection ends when it closes, which the loop takes up when it
        # next reads it (the client's close no longer sleeps 0.3 s meanwhile: SocketPort).
        gone = 0 if transport == "pty" else 2
        _wait_for(lambda: [s.disconnects for s in servers] == [gone] * 2)
        assert [(s.sessions, s.dropped, s.disconnects) for s in servers] == [(2, 0, gone)] * 2
        assert [b.registers["0.9.1"].values[0].value for b in banks] == ["120000", "120001"]


def test_a_multi_drop_bus_answers_each_address_on_one_port() -> None:
    banks = [DemoBank(address="A1"), DemoBank(address="B2", ident="DEMO2000")]
    server = MeterServer(banks, transport="pty", timing=FAST)
    with ports(server):
        for address, ident in (("B2", "DEMO2000"), ("A1", "DEMO1000")):
            with Client(server.url, timing=FAST, device_address=address) as client:
                assert client.program(password=PASSWORD).ident == ident
                assert client.read("C.1.0")[0].raw == "12345678"
                client.sign_off()


def test_an_answer_waits_the_reaction_time_and_input_meanwhile_drops_it() -> None:
    # tr of 0.4 s in wall time is a loop timer: a request repeated within it is answered
    # once (standards.md 6.6: tr >= 200 ms; the client spoke, so the first answer is stale).
    slow = Timing(reaction_min=0.4, reaction_min_fast=0.4, option_select_wait=2.0)
    server = MeterServer(DemoBank(), transport="tcp", timing=slow)
    host, port = server.address.split(":")
    with ports(server), socket.create_connection((host, int(port))) as sock:
        sock.settimeout(5.0)
        t0 = time.monotonic()
        sock.sendall(REQUEST)
        time.sleep(0.1)
        sock.sendall(REQUEST)
        assert sock.recv(100) == IDENT
        assert time.monotonic() - t0 >= 0.1 + 0.4 - 0.01
        sock.settimeout(0.6)
        with pytest.raises(TimeoutError):
            sock.recv(100)  # one identification only
        assert server.dropped == 1 and server.sessions == 2


def test_tcp_serves_one_client_at_a_time_and_closes_an_idle_one() -> None:
    server = MeterServer(DemoBank(), transport="tcp", timing=FAST)
    host, port = server.address.split(":")
    with ports(server):
        first = socket.create_connection((host, int(port)))
        second = socket.create_connection((host, int(port)))
        second.settimeout(0.5)
        second.sendall(REQUEST)
        with pytest.raises(TimeoutError):
            second.recv(100)  # waits in the backlog while the first holds the port
        # The first says nothing: closed after the inactivity time-out (FAST: 2 s).
        first.settimeout(FAST.inactivity + 5.0)
        assert first.recv(100) == b""
        assert server.idle_closes == 1
        second.settimeout(5.0)
        assert second.recv(100) == IDENT  # then the next connection is served
        first.close()
        second.close()


class BigBank(DemoBank):
    """A readout of some 300 kB: more than a pty's buffers hold for a client that reads
    nothing."""

    def readout(self) -> list[DataSet]:
        return [DataSet.of(f"9.8.{n}", f"{n:030d}") for n in range(8000)]


def test_a_port_nobody_reads_holds_back_no_other_port(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rig.sim")
    lazy = MeterServer(BigBank(), transport="pty", timing=FAST)
    busy = MeterServer(DemoBank(), transport="pty", timing=FAST)
    with ports(lazy, busy):
        with open(lazy.address, "r+b", buffering=0) as port:
            port.write(REQUEST)
            time.sleep(0.3)
            port.write(b"\x06050\r\n")  # a readout asked for, and never read
            time.sleep(0.3)
            t0 = time.monotonic()
            with Client(busy.url, timing=FAST) as client:  # served meanwhile
                assert len(client.readout()) == len(DemoBank().registers)
            assert time.monotonic() - t0 < 2.0  # the other port's stall is 2 s
        # After the stall the rest is dropped, and the lazy port serves its next client.
        _wait_for(lambda: "nobody reads the port" in caplog.text)
        with Client(lazy.url, timing=FAST) as client:
            client.program(password=PASSWORD)
            assert client.read("0.9.2")[0].raw == "261125"
            client.sign_off()


def test_close_from_another_thread_mid_session() -> None:
    server = MeterServer(DemoBank(), transport="pty", timing=FAST)
    loop = ServingLoop("test-close").start()
    port = MeterPort(server, loop).start()
    client = Client(server.url, timing=FAST).open()
    client.program(password=PASSWORD)
    _wait_for(lambda: server.state is State.PROG)
    closer = threading.Thread(target=port.close)
    closer.start()
    closer.join(timeout=10)
    assert not closer.is_alive()
    assert server.pty_master == -1 and server.state is State.IDLE
    client.close()
    loop.stop()
