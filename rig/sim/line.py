"""IEC 62056-21 line timing of the simulated meter links, in virtual time.

A real optical or RS485 line takes time: every character is 10 bits on the wire in 7E1 (start,
7 data, even parity, stop; standards.md 6.1), at 300 Bd from the sign-on up to the option
select and at the agreed speed after it (9600 Bd for the A1000, identification baud
character 5; standards.md 6.2), and each side keeps the reaction time tr before it answers
(200 ms <= tr, 20 ms when the meter signalled it; standards.md 6.6). The rig's client keeps
the same tr before its next message (meter/iec62056_21/client.py). A sign-on thus costs about
1.6 s and one R1 of the clock in an open session about 0.43 s, answer to answer.

`LineClock` charges that time to the world's virtual clock, one clock per served port (a
position's optical head, or the one RS485 bus all its meters share):

- a message from the rig starts when both its line is free and the rig has got there (the
  world's time at its latest access from elsewhere: a dwell, a source command);
- the meter answers at the end of the message plus tr: the world is brought to that instant
  before the meter is asked, and the meter answers as it is then (`answer_time`), also when
  another line has moved the world further meanwhile (a meter is brought up to the instant
  it is looked at, rig.sim.world; one stepped with the world answers at its own time);
- the line is busy until the answer has gone out and the rig's own tr has passed; the world is
  brought there at the rig's next access from elsewhere (`World.owe_time`). A message that
  is not answered (the break that ends a session) keeps the line busy but not the rig, and
  starts when the line is free (`_start`).

Ports work side by side: exchanges on different lines that the rig starts at the same instant
(`rig.meterlink.each`) overlap in virtual time as they would on a bench with one head per
position; exchanges on one line follow each other. The simulator cannot tell "at the same
instant" from "one after the other" across lines: exchanges on different lines that the rig
makes in turn with nothing else between (no dwell, no instrument command, no control request)
overlap too, so such a loop takes less virtual time here than on a bench.

Settings (bench file `sim.line`): `reaction_s` (tr, default 0.2 s), `inter_character_s`
(pause between two characters of a message, default 0; standards.md 6.6 allows up to 1.5 s),
`enabled` (false: the link takes no virtual time, as before this module). In realtime mode the
wall clock is virtual time and the line is not charged again.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, fields
from typing import Any, Protocol

BITS_PER_CHARACTER = 10  # 7E1: start + 7 data + parity + stop (standards.md 6.1)


class _World(Protocol):
    """The part of rig.sim.world.World a LineClock uses."""

    lock: threading.RLock
    t: float
    line_epoch: float

    def catch_up(self, t: float) -> None: ...
    def owe_time(self, t: float) -> None: ...


@dataclass(frozen=True)
class LineSettings:
    """Timing of a simulated IEC 62056-21 line (standards.md 6.1, 6.6)."""

    reaction_s: float = 0.200
    inter_character_s: float = 0.0
    enabled: bool = True

    def __post_init__(self) -> None:
        for name in ("reaction_s", "inter_character_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"sim.line.{name}: expected seconds, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"sim.line.{name}: must be a finite number >= 0, got {value!r}")
        if self.reaction_s > 1.5:
            raise ValueError(
                f"sim.line.reaction_s: {self.reaction_s} s exceeds the 1.5 s maximum of tr "
                "(standards.md 6.6)"
            )
        if self.inter_character_s >= 1.5:
            raise ValueError(
                f"sim.line.inter_character_s: {self.inter_character_s} s is not below the "
                "1.5 s of ta (standards.md 6.6)"
            )
        if not isinstance(self.enabled, bool):
            raise ValueError(f"sim.line.enabled: expected true or false, got {self.enabled!r}")

    @classmethod
    def of(cls, options: Any) -> LineSettings:
        """From the bench file's `sim.line` mapping (None: the defaults)."""
        if options is None:
            return cls()
        if not isinstance(options, dict):
            raise ValueError(f"sim.line: expected a mapping, got {options!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"sim.line: unknown key(s) {unknown} (known: {sorted(known)})")
        return cls(**options)

    def duration(self, nbytes: int, baud: int) -> float:
        """Seconds `nbytes` characters take on the wire at `baud`."""
        if nbytes <= 0:
            return 0.0
        if baud <= 0:
            raise ValueError(f"line speed must be > 0 Bd, got {baud}")
        return nbytes * BITS_PER_CHARACTER / baud + (nbytes - 1) * self.inter_character_s


class LineClock:
    """One line's time (see the module doc); a MeterServer's `line` observer."""

    def __init__(self, world: _World, settings: LineSettings) -> None:
        self.world = world
        self.settings = settings
        self.free_at = -math.inf  # virtual time from which the rig may send again
        self.answer_at = -math.inf  # when the meter answers the message it was last sent

    def received(self, nbytes: int, baud: int, answer_due: bool) -> None:
        with self.world.lock:
            start = self._start(answer_due)
            answer_at = start + self.settings.duration(nbytes, baud) + self.settings.reaction_s
            self.free_at = answer_at
            if answer_due:  # the rig waits for the answer; for a break it does not
                self.answer_at = answer_at
                self.world.catch_up(answer_at)

    def answer_time(self) -> float:
        """The instant this line's meter answers at (its bank's time source): the end of the
        message it answers plus tr, although another line may have moved the world further
        meanwhile. Lines the rig drives in parallel then answer each at its own instant,
        whichever line was served first (a meter not stepped with the world is at or before it;
        one that is answers at its own time). Before any message: the world's time."""
        answer_at = self.answer_at  # this line's own, set in the thread that asks: no lock
        if answer_at > -math.inf:
            return answer_at
        with self.world.lock:
            return self.world.t

    def now(self) -> float:
        """The line's own latest instant, the start of the meter's protocol timers
        (meter/iec62056_21/session.py `ProtocolClock`): the end of its last exchange (`free_at`),
        whatever the rig has done since, which the serving loop may or may not have seen
        yet. Before any exchange: the instant the rig has got to."""
        free_at = self.free_at  # this line's own, set in the thread that asks: no lock
        if free_at > -math.inf:
            return free_at
        with self.world.lock:
            return self.world.line_epoch

    def input_time(self) -> float:
        """When input that is here now started on the line, the instant the meter's timers
        are checked against: the rig sent it at `_start` (it waits for the answer, so it has
        not moved the world since). A break it does not wait for may be dated later here (the
        rig moved on); it ends the session as the time-out it may pass would."""
        with self.world.lock:
            return self._start(True)

    def wall_wait(self, seconds: float) -> None:
        """The timers run in virtual time, which does not pass while the meter waits for input
        (the rig is waiting for the meter, or has moved the world on and will send at that
        instant): no wall time-out; the timer is checked when input comes (`now`)."""
        return None

    def _start(self, answer_due: bool) -> float:
        """When a message the rig sent starts on this line (call with the world's lock held).

        The rig waits for an answer, so it cannot reach the world between sending a message
        that is answered and this call: the world's `line_epoch` is still the instant it was
        sent from. A message that is not answered (the break that ends a session) the rig
        does not wait for: its next command, a dwell say, may reach the world before the
        serving loop takes the break up, and `line_epoch` would then date the break by the
        machine's scheduling, moving every later exchange on this line with it. The client
        sends the break as soon as it has the last answer (meter/iec62056_21/client.py
        `close`), which is the line's own free instant."""
        if answer_due or self.free_at == -math.inf:
            return max(self.free_at, self.world.line_epoch)
        return self.free_at

    def sent(self, nbytes: int, baud: int) -> None:
        with self.world.lock:
            # From this line's own answer instant: the world may be ahead of it already,
            # moved by another line, whose time is not this one's.
            self.free_at += self.settings.duration(nbytes, baud) + self.settings.reaction_s
            self.world.owe_time(self.free_at)

