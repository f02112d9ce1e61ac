"""How long talking to a meter takes at real line timing: the figures procedures plan their
meter communication with (their `planned_seconds`).

IEC 62056-21 mode C (standards.md 6.1, 6.2, 6.6): 7E1 characters (10 bits), the sign-on at
300 Bd up to the option select, the agreed 9600 Bd after it, and each side's reaction time
tr = 200 ms before it answers.

- Sign-on: `/?!CRLF` (5 characters, 0.17 s at 300 Bd), tr, the identification (`/XXX5` and an
  ident, about 12 characters, 0.40 s), tr, the option select `ACK 0 5 1 CRLF` (6 characters,
  0.20 s), the baud switch (0.2-0.4 s around it, standards.md 6.6), the P0 answer at 9600 Bd
  (about 20 characters, 0.02 s) and tr: about 1.7 s.
- One R1 (or W1) exchange in an open session at 9600 Bd: a request and an answer of about 15
  characters each (0.016 s each) and tr on both sides: about 0.43 s, answer to answer.
- A data readout (option select '0', standards.md 6.2): the sign-on, then one message of the
  meter's whole readout list at 9600 Bd, 10 bits a character: the A1000's (the bundled model's
  list, 171 data sets with the energy registers of Appendix A, the demands, the previous
  month's values and the event counters) is about 4 600 characters, 4.8 s.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from rig.hands import HOLD_RESET_S

SIGN_ON_S = 1.7
EXCHANGE_S = 0.43
#: One character at the agreed 9600 Bd (standards.md 6.2, the A1000's baud character 5) in 7E1:
#: start, 7 data, parity, stop (standards.md 6.1).
CHARACTER_S = 10 / 9600
#: The A1000's data readout, characters (module doc).
A1000_READOUT_CHARACTERS = 4600


@dataclass(frozen=True)
class Line:
    """The line's time per sign-on and per exchange."""

    sign_on_s: float = SIGN_ON_S
    exchange_s: float = EXCHANGE_S
    character_s: float = CHARACTER_S


REAL_LINE = Line()
NO_LINE = Line(0.0, 0.0, 0.0)
#: Set inside `without_line`: the planned times are computed without the line.
_WITHOUT_LINE: ContextVar[bool] = ContextVar("without_line", default=False)


def _line() -> Line:
    return NO_LINE if _WITHOUT_LINE.get() else REAL_LINE


@contextmanager
def without_line() -> Iterator[None]:
    """Planned times with the meter communication taking no time: what is left of a
    procedure's planned seconds is its measuring, settling and inherent waits (the physical
    minimum, rig.benchtime.minimum_seconds)."""
    token = _WITHOUT_LINE.set(True)
    try:
        yield
    finally:
        _WITHOUT_LINE.reset(token)


def read_s(registers: int = 1) -> float:
    """A session that reads `registers` values: the sign-on, one exchange each."""
    line = _line()
    return line.sign_on_s + registers * line.exchange_s


def readout_s(characters: int = A1000_READOUT_CHARACTERS) -> float:
    """A data readout session: the sign-on and a readout of `characters`."""
    line = _line()
    return line.sign_on_s + characters * line.character_s


def programming_s(writes: int = 1) -> float:
    """Entering the programming state (the reset button held HOLD_RESET_S, A1000 manual 2.2.1)
    and a session writing `writes` values after the password (P1)."""
    line = _line()
    return HOLD_RESET_S + line.sign_on_s + (1 + writes) * line.exchange_s


def clock_reading_s(resolution_s: float, reads: int = 0) -> float:
    """One clock offset bracketed to `resolution_s` by vernier polling
    (rig.meterlink.clock_offsets): the sign-on, the date before and after, and up to
    ceil(1 / resolution_s) polls an exchange apart; then `reads` values read in its session."""
    line = _line()
    return line.sign_on_s + (2 + math.ceil(1.0 / resolution_s - 1e-9) + reads) * line.exchange_s
