"""rig.hands: the simulator's hands press the meters' buttons (A1000 manual 2.2.1: seal open,
reset held 8 s -> PRG; 2.1.1: one press ends it); the operator's hands prompt and need a
confirmation."""

from __future__ import annotations

import pytest

from rig.hands import HandsError, OperatorHands, SimulatorHands
from rig.sim import SimBench
from tests.rig.sim.conftest import SIM_BENCH


def test_simulator_hands_put_every_meter_in_programming_and_out_again() -> None:
    with SimBench(SIM_BENCH, positions=2) as sim:
        hands = SimulatorHands(sim.control)
        hands.enter_programming([1, 2])
        assert sim.control.meters([1, 2], "in_programming") == [True, True]
        hands.leave_programming([1, 2])
        assert sim.control.meters([1, 2], "in_programming") == [False, False]
        with pytest.raises(HandsError, match="simulated bench, which has none: read the T"):
            hands.act("read the T")


class RefusingControl:
    """A control endpoint whose meter 2 does not enter PRG (as a meter whose seal is shut)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def meters(self, numbers, action, **kw):
        self.calls.append((list(numbers), action, kw))
        return [n != 2 for n in numbers]


def test_a_meter_that_does_not_enter_programming_is_named() -> None:
    control = RefusingControl()
    with pytest.raises(HandsError, match=r"position\(s\) \[2\]: the meter did not enter PRG"):
        SimulatorHands(control).enter_programming([1, 2, 3])
    assert control.calls == [([1, 2, 3], "seal_open", {"open": True}),
                             ([1, 2, 3], "hold_reset", {"seconds": 8.0})]


def test_operator_hands_prompt_once_for_all_and_need_confirmation() -> None:
    shown: list[str] = []
    answers = iter(["", "  ", "n", "21.7 "])

    def read(text: str) -> str:
        shown.append(text)
        return next(answers)

    hands = OperatorHands(read)
    hands.enter_programming([1, 2])
    hands.leave_programming([3])
    assert shown[0].startswith("Positions 1, 2 (each meter): open the seal and hold the reset "
                               "button for 8 s until the display shows PRG")
    assert shown[1].startswith("Position 3: press the reset button once")
    assert all(s.endswith("[Enter: done, n: cannot]") for s in shown)
    with pytest.raises(HandsError, match="the operator could not do it \\('n'\\): Swap"):
        hands.act("Swap the meter")
    assert hands.ask("Temperature?") == "21.7"


def test_no_terminal_is_a_clear_error() -> None:
    with pytest.raises(HandsError, match="operator action needed but no terminal: Position 1"):
        OperatorHands(None).enter_programming([1])


def test_operator_hands_ask_for_a_cable_move_in_the_meters_words() -> None:
    shown: list[str] = []
    answers = iter(["", "cannot"])

    def read(text: str) -> str:
        shown.append(text)
        return next(answers)

    hands = OperatorHands(read)
    hands.connect({1: "SC1", 2: "src-intern-1"}, "active_export")
    # A1000 manual 1.1 / Appendix C: output 2 is active export energy.
    assert shown[0] == ("Positions 1, 2 (each meter): move the scanning head or pulse cable of "
                        "the error calculator (1: input SC1, 2: input src-intern-1) to the "
                        "meter's output 2, active export energy (active_export). "
                        "[Enter: done, n: cannot]")
    with pytest.raises(HandsError, match="could not do it \\('cannot'\\): Position 3: move"):
        hands.connect({3: "Fin1"}, "led")
    assert "to the meter's LEDs (scanning head on the LED of the energy measured)" in shown[1]


def test_simulator_hands_move_the_simulated_cable() -> None:
    with SimBench(SIM_BENCH, positions=2) as sim:
        SimulatorHands(sim.control).connect({1: "SC1", 2: "src-intern-1"}, "reactive_q3q4")
        # Each input is cabled to output 4 now.
        zera = sim.simulator.instrument("reference").dialect
        mad = sim.simulator.instrument("mad2").dialect
        assert zera.cabling.outputs == {"SC1": "reactive_q3q4"}
        assert mad.cabling.outputs == {"src-intern-1": "reactive_q3q4"}
