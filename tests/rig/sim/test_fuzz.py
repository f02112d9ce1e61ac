"""Fuzzing every simulated instrument, the control endpoint and the meter port (issue 19 part 3):
seeded random bytes and commands with hostile arguments, bounded in count. Afterwards every
server still answers a valid request, virtual time still moves and the source holds only finite
settings. Same seed, same bytes: a failure reproduces."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
import yaml

from meter.iec62056_21 import Client
from rig.sim import SimBench
from rig.sim.lineserver import PtyLineServer, TcpLineServer
from tests.processes import stop
from tests.rig.sim.conftest import REPO, SIM_BENCH

SEED = 19
CHUNKS = 150  # messages per instrument: each kind of garbage below comes up many times
REPLY_TIMEOUT_S = 20.0  # generous: the machine is shared

# Arguments a careless or hostile client sends: not numbers, non-finite, out of range, non-ASCII.
HOSTILE = ["nan", "NaN", "inf", "-inf", "1e999", "-1e999", "-1", "1e300", "", "ON", "\xff",
           "é", "1,2,3", "9" * 400, "0x10", "\x00", ";;", "?", "1 2"]
FLUKE = ["*RST", "*CLS", "OUTP:STAT", "SOUR:FREQ", "SOUR:PHAS1:VOLT", "SOUR:PHAS1:CURR",
         "SOUR:PHAS2:VOLT:PHAS", "SOUR:PHAS3:CURR:PHAS", "SOUR:PHAS1:VOLT:HARM3",
         "SOUR:PHAS1:CURR:HARM5", "OUTP:RAMP:TIME", "SYST:ERR?", "*IDN?"]
ZERA = ["*RST", "CALCULATE:EC01:0001:MRATE", "CALCULATE:EC01:0001:DUTCONSTANT",
        "CALCULATE:EC01:0001:DUTSOURCE", "CALCULATE:EC01:0001:START", "CALCULATE:EM01:0001:START",
        "CONFIGURATION:POW1:MMODE", "CONFIGURATION:POW1:M0CONSTANT", "MEASURE:POW1:P?",
        "SYSTEM:ERROR?", "*IDN?"]
MTE = ["MODE1", "U1,", "I2,", "PH3,", "W1,", "FRQ", "OWU1,3,", "OWI2,5,", "ON1", "OFF1", "SET",
       "STATU", "SE", "?1", "VER"]
# IEC 62056-21 frames (standards.md 6): request, password, option select, a read, a break.
METER = ["/?!", "/?12345678!", "\x01P1\x02(00000000)\x03", "\x06050", "\x06051",
         "\x01R1\x021.8.0()\x03", "\x01B0\x03"]
CONTROL_OPS = ["time", "advance", "advance_to", "source", "arm_watchdog", "fault", "overload",
               "interlock", "meter", "display", "pulses", "ec", "dosage", "realtime", "nope"]


def _garbage(rng: random.Random, commands: list[str], terminator: bytes) -> bytes:
    """One message: raw random bytes, a command with a hostile argument, or a long line."""
    kind = rng.randrange(5)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if kind == 1:
        return b"\xff" + rng.choice([b"", terminator])
    if kind == 2:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1000, 5000)))
    command = rng.choice(commands)
    glued = command.endswith((",", "?")) or command.startswith(("FRQ", "OW"))  # MTE: no space
    sep = "" if glued else " "
    arg = rng.choice(HOSTILE)
    if command.endswith("?"):
        arg = ""
    text = (command + sep + arg).encode("utf-8", errors="surrogateescape")
    return text + rng.choice([terminator, b"\r\n", b"\n", b"\r", terminator + terminator])


def _control_garbage(rng: random.Random) -> bytes:
    """A control request: JSON with hostile values, or not JSON at all."""
    if rng.random() < 0.3:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))) + b"\n"
    values: list[object] = [None, [], {}, "x", "nan", -1, 0, 1e12, 1e300, True, "\xff", 2**70,
                            1, "hold_reset", "display_text", "source", "silent"]
    request = {"op": rng.choice(CONTROL_OPS)}
    for key in rng.sample(["dt", "t", "timeout_s", "phase", "open", "on", "position", "action",
                           "instrument", "kind", "energy_kwh", "seconds"], rng.randrange(4)):
        request[key] = rng.choice(values)
    text = json.dumps(request)
    if rng.random() < 0.3:  # the constants Python's json writes but JSON has not
        text = text[:-1] + f', "dt": {rng.choice(["NaN", "Infinity", "-Infinity"])}}}'
    return text.encode() + b"\n"


class _Tcp:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT_S)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.drain()

    def drain(self, quiet_s: float = 0.0) -> None:
        """Throw away replies received until none came for `quiet_s`."""
        while select.select([self.sock], [], [], quiet_s)[0]:
            if not self.sock.recv(65536):
                return

    def ask(self, line: bytes, terminator: bytes) -> bytes:
        """The reply to `line`, sent after a terminator that ends whatever unfinished line the
        garbage left (a real instrument too would take the two as one line)."""
        self.drain(0.2)  # the replies to the garbage, still on their way
        self.sock.sendall(terminator + line)
        data = b""
        while not data.endswith(terminator):
            chunk = self.sock.recv(4096)
            assert chunk, "the instrument closed the connection"
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


class _Pty:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)
        self.drain()

    def drain(self) -> None:
        while select.select([self.fd], [], [], 0)[0]:
            os.read(self.fd, 65536)

    def ask(self, line: bytes, terminator: bytes) -> bytes:
        time.sleep(0.2)  # let the last garbage's replies arrive, then throw them away
        self.drain()
        os.write(self.fd, terminator + line)
        data, deadline = b"", time.monotonic() + REPLY_TIMEOUT_S
        while not data.endswith(terminator):
            ready = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))[0]
            assert ready, f"no answer to {line!r} within {REPLY_TIMEOUT_S} s: {data!r}"
            data += os.read(self.fd, 4096)
        return data

    def close(self) -> None:
        os.close(self.fd)


def _open(server: TcpLineServer | PtyLineServer) -> _Tcp | _Pty:
    return _Tcp(server.port) if isinstance(server, TcpLineServer) else _Pty(server.path)


def _bench(source_driver: str) -> SimBench:
    """The simulated bench with this source (the MTE is served on a pty, as on its RS-232)."""
    bench = yaml.safe_load(SIM_BENCH.read_text(encoding="utf-8"))
    bench["instruments"]["source"]["driver"] = source_driver
    return SimBench(bench=bench)


@contextlib.contextmanager
def _mte() -> Iterator[tuple[SimBench, _Pty]]:
    """A simulated bench with the MTE source, and a client on the source's pty."""
    with _bench("mte_pps4003") as sim:
        assert sim.simulator is not None
        client = _Pty(sim.simulator.instrument("source").server.path)
        try:
            yield sim, client
        finally:
            client.close()


