"""The meter's pulse outputs a bench can cable to an error-calculator input (`pulse_wiring`).

Names and meanings from the A1000 manual 1.1 ("4 channels of pulse outputs ... the first
channel active import energy, second active export energy, third reactive energy Q1 and Q2,
fourth reactive Q3 and Q4"; item 6: two LEDs, active energy on the left, reactive on the right)
and its Appendix C "Output Define" (NO.1..NO.4). Quadrants are IEC's (standards.md 2.1 and 7:
import L is Q1, import C Q4, export L Q3, export C Q2).

`led` is a scanning head on the LEDs, read on the LED of the energy each test measures (the
active LED for active energy, the reactive LED for reactive): how the accuracy, starting and
no-load items are measured, and what a position is cabled to when the bench file says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: The wiring value of a scanning head read on the LED of the energy measured.
LED = "led"


@dataclass(frozen=True)
class MeterOutput:
    """One pulse output: the energy it pulses for, the IEC quadrants it counts, and the
    meter's own words for it."""

    name: str
    energy: Literal["active", "reactive"]
    quadrants: tuple[int, ...]
    text: str

    @property
    def direction(self) -> Literal["import", "export"]:
        """The direction of energy a test load drives it with: import for Q1 (and Q4)."""
        return "import" if 1 in self.quadrants else "export"


METER_OUTPUTS: dict[str, MeterOutput] = {
    o.name: o
    for o in (
        MeterOutput("active_import", "active", (1, 4), "output 1, active import energy"),
        MeterOutput("active_export", "active", (2, 3), "output 2, active export energy"),
        MeterOutput("reactive_q1q2", "reactive", (1, 2), "output 3, reactive energy Q1 and Q2"),
        MeterOutput("reactive_q3q4", "reactive", (3, 4), "output 4, reactive energy Q3 and Q4"),
        MeterOutput("led_active", "active", (1, 2, 3, 4), "left LED, active energy"),
        MeterOutput("led_reactive", "reactive", (1, 2, 3, 4), "right LED, reactive energy"),
    )
}

#: The LED that pulses for each energy (manual 1.1 item 6).
LED_OF = {"active": "led_active", "reactive": "led_reactive"}


def check_output(name: str) -> str:
    """`name` if it is a meter output or `led`; ValueError naming the known ones otherwise."""
    if name != LED and name not in METER_OUTPUTS:
        raise ValueError(f"{name!r} is not a meter output; one of {LED}, "
                         + ", ".join(METER_OUTPUTS))
    return name


def sees(wired: str, output: str) -> bool:
    """Does an input cabled to `wired` count `output`? A head on the LEDs (`led`) reads either
    LED; a cable counts only its own output."""
    return wired == output or (wired == LED and output in LED_OF.values())
