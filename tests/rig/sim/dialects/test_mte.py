"""The simulated MTE PPS 400.3 (docs/dialects.md 2): MODE1 replies, the SKLI relay, BSY after
SET, and the V3.07 form of measured values ([Cli] = bob10042/mte-pps400-3-control)."""

from __future__ import annotations

import pytest

from rig.sim.dialects.mte import MtePps4003
from rig.sim.world import World, WorldConfig


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mte(clock: Clock) -> MtePps4003:
    return MtePps4003(World(WorldConfig(), [], wall_clock=clock))


def one(mte: MtePps4003, line: str) -> str:
    (reply,) = mte.handle(line)
    return reply


def stage(mte: MtePps4003, amps: float) -> None:
    for ph in (1, 2, 3):
        for cmd in (f"U{ph},230", f"I{ph},{amps}", f"PH{ph},{(ph - 1) * 120}", f"W{ph},0"):
            assert one(mte, cmd) == f"{cmd.split(',')[0]}=O"


def test_high_currents_need_the_skli_relay(mte: MtePps4003) -> None:
    stage(mte, 60.0)
    assert one(mte, "SET") == "SET=E"  # 60 A on the standard terminals [L]
    assert [one(mte, f"SKLI{ph},1") for ph in (1, 2, 3)] == ["SKLI1=O", "SKLI2=O", "SKLI3=O"]
    assert one(mte, "SET") == "SET=O"
    assert one(mte, "SKLI1,2") == "SKLI1=E"


def test_busy_after_set_until_the_unit_has_taken_the_setpoints(
    mte: MtePps4003, clock: Clock
) -> None:
    stage(mte, 5.0)
    assert one(mte, "BSY") == "BSY=0"
    assert one(mte, "SET") == "SET=O"
    assert one(mte, "BSY") == "BSY=1"
    assert one(mte, "SE") == "SE=E00S00100"  # [Cli] StatusFlags: the busy bit
    clock.now += 1.0
    assert one(mte, "BSY") == "BSY=0"


def test_measured_values_in_the_firmware_v3_07_form(mte: MtePps4003) -> None:
    stage(mte, 5.0)
    assert one(mte, "SET") == "SET=O"
    assert one(mte, "ON1") == "ON1=O"
    assert one(mte, "?1") == "?1=E@,5.0000,5.0000,5.0000"
    assert one(mte, "?2") == "?2=EA,230.000,230.000,230.000"


def test_angles_out_of_their_catalog_range_are_refused(mte: MtePps4003) -> None:
    assert one(mte, "PH1,361") == "PH1=E"
    assert one(mte, "W2,-1") == "W2=E"
    assert one(mte, "OWU1,5,10,400") == "OWU1=E"
    assert one(mte, "ON4") == "ON4=E"