@pytest.fixture(params=["fluke6105a", "mte_pps4003"])
def sim(request: pytest.FixtureRequest) -> Iterator[SimBench]:
    with _bench(request.param) as running:
        yield running


def _still_sane(sim: SimBench) -> None:
    """The world after fuzzing: finite settings, time moves, the control endpoint answers."""
    assert sim.control is not None
    with sim.world.access():
        for p in sim.world.source.state.phases:
            assert all(math.isfinite(v) for v in (p.u_rms, p.u_angle, p.i_rms, p.i_angle))
        assert math.isfinite(sim.world.source.state.frequency)
    sim.control.request("realtime", on=False)  # the fuzz may have switched it on
    t = sim.control.time()
    assert sim.control.advance(1.0) == pytest.approx(t + 1.0)


VALID: dict[str, tuple[bytes, Callable[[bytes], bool]]] = {
    "fluke6105a": (b"*IDN?\n", lambda r: r.startswith(b"FLUKE,6105A")),
    "zera_com5003": (b"*IDN?\n", lambda r: b"COM5003" in r),
    "mte_pps4003": (b"VER\r", lambda r: r.startswith(b"VER=PPS400.3")),
}
COMMANDS = {"fluke6105a": FLUKE, "zera_com5003": ZERA, "mte_pps4003": MTE}


def test_every_instrument_survives_any_bytes_and_then_answers(sim: SimBench) -> None:
    assert sim.simulator is not None
    rng = random.Random(SEED)
    for inst in sim.simulator.instruments.values():
        server = inst.server
        terminator = server.terminator
        client = _open(server)
        try:
            for _ in range(CHUNKS):
                client.send(_garbage(rng, COMMANDS[inst.driver], terminator))
            request, good = VALID[inst.driver]
            reply = client.ask(request, terminator)
            assert good(reply.split(terminator)[-2]), (inst.driver, reply)
        finally:
            client.close()
        if isinstance(server, TcpLineServer):  # and a new connection is served as well
            fresh = _Tcp(server.port)
            try:
                assert good(fresh.ask(request, terminator).split(terminator)[-2])
            finally:
                fresh.close()
    _still_sane(sim)


