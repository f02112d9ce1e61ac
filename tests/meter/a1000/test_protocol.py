"""The A1000 through the real IEC 62056-21 server and client over a pty, in virtual time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meter.a1000.meter import A1000
from meter.a1000.store import CURRENT
from meter.electrical import ElectricalInputs
from meter.iec62056_21.client import Client
from meter.iec62056_21.errors import MeterError, PasswordRefused
from meter.iec62056_21.server import MeterServer
from meter.iec62056_21.timing import Timing
from tests.meter.a1000.helpers import T0, VirtualTime, ideal_config

FAST = Timing(reaction_min=0.02)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[A1000, MeterServer, VirtualTime]]:
    m = A1000(ideal_config(), start_time=T0, state_dir=tmp_path)
    m.set_inputs(T0, ElectricalInputs.balanced(57.7, 0.5, 60))
    vt = VirtualTime(T0)
    bank = m.register_bank(vt)
    server = MeterServer(bank, transport="pty", lock=bank.lock, timing=FAST).start()
    try:
        yield m, server, vt
    finally:
        server.close()


def _client(server: MeterServer) -> Client:
    return Client(server.url, timing=FAST)


def test_readout_over_pty_matches_memory(served: tuple[A1000, MeterServer, VirtualTime]) -> None:
    m, server, vt = served
    vt.t = T0 + 86400 + 0.5
    with _client(server) as c:
        readings = c.readout()
    assert m.now == vt.t  # the bank advanced the model to its time source
    memory = m.register_bank().readout()
    assert [r.dataset for r in readings] == memory
    by = {r.address: r for r in readings}
    kwh = 3 * 57.7 * 0.5 * 0.5 / 1000 * 24
    assert float(by["1-1:1.8.0"].value) == pytest.approx(kwh, abs=0.01)
    assert float(by["1-1:5.8.0"].value) == pytest.approx(kwh * 3**0.5, abs=0.01)
    assert by["1-1:1.8.0"].unit == "kWh"
    assert by["0.9.2"].raw == "260303"


def test_programming_session_over_pty(served: tuple[A1000, MeterServer, VirtualTime]) -> None:
    m, server, vt = served
    with _client(server) as c:
        c.program("00000000")
        with pytest.raises(MeterError, match="PROGRAMMING STATE"):
            c.write("0.9.1", "120000")
    m.set_seal_open(vt.t, True)
    m.hold_reset_button(vt.t, 8)
    vt.t = m.now
    with _client(server) as c, pytest.raises(PasswordRefused):
        c.program("12345678")
    with _client(server) as c:
        c.program("00000000")
        c.write("0.9.1", "120000")
        assert c.read("0.9.1")[0].raw == "120000"
        with pytest.raises(MeterError, match="11 sections"):
            c.write("C.90.1", [f"{h:02d}:00=1" for h in range(11)])
        assert c.read("C.90.1")[0].values[0].value == "00:00=4"
        c.write("C.90.1", ["00:00=2", "13:00=3"])
        vt.t += 3601
        assert c.read("C.14.0")[0].raw == "3"  # 13:00 passed on the meter clock
        energy = c.read("1.8.0")[0]
    assert energy.address == "1-1:1.8.0"
    assert float(energy.value) == pytest.approx(m.register("import"), abs=0.01)
    assert m.programming.count == 1


def test_damaged_state_reads_err2_over_pty(tmp_path: Path) -> None:
    m = A1000(ideal_config(), start_time=T0, state_dir=tmp_path)
    m.set_inputs(T0, ElectricalInputs.balanced(57.7, 0.5, 0))
    m.advance_to(T0 + 600)
    m.save()
    m.advance_to(T0 + 1200)
    m.save()
    cur = tmp_path / CURRENT
    cur.write_bytes(cur.read_bytes().replace(b'"import"', b'"imp0rt"'))
    again = A1000(ideal_config(), start_time=T0 + 1300, state_dir=tmp_path)
    bank = again.register_bank()
    with MeterServer(bank, transport="pty", lock=bank.lock, timing=FAST) as server, \
            _client(server) as c:
        by = {r.address: r for r in c.readout()}
    assert by["F.F.2"].raw == "00000100"  # manual Appendix B: EEPROM error
    assert by["F.F"].raw == "00000004"
    assert float(by["1-1:1.8.0"].value) == pytest.approx(3 * 57.7 * 0.5 / 1000 * 600 / 3600,
                                                         abs=0.01)


def test_power_down_and_restart_over_pty(tmp_path: Path) -> None:
    m = A1000(ideal_config(), start_time=T0, state_dir=tmp_path)
    m.set_inputs(T0, ElectricalInputs.balanced(57.7, 0.5, 0))
    m.advance_to(T0 + 7200)
    bank = m.register_bank()
    with MeterServer(bank, transport="pty", lock=bank.lock, timing=FAST) as server, \
            _client(server) as c:
        before = {r.address: r.raw for r in c.readout()}
    m.set_inputs(m.now, ElectricalInputs.dead())  # power-down: the state is saved
    del m, bank
    vt = VirtualTime(T0 + 86400)
    again = A1000(ideal_config(), start_time=vt.t, state_dir=tmp_path)
    bank = again.register_bank(vt)
    with MeterServer(bank, transport="pty", lock=bank.lock, timing=FAST) as server, \
            _client(server) as c:
        after = {r.address: r.raw for r in c.readout()}
    for code in ("1-1:1.8.0", "1-1:1.8.1", "1-1:1.8.2", "1-1:1.8.3", "1-1:1.8.4", "1-1:5.8.0"):
        assert after[code] == before[code]
    assert after["F.F.2"] == "00000000"
    assert after["0.9.2"] == "260303"  # the clock ran through the day without power


def test_remote_demand_reset_needs_the_password_not_the_seal(
    served: tuple[A1000, MeterServer, VirtualTime],
) -> None:
    m, server, vt = served
    vt.t = T0 + 3600  # an hour of 3 x 57.7 V x 0.5 A at PF 0.5: demand 0.0433 kW
    assert not m.programming.seal_open and not m.in_programming()
    with _client(server) as c:
        c.program()  # programming mode (option select 1, P0) without a password
        with pytest.raises(MeterError, match="NO ACCESS"):  # E2 before any password
            c.execute("0.1.0")
    with _client(server) as c:
        c.program("00000000")
        before = c.read("1.6.0")[0].values[0].value
        # Manual 3.2.2 "reset mode: manual, automatic, infrared, RS485": with the seal closed
        # and no button held, the password alone lets the head-end reset demand.
        answer = c.execute("0.1.0")
        assert answer[0].raw == "01"  # VZ 00 -> 01
        assert c.read("1.6.0")[0].values[0].value == "0.0000"
        assert c.read("1.6.0*101")[0].values[0].value == before
        assert c.read("C.51.3")[0].raw == "1"  # counted as a reset through the protocol
        assert c.read("C.2.0")[0].raw == "0"  # not programming (manual codes 031 vs 033)
        with pytest.raises(MeterError, match="PROGRAMMING STATE"):
            c.write("0.9.1", "120000")  # parameters still need the seal and the button
    assert float(before) == pytest.approx(3 * 57.7 * 0.5 * 0.5 / 1000, abs=1e-4)


def test_lockout_answers_password_locked_without_a_traceback(
    served: tuple[A1000, MeterServer, VirtualTime], caplog: pytest.LogCaptureFixture,
) -> None:
    _, server, vt = served
    with _client(server) as c:
        for _ in range(3):  # default passwords.max_attempts 3
            with pytest.raises(PasswordRefused, match=r"\(PASSWORD\)"):
                c.program("12345678")
        # Locked for passwords.lockout_s (600 s): even the right password gets the documented
        # answer (README "the software meter", meter/a1000/bank.py).
        with pytest.raises(PasswordRefused, match=r"\(PASSWORD LOCKED\)"):
            c.program("00000000")
    vt.t += 601
    with _client(server) as c:
        c.program("00000000")
    assert not [r for r in caplog.records if r.exc_info or r.levelname == "ERROR"]
