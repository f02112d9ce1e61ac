"""What every simulated instrument dialect has in common."""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections import deque
from typing import ClassVar

from rig.sim.world import World

log = logging.getLogger("rig.sim")


class CommandError(Exception):
    """A command the instrument rejects; `code, text` go to its error reply or queue."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code},{text}")
        self.code, self.text = code, text


def number(text: str, what: str) -> float:
    """Lenient number parsing (docs/dialects.md 0: anything float() accepts)."""
    try:
        v = float(text.strip().rstrip(";"))
    except ValueError:
        raise CommandError(-222, f"Data out of range ({what}: {text!r} is not a number)") from None
    if not math.isfinite(v):
        raise CommandError(-222, f"Data out of range ({what} {text!r})")
    return v


class Dialect(ABC):
    """One instrument. `roles` says what it can be in a bench: 'source' and/or 'reference'."""

    terminator: ClassVar[str] = "\n"
    roles: ClassVar[tuple[str, ...]] = ()
    transport: ClassVar[str] = "tcp"  # default transport when served: 'tcp' or 'pty'

    def __init__(self, world: World) -> None:
        self.world = world
        self.errors: deque[tuple[int, str]] = deque(maxlen=30)
        self.injected_errors = 0  # the next N set commands fail (fault injection)
        self.lines = 0  # lines received, for the log and tests

    def handle(self, line: str) -> list[str]:
        """One command line -> reply lines. Serialised with every other world access."""
        return self.handle_lines([line])

    def handle_lines(self, lines: list[str]) -> list[str]:
        """The command lines of one message -> their reply lines, in order; carried out together
        (one world access: nothing else happens between them)."""
        replies: list[str] = []
        source = "source" in self.roles
        with self.world.access():
            for line in lines:
                self.lines += 1
                if source:
                    self.world.feed_watchdog()
                try:
                    replies += self.dispatch(line)
                except Exception as e:  # a server thread must survive a failing model
                    log.exception("%s: %r failed", type(self).__name__, line)
                    replies += self.internal_error(line, e)
        return replies

    def internal_error(self, line: str, error: Exception) -> list[str]:
        """Reply for a command that failed inside the simulator (SCPI: queued -300)."""
        self.errors.append((-300, f"Device-specific error ({type(error).__name__})"))
        return []

    @abstractmethod
    def dispatch(self, line: str) -> list[str]:
        """Carry out one command (the world lock is held)."""

    def take_injected_error(self) -> bool:
        if self.injected_errors > 0:
            self.injected_errors -= 1
            return True
        return False


#: The bench wiring of a scanning head read on the LED of the energy measured
#: (rig.bench.outputs `led`).
ON_LEDS = "led"
#: Which LED a head on the LEDs sees while a calculator counts a power type.
METER_OUTPUTS = {"P": "LED_ACTIVE", "Q": "LED_REACTIVE", "S": "LED_ACTIVE"}


class Cabling:
    """The bench's cables from meter outputs to an instrument's pulse inputs: which position's
    meter each input sees, and on which of its outputs (a PulseOutput name in lower case, as
    rig.bench.outputs names them, or `led`)."""

    def __init__(self, instrument: str) -> None:
        self.instrument = instrument
        self.wired: dict[str, int] = {}  # input -> position
        self.outputs: dict[str, str] = {}  # input -> meter output

    def plug(self, pulse_input: str, position: int, output: str) -> None:
        if pulse_input in self.wired:
            raise ValueError(f"{self.instrument} input {pulse_input} is cabled already")
        self.wired[pulse_input] = position
        self.outputs[pulse_input] = output

    def connect(self, pulse_input: str, output: str) -> None:
        """Move the meter end of the cable on `pulse_input` to `output` (the operator's step on
        a real bench). A measurement started before goes on with the output it started on: the
        simulated calculator takes its input's output at START."""
        if pulse_input not in self.wired:
            raise ValueError(f"{self.instrument} input {pulse_input} is not cabled to a meter")
        self.outputs[pulse_input] = output

    def counted(self, pulse_input: str, power_type: str) -> str:
        """The meter output (PulseOutput member name) `pulse_input` counts while the calculator
        measures `power_type`: the LED of that power for a head on the LEDs, else the output its
        cable is on, whatever that pulses for."""
        wired = self.outputs[pulse_input]
        return METER_OUTPUTS[power_type] if wired == ON_LEDS else wired.upper()

