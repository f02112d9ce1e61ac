"""The hands on the bench: what a person does at a meter (open the seal, hold the reset button,
move a scanning head or pulse cable to another output), done by the simulator's control on a
simulated bench or asked of the operator on a lab bench.

The session is given one `Hands` implementation and calls it the same way on either bench (as
labgrid's strategies sit on interchangeable drivers). Button sequences are the A1000 manual's:
programming state = seal open and the reset button held 8 s until "PRG" (2.2.1); one press of the
reset button ends it (2.1.1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from rig.bench.outputs import METER_OUTPUTS

#: How long the reset button is held to enter the programming state (A1000 manual 2.2.1).
HOLD_RESET_S = 8.0
#: An operator moving the scanning heads or pulse cables of the positions and confirming it (an
#: allowance, not a measured figure): the plan's estimate counts it, and the simulated bench's
#: hands let that much virtual time pass, so its timeline is a lab bench's.
CABLE_MOVE_S = 30.0
#: Answers by which the operator says a step could not be done.
DECLINED = ("n", "no", "abort", "cannot")


class HandsError(RuntimeError):
    """A step at the bench was not done (the meter refused, the operator declined, or nobody is
    there to ask); the message says which positions and why."""


class Hands(Protocol):
    """What the session asks of the hands at the bench."""

    def enter_programming(self, numbers: Sequence[int]) -> None:
        """Every meter in `numbers` in its programming state, all at once."""

    def leave_programming(self, numbers: Sequence[int]) -> None:
        """Every meter in `numbers` out of its programming state, its seal closed."""

    def connect(self, inputs: Mapping[int, str], output: str) -> None:
        """At each position (key), the error-calculator input `inputs[position]` cabled to the
        meter's pulse output `output` (rig.bench.outputs), all before any is measured."""

    def act(self, text: str) -> None:
        """A step only a person at the bench can do, confirmed when done."""

    def ask(self, text: str) -> str:
        """A value only a person can give (a thermometer's reading); its text as typed."""


def positions_text(numbers: Sequence[int]) -> str:
    """'Position 3' or 'Positions 1, 2 (each meter)': whom a prompt is about."""
    if len(numbers) == 1:
        return f"Position {numbers[0]}"
    return "Positions " + ", ".join(str(n) for n in numbers) + " (each meter)"


def connection_text(output: str) -> str:
    """A meter output as the operator finds it on the meter (the manual's words)."""
    known = METER_OUTPUTS.get(output)
    if known is None:  # `led`: the head on the LED each test measures
        return "LEDs (scanning head on the LED of the energy measured)"
    return f"{known.text} ({output})"


class SimulatorHands:
    """The simulated bench's hands: the meters' buttons and seal through the simulator's control
    endpoint (rig.sim.control `meters`). No person is there: a step that needs one is an error."""

    def __init__(self, control: Any) -> None:
        self.control = control

    def enter_programming(self, numbers: Sequence[int]) -> None:
        numbers = list(numbers)
        self.control.meters(numbers, "seal_open", open=True)
        entered = self.control.meters(numbers, "hold_reset", seconds=HOLD_RESET_S)
        refused = [n for n, ok in zip(numbers, entered, strict=True) if not ok]
        if refused:
            raise HandsError(f"position(s) {refused}: the meter did not enter PRG")

    def leave_programming(self, numbers: Sequence[int]) -> None:
        numbers = list(numbers)
        self.control.meters(numbers, "reset_button")
        self.control.meters(numbers, "seal_open", open=False)

    def connect(self, inputs: Mapping[int, str], output: str) -> None:
        for number, pulse_input in inputs.items():
            self.control.connect(number, pulse_input, output)
        self.control.advance(CABLE_MOVE_S)

    def act(self, text: str) -> None:
        raise HandsError(f"operator action needed on the simulated bench, which has none: {text}")

    def ask(self, text: str) -> str:
        raise HandsError(f"operator entry needed on the simulated bench, which has none: {text}")


class OperatorHands:
    """A lab bench's hands: the operator, prompted on the terminal. Each step is confirmed with
    Enter when done; an answer of n / no / abort / cannot says it was not done, and the step
    fails with that. `read` shows a prompt and returns the line typed (the pytest plugin's reads
    with pytest's capture suspended); None: no terminal, every step is an error."""

    def __init__(self, read: Callable[[str], str] | None) -> None:
        self.read = read

    def _line(self, text: str) -> str:
        if self.read is None:
            raise HandsError(f"operator action needed but no terminal: {text}")
        return self.read(text)

    def act(self, text: str) -> None:
        answer = self._line(f"{text} [Enter: done, n: cannot]").strip()
        if answer.lower() in DECLINED:
            raise HandsError(f"the operator could not do it ({answer!r}): {text}")

    def ask(self, text: str) -> str:
        return self._line(text).strip()

    def connect(self, inputs: Mapping[int, str], output: str) -> None:
        where = ", ".join(f"{n}: input {i}" for n, i in inputs.items())
        self.act(
            f"{positions_text(list(inputs))}: move the scanning head or pulse cable of the "
            f"error calculator ({where}) to the meter's {connection_text(output)}."
        )

    def enter_programming(self, numbers: Sequence[int]) -> None:
        self.act(
            f"{positions_text(numbers)}: open the seal and hold the reset button for "
            f"{HOLD_RESET_S:g} s until the display shows PRG, then press Enter."
        )

    def leave_programming(self, numbers: Sequence[int]) -> None:
        self.act(
            f"{positions_text(numbers)}: press the reset button once (PRG ends) and close the "
            "seal, then press Enter."
        )
