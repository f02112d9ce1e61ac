"""Programming protection (A1000 manual 2.1.1 and 2.2.1).

Parameter writes need the *programming state* and the P1 password; reads need neither.

* Entering: with the seal lid open, hold the reset button about 8 s; the LCD shows "PRG".
* Leaving: press the reset button again, or 4 minutes pass without any button press.
* Passwords: a wrong password counts an attempt; ``max_attempts`` wrong ones in a row lock
  password entry for ``lockout_s`` (configuration ``passwords``), during which even the
  right password is refused.
* Kept (non-volatile): programming count, meter date and time of the last programming and
  the programmer number (manual display codes 032, 033, 034).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from meter.a1000.config import PROGRAMMING_HOLD_S, PROGRAMMING_TIMEOUT_S, Passwords


class ProgrammingLocked(Exception):
    """Password entry is locked after repeated wrong passwords."""


@dataclass
class ProgrammingState:
    seal_open: bool = False
    prg_active: bool = False
    last_button: float = 0.0  # true time of the last button press (PRG timeout origin)
    wrong_attempts: int = 0
    locked_until: float = 0.0
    count: int = 0  # manual 033 cumulative number of programming
    last_programmed_meter_s: float | None = None  # manual 032
    programmer: str = "0000"  # manual 034
    _wrote_this_session: bool = False

    def in_programming(self, t: float) -> bool:
        if self.prg_active and t - self.last_button >= PROGRAMMING_TIMEOUT_S:
            self.prg_active = False
        return self.prg_active

    def hold_reset_button(self, t: float, seconds: float) -> bool:
        """Hold the reset button from t for ``seconds``; True if PRG was entered."""
        end = t + seconds
        if self.seal_open and seconds >= PROGRAMMING_HOLD_S:
            self.prg_active = True
            self._wrote_this_session = False
        self.last_button = end
        return self.prg_active

    def press_reset_button(self, t: float) -> bool:
        """Short press. In PRG it leaves PRG (returns True); otherwise returns False."""
        was = self.in_programming(t)
        self.last_button = t
        if was:
            self.prg_active = False
        return was

    def press_other_button(self, t: float) -> None:
        self.in_programming(t)
        self.last_button = t

    def check_password(self, t: float, given: str, expected: str, policy: Passwords) -> bool:
        if t < self.locked_until:
            raise ProgrammingLocked(f"locked for {self.locked_until - t:.0f} s")
        if given == expected:
            self.wrong_attempts = 0
            return True
        self.wrong_attempts += 1
        if self.wrong_attempts >= policy.max_attempts:
            self.wrong_attempts = 0
            self.locked_until = t + policy.lockout_s
        return False

    def record_write(self, meter_s: float) -> None:
        """A parameter write succeeded: count one programming per PRG session."""
        if not self._wrote_this_session:
            self.count += 1
            self._wrote_this_session = True
        self.last_programmed_meter_s = meter_s

    def snapshot(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("_wrote_this_session")
        d.pop("prg_active")
        d.pop("seal_open")
        return d

    def restore(self, d: dict[str, Any]) -> None:
        self.last_button = float(d.get("last_button", 0.0))
        self.wrong_attempts = int(d.get("wrong_attempts", 0))
        self.locked_until = float(d.get("locked_until", 0.0))
        self.count = int(d.get("count", 0))
        lp = d.get("last_programmed_meter_s")
        self.last_programmed_meter_s = None if lp is None else float(lp)
        self.programmer = str(d.get("programmer", "0000"))
