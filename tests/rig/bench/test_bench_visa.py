"""The Bench through pyvisa-py against scripted loopback servers (TCP SOCKET and a pty ASRL)."""

import socket
from pathlib import Path

import pytest
import pyvisa

from rig.bench import Bench
from rig.instruments.errors import InstrumentError
from rig.instruments.loadpoint import LoadPoint
from tests.rig.bench.loopback import LineServer, PtyServer

BENCHES = Path(__file__).resolve().parents[3] / "benches"


class ScpiFluke:
    """Just enough of the Fluke dialect: error queue always empty, output state remembered."""

    def __init__(self):
        self.on = False

    def __call__(self, line):
        if line == "*IDN?":
            return ["FLUKE,6105A,0,0"]
        if line == "SYST:ERR?":
            return ['0,"No error"']
        if line == "OUTP:STAT?":
            return ["1" if self.on else "0"]
        if line.startswith("OUTP:STAT "):
            self.on = line.endswith("ON")
        return []


def zera(line):
    if line == "*IDN?":
        return ["ZERA GmbH Koenigswinter, COM5003, 1, 1"]
    if line == "SYSTEM:ERROR?":
        return ["+0,No error"]
    if line == "CALCULATE:EC01:0001:REFCONSTANT?":
        return ["5e8"]
    return []


@pytest.fixture
def rm():
    manager = pyvisa.ResourceManager("@py")
    yield manager
    manager.close()


def test_sim_bench_file_with_loopback_resources_energises_and_switches_off(rm):
    fluke = ScpiFluke()
    source = LineServer(fluke)
    reference = LineServer(zera)
    try:
        subs = {
            "sim:source": source.resource,
            "sim:reference": reference.resource,
            "sim:meter1": "socket://127.0.0.1:9",
        }
        with Bench.from_file(BENCHES / "sim.yaml", subs, resource_manager=rm) as bench:
            bench.energise(LoadPoint.balanced(230, 5, "0.5L"))
            assert fluke.on
            assert bench.keepalive() is True
            assert bench.error_calculator(1).reference_constant() == 5e8
        assert not fluke.on
        assert source.received[:2] == ["*CLS", "SYST:ERR?"]
        assert "SOUR:PHAS1:CURR:MHAR:HARM1 5.00000,-60.000" in source.received
        # ramp (one step: rate null) -> off -> read back, each write checked
        tail = source.received[-5:]
        assert tail == [
            "SOUR:FREQ 50.0000",
            "SYST:ERR?",
            "OUTP:STAT OFF",
            "SYST:ERR?",
            "OUTP:STAT?",
        ]
        assert reference.received[:2] == ["*IDN?", "SYSTEM:ERROR?"]
    finally:
        source.close()
        reference.close()


def test_connection_refused_names_role_command_and_cause(rm):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subs = {
        "sim:source": f"TCPIP::127.0.0.1::{port}::SOCKET",
        "sim:reference": "unused",
        "sim:meter1": "unused",
    }
    # pyvisa-py connects lazily: the refusal shows on open or on the first command.
    with pytest.raises(InstrumentError, match=r"source: command '.*' failed: ConnectionRefused"):
        Bench.from_file(BENCHES / "sim.yaml", subs, resource_manager=rm)


def test_dropped_connection_is_reopened_and_the_query_retried(rm):
    from rig.instruments.fluke6105a import Fluke6105A
    from rig.instruments.transport import VisaAdapter

    fluke = ScpiFluke()
    server = LineServer(fluke, drop_first=True)
    try:
        adapter = VisaAdapter.open(
            rm, server.resource, write_termination="\n", read_termination="\n", timeout_ms=500
        )
        source = Fluke6105A(adapter, name="source", retries=1)
        assert source.is_on() is False
        assert server.connections == 2
        source.close()
    finally:
        server.close()


def test_a_silent_instrument_times_out_as_a_visa_error(rm):
    # pyvisa-py's sessions are called directly (rig.instruments.transport): their error status
    # still reaches the driver as the VisaIOError the library itself would raise.
    from pyvisa import constants
    from pyvisa.errors import VisaIOError

    from rig.instruments.transport import VisaAdapter

    server = LineServer(lambda line: [])
    try:
        adapter = VisaAdapter.open(
            rm, server.resource, write_termination="\n", read_termination="\n", timeout_ms=200
        )
        assert type(adapter.resource.visalib).__module__.startswith("pyvisa_py")
        adapter.write("*IDN?")
        with pytest.raises(VisaIOError) as caught:
            adapter.read()
        assert caught.value.error_code == constants.StatusCode.error_timeout
        adapter.close()
    finally:
        server.close()


def test_mte_over_a_pty_as_asrl_resource(rm):
    def mte(line):
        if line == "MODE1":
            return ["MODE1=O"]
        if line in ("STATU", "STATI"):
            return [f"{line}{n}=0" for n in (1, 2, 3)]
        return []

    pty = PtyServer(mte)
    try:
        from rig.instruments.mte_pps4003 import MtePps4003
        from rig.instruments.transport import VisaAdapter

        adapter = VisaAdapter.open(
            rm,
            pty.resource,
            write_termination="\r",
            read_termination="\r",
            timeout_ms=2000,
            serial=MtePps4003.serial_settings,
        )
        source = MtePps4003(adapter, name="source")
        source.initialise()
        assert source.is_on() is False
        assert pty.received == ["MODE1", "STATU", "STATI"]
        source.close()
    finally:
        pty.close()


def test_socket_resources_have_nagle_disabled(rm):
    import socket as sk

    from rig.instruments.transport import VisaAdapter

    server = LineServer(ScpiFluke())
    try:
        adapter = VisaAdapter.open(
            rm, server.resource, write_termination="\n", read_termination="\n", timeout_ms=500
        )
        sock = rm.visalib.sessions[adapter.resource.session].interface
        assert sock.getsockopt(sk.IPPROTO_TCP, sk.TCP_NODELAY) != 0
        adapter.close()
    finally:
        server.close()
