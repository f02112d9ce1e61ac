"""Reads and programming writes in one session, through the real line to simulated A1000s."""

from __future__ import annotations

import pytest

from rig.hands import SimulatorHands
from rig.linesession import read_write_read
from rig.meterlink import MeterReadError
from rig.sim import SimBench
from tests.rig.sim.conftest import SIM_BENCH
from tests.rig.test_meterlink import links_of, sign_ons


def test_reads_writes_and_reads_again_in_one_sign_on() -> None:
    with SimBench(SIM_BENCH, positions=1, sim_options={"meter_reaction_s": 0.0}) as sim:
        assert sim.control is not None
        (link,) = links_of(sim).values()
        hands = SimulatorHands(sim.control)
        hands.enter_programming([1])  # W1 needs the meter's programming state (manual 2.2.1)
        before = sign_ons(sim)
        # The weekend table read, written and read again (A1000 manual 1.4 item 5: up to 2
        # days): the readings are by address, the later read stands and shows the write.
        got = read_write_read(link, ["C.90.6"], [("C.90.6", ["67", "T2"])], ["C.90.6"])
        assert sign_ons(sim) - before == 1
        assert [v.value for v in got["C.90.6"].values] == ["67", "T2"]
        assert link.read("C.90.6")["C.90.6"].raw == got["C.90.6"].raw
        hands.leave_programming([1])


def test_a_write_the_meter_refuses_names_position_and_address() -> None:
    # Outside its programming state the meter refuses W1 (A1000 manual 2.2.1).
    with SimBench(SIM_BENCH, positions=1, sim_options={"meter_reaction_s": 0.0}) as sim:
        (link,) = links_of(sim).values()
        with pytest.raises(MeterReadError, match=r"position 1: (P1|W1 C\.90\.6)"):
            read_write_read(link, write=[("C.90.6", ["67", "T2"])])