def test_one_ff_byte_does_not_stop_the_mte_source() -> None:
    """The issue's case: `\\xff` used to kill the MTE's only serving thread."""
    with _mte() as (_, client):
        client.send(b"\xff\r")
        assert client.ask(b"VER\r", b"\r").endswith(b"PPS400.3 #SIM0001\r")


@pytest.mark.parametrize("command", [b"W1,nan", b"U1,inf", b"PH2,-inf", b"FRQnan",
                                     b"OWU1,3,nan", b"I1,1e999"])
def test_mte_refuses_non_finite_numbers_and_time_still_moves(command: bytes) -> None:
    """docs/dialects.md 2: a refused setting is answered `<head>=E` and changes nothing."""
    with _mte() as (sim, client):
        assert client.ask(b"MODE1\r", b"\r") == b"MODE1=O\r"
        assert client.ask(command + b"\r", b"\r").endswith(b"=E\r")
        assert client.ask(b"SET\r", b"\r") == b"SET=O\r"
        _still_sane(sim)


@pytest.mark.parametrize("value", ["nan", "inf", "-INF"])
def test_scpi_instruments_queue_data_out_of_range_for_non_finite_numbers(value: str) -> None:
    """SCPI-99 21.8.6: -222 "Data out of range" for a value the instrument cannot take."""
    with SimBench(SIM_BENCH) as sim:
        assert sim.simulator is not None
        source = _Tcp(sim.simulator.instrument("source").server.port)
        try:
            source.send(f"SOUR:FREQ {value}\n".encode())
            assert source.ask(b"SYST:ERR?\n", b"\n").startswith(b"-222,")
        finally:
            source.close()
        _still_sane(sim)


def test_control_endpoint_survives_any_request_and_refuses_non_finite_time() -> None:
    with SimBench(SIM_BENCH) as sim:
        assert sim.simulator is not None and sim.simulator.control is not None
        rng = random.Random(SEED)
        client = _Tcp(sim.simulator.control.port)
        try:
            for _ in range(CHUNKS):
                client.send(_control_garbage(rng))
            for request in (b'{"op": "advance", "dt": NaN}\n', b'{"op": "advance", "dt": "inf"}\n',
                            b'{"op": "advance_to", "t": "nan"}\n'):
                reply = json.loads(client.ask(request, b"\n").splitlines()[-1])
                assert reply["ok"] is False and ("NaN" in reply["error"] or "finite" in
                                                 reply["error"]), reply
            assert json.loads(client.ask(b'{"op": "time"}\n', b"\n"))["ok"] is True
        finally:
            client.close()
        _still_sane(sim)


def test_meter_port_survives_any_bytes_and_then_reads_out() -> None:
    """The simulated bench's IEC 62056-21 port (the software meter's server)."""
    with SimBench(SIM_BENCH) as sim:
        assert sim.simulator is not None
        link = sim.simulator.meter_servers[0].url
        rng = random.Random(SEED)
        port = _Pty(link)
        try:
            for _ in range(CHUNKS):
                port.send(_garbage(rng, METER, b"\r\n"))
        finally:
            port.close()
        with Client(link) as client:
            readings = client.readout()
        assert any(r.address == "C.1.0" for r in readings)
        _still_sane(sim)


def test_meter_serve_port_survives_any_bytes_and_then_reads_out(tmp_path) -> None:
    """`python -m meter serve` (the software meter alone, wall-clock time) on TCP."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "meter", "serve", "--tcp", "127.0.0.1:0", "--state",
         str(tmp_path / "state")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        address = proc.stdout.readline().strip()
        host, _, port = address.rpartition(":")
        assert port.isdigit(), f"no address: {address!r} {proc.stderr.read()}"
        rng = random.Random(SEED)
        for _ in range(3):  # three clients in turn, each sending garbage and leaving
            client = _Tcp(int(port))
            try:
                for _ in range(CHUNKS // 3):
                    client.send(_garbage(rng, METER, b"\r\n"))
            finally:
                client.close()
        with Client(f"socket://{host}:{port}") as meter:
            readings = meter.readout()
        assert any(r.address == "C.1.0" for r in readings)
        assert proc.poll() is None  # still serving
    finally:
        stop(proc)
