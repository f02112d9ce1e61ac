"""RigSession pieces that need no bench: the programming state of several meters."""

from __future__ import annotations

import pytest

from meter.iec62056_21.timing import Timing
from rig.bench.config import Position
from rig.session import MeterPosition, RigSession, SessionError, SessionOptions


def positions(*numbers: int) -> list[MeterPosition]:
    return [MeterPosition(Position.model_construct(id=n), Timing()) for n in numbers]


def test_lab_bench_asks_once_for_all_meters_and_again_to_leave_even_on_failure() -> None:
    session = RigSession(SessionOptions(bench="lab.yaml"))
    prompts: list[str] = []
    session.operator_prompt = prompts.append
    with pytest.raises(RuntimeError, match="write refused"), session.programming(
        *positions(1, 2, 3)
    ):
        raise RuntimeError("write refused")
    assert len(prompts) == 2
    assert prompts[0].startswith("Positions 1, 2, 3 (each meter): open the seal and hold")
    assert prompts[1].startswith("Positions 1, 2, 3 (each meter): press the reset button")
    session.enter_programming(*positions(4))
    assert prompts[2].startswith("Position 4: open the seal")


def test_no_terminal_means_a_clear_error() -> None:
    session = RigSession(SessionOptions(bench="lab.yaml"))
    with pytest.raises(SessionError, match="operator action needed but no terminal"):
        session.enter_programming(*positions(1))
