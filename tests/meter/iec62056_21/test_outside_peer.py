"""An outside implementation of IEC 62056-21 reads our A1000: pwitab's client (PyPI
`iec62056-21`, tests/meter/iec62056_21/pwitab_peer.py) over a pty and over TCP, against the
meter served by our MeterServer in virtual time (nothing moves between its reads and ours)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meter.a1000.meter import A1000
from meter.electrical import ElectricalInputs
from meter.iec62056_21 import MeterServer, Timing
from tests.meter.a1000.helpers import T0, VirtualTime, ideal_config

from .pwitab_peer import OutsidePeer

# pwitab's client rests 1.25 x its own reaction time (250 ms) after its request and option
# select and reads what is waiting then; our meter answers after 20 ms.
TIMING = Timing(reaction_min=0.02)


@pytest.fixture(params=["pty", "tcp"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[A1000, str]]:
    m = A1000(ideal_config(), start_time=T0, state_dir=tmp_path)
    m.set_inputs(T0, ElectricalInputs.balanced(230.0, 5.0, 0.0))
    vt = VirtualTime(T0 + 3600.0)
    bank = m.register_bank(vt)
    with MeterServer(bank, transport=request.param, lock=bank.lock, timing=TIMING) as server:
        yield m, server.url


def test_outside_client_reads_the_readout_we_send(served: tuple[A1000, str]) -> None:
    m, url = served
    with OutsidePeer(url) as peer:
        theirs = peer.readout()
    ours = m.register_bank().readout()
    # Every data set in order. pwitab's DataBlock makes each further value of a data set
    # (`1.6.0(v*kW)(stamp)`) an entry of its own without address, its text unsplit.
    expected: list[tuple[str | None, str, str | None]] = []
    for d in ours:
        first, *more = d.values
        expected.append((d.address, first.value, first.unit or None))
        expected += [(None, v.value + (f"*{v.unit}" if v.unit else ""), None) for v in more]
    assert [(d.address, d.value, d.unit) for d in theirs] == expected
    assert len(ours) > 100  # the whole readout, not a prefix
    by = {d.address: d for d in theirs}
    # One hour at 3 x 230 V x 5 A, unity power factor, no own error: 3.45 kWh
    # (the register shows two decimals: 00003.45).
    assert by["1-1:1.8.0"].value == "00003.45" and by["1-1:1.8.0"].unit == "kWh"


def test_outside_client_programming_session(served: tuple[A1000, str]) -> None:
    _, url = served
    with OutsidePeer(url) as peer:
        # The factory password of the A1000's P1 level is 00000000 (default.yaml).
        assert peer.program("00000000") == "\x06"
        got = peer.read("1.8.0")
        assert (got.value, got.unit) == ("00003.45", "kWh")  # as in the readout above
    with OutsidePeer(url) as peer:
        assert peer.program("12345678") == "(PASSWORD)"  # wrong password: error message
