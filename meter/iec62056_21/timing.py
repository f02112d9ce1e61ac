"""Timing parameters of IEC 62056-21 as data; the I/O wrappers enforce them.

Defaults from standards.md 6.6: reaction time 200 ms <= tr <= 1500 ms, 20 ms minimum when the
meter signalled it [H]; inter-character gap < 1500 ms [H]; HHU wait after identification
tt <= 2200 ms [H]; inactivity time-out in programming mode 60..120 s [M]; baud-rate switch
delay: practice only [L].
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Timing:
    reaction_min: float = 0.200
    """tr minimum: end of a received message to the start of the answer."""
    reaction_min_fast: float = 0.020
    """tr minimum once the identification's 3rd manufacturer letter was lower case."""
    reaction_max: float = 1.500
    """tr maximum: the peer must start answering within this."""
    answer_slack: float = 0.300
    """Our allowance beyond reaction_max before an answer counts as missing (scheduling, line)."""
    inter_character: float = 1.500
    """ta: longest gap between two characters of one message."""
    option_select_wait: float = 2.200
    """How long the meter waits for ACK/option select after its identification (tt max)."""
    inactivity: float = 120.0
    """Programming mode: the meter returns to idle after this long without a valid message."""
    baud_switch_delay: float = 0.0
    """Client: pause after the option select has left the port, before changing speed."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"Timing.{f.name} must be a number >= 0, got {value!r}")
        if self.reaction_min > self.reaction_max:
            raise ValueError(
                f"Timing.reaction_min {self.reaction_min} s exceeds"
                f" reaction_max {self.reaction_max} s"
            )

    @property
    def answer_timeout(self) -> float:
        """How long a side waits for the first byte of an answer it is owed."""
        return self.reaction_max + self.answer_slack
