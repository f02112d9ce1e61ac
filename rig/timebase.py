"""The rig's one view of time (DESIGN.md decision 2). Test plans never sleep: they dwell and wait
through a Timebase.

- `WallTimebase`: a lab bench. Sleeps in short steps, reports long waits to its observer (the
  run's progress line, rig.progress), and calls a keep-alive callback at least every
  `keepalive_s` so the instruments' communication watchdogs stay fed during hours-long dwells.
- `VirtualTimebase`: the simulated bench. Time is the simulator's virtual clock and only moves
  when the rig advances it through the control endpoint, so a dwell costs one round trip.

Both offer `now()`, `dwell(seconds)` and `wait_until(condition, expected_s, timeout_s, poll_s)`.
Both see the rig's stop request (rig.safety.StopRequest): every step of a dwell or wait checks it
and raises StopRequested, and a wall-clock sleep wakes as soon as it is made, so a dwell of hours
ends within a fraction of a second of Ctrl-C.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from rig.safety import StopRequest


class TimebaseTimeout(TimeoutError):
    """A wait_until condition did not become true within its timeout."""


class _Clock(Protocol):
    """The part of `rig.sim.control.SimControl` a VirtualTimebase uses."""

    def time(self) -> float: ...
    def advance(self, dt: float) -> float: ...


def _check_duration(name: str, value: float, *, positive: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        need = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {need}, got {value!r}")
    return value


class Timebase(ABC):
    """Time as the rig sees it."""

    def __init__(
        self,
        keepalive: Callable[[], Any] | None = None,
        keepalive_s: float = 0.5,
        stop: StopRequest | None = None,
    ) -> None:
        self.keepalive = keepalive
        self.keepalive_s = _check_duration("keepalive_s", keepalive_s, positive=True)
        self._last_keepalive = -math.inf
        self.stop = stop
        # Shows long waits (rig.progress.RunProgress): `bar(total_s, label)` returns an object
        # with `update(seconds)`, `n`, `total` and `close()`.
        self.observer: Any = None

    def _check_stop(self) -> None:
        """Raise StopRequested if the rig was asked to stop."""
        if self.stop is not None:
            self.stop.check()

    @abstractmethod
    def now(self) -> float:
        """Current time in seconds (wall: time.time(); virtual: the simulator's true time)."""

    @abstractmethod
    def _advance(self, seconds: float) -> None:
        """Let `seconds` pass (one step; steps are short on a wall clock)."""

    def _wall(self) -> float:
        """Wall-clock seconds used to space keep-alive calls."""
        return time.monotonic()

    def _feed(self, force: bool = False) -> None:
        """Check the stop request; call the keep-alive when due (wall-clock spacing, both
        timebases). Every step of a dwell or a wait passes here."""
        self._check_stop()
        if self.keepalive is None:
            return
        mono = self._wall()
        if force or mono - self._last_keepalive >= self.keepalive_s:
            self._last_keepalive = mono
            self.keepalive()

    def dwell(self, seconds: float, label: str = "dwell") -> None:
        """Let `seconds` pass (energy accumulates, pulses run)."""
        seconds = _check_duration("dwell seconds", seconds)
        self._dwell(seconds, label)

    def _dwell(self, seconds: float, label: str) -> None:
        self._feed(force=True)
        self._advance(seconds)
        self._feed()

    def wait_until(
        self,
        condition: Callable[[], bool],
        expected_s: float,
        timeout_s: float,
        poll_s: float = 1.0,
        label: str = "wait",
        check_first: bool = True,
    ) -> float:
        """Wait until `condition()` is true; return the time waited (this timebase's seconds).

        expected_s: how long it should take. The wall timebase shows it as a progress bar;
        the virtual timebase jumps straight there (polling earlier would only cost round
        trips). Then the condition is checked every `poll_s`. Raises TimebaseTimeout when it
        is still false after timeout_s. `check_first=False`: the caller has just started what
        it waits for, so the condition cannot hold yet; it is not asked before the first poll
        (on the simulated bench that check would be one more exchange per wait).
        """
        expected_s = _check_duration("expected_s", expected_s)
        timeout_s = _check_duration("timeout_s", timeout_s)
        poll_s = _check_duration("poll_s", poll_s, positive=True)
        self._check_stop()
        start = self.now()
        if check_first and condition():
            return 0.0
        return self._wait(condition, start, expected_s, timeout_s, poll_s, label)

    @abstractmethod
    def _wait(
        self,
        condition: Callable[[], bool],
        start: float,
        expected_s: float,
        timeout_s: float,
        poll_s: float,
        label: str,
    ) -> float: ...

    @staticmethod
    def _timeout(label: str, timeout_s: float) -> TimebaseTimeout:
        return TimebaseTimeout(f"{label}: condition not met within {timeout_s:g} s")


class WallTimebase(Timebase):
    """Wall-clock time for a lab bench."""

    def __init__(
        self,
        keepalive: Callable[[], Any] | None = None,
        *,
        keepalive_s: float = 0.5,
        step_s: float = 0.2,
        progress: bool = True,
        progress_min_s: float = 10.0,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        stop: StopRequest | None = None,
    ) -> None:
        """`sleep`: for tests; by default a real sleep that a stop request wakes."""
        super().__init__(keepalive, keepalive_s, stop)
        self.step_s = _check_duration("step_s", step_s, positive=True)
        self.progress = progress
        self.progress_min_s = progress_min_s
        self._sleep = sleep
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    def _wall(self) -> float:
        return self._clock()

    def _pause(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        elif self.stop is not None:
            self.stop.wait(seconds)
        else:
            time.sleep(seconds)

    def _advance(self, seconds: float) -> None:
        end = self._clock() + seconds
        while (left := end - self._clock()) > 0:
            self._pause(min(left, self.step_s))
            self._feed()

    def _bar(self, total: float, label: str) -> Any:
        """The observer's bar for a long wait (rig.progress draws it through pytest's terminal
        reporter), or None."""
        if not self.progress or total < self.progress_min_s or self.observer is None:
            return None
        return self.observer.bar(total, label)

    def _dwell(self, seconds: float, label: str) -> None:
        bar = self._bar(seconds, label)
        self._feed(force=True)
        start = self._clock()
        end = start + seconds
        try:
            while (left := end - self._clock()) > 0:
                self._pause(min(left, self.step_s))
                self._feed()
                if bar is not None:
                    bar.update(round(self._clock() - start) - bar.n)
        finally:
            if bar is not None:
                bar.close()

    def _wait(
        self,
        condition: Callable[[], bool],
        start: float,
        expected_s: float,
        timeout_s: float,
        poll_s: float,
        label: str,
    ) -> float:
        bar = self._bar(expected_s, label)
        next_poll = start + poll_s
        try:
            while True:
                now = self._clock()
                if now - start >= timeout_s:
                    raise self._timeout(label, timeout_s)
                self._pause(max(0.0, min(self.step_s, next_poll - now, start + timeout_s - now)))
                self._feed()
                if bar is not None:
                    bar.update(min(round(self._clock() - start), bar.total) - bar.n)
                if self._clock() >= next_poll:
                    next_poll += poll_s
                    if condition():
                        return self._clock() - start
        finally:
            if bar is not None:
                bar.close()


class VirtualTimebase(Timebase):
    """The simulator's virtual time, moved through its control endpoint (`SimControl`)."""

    def __init__(
        self,
        control: _Clock,
        keepalive: Callable[[], Any] | None = None,
        *,
        keepalive_s: float = 0.5,
        stop: StopRequest | None = None,
    ) -> None:
        super().__init__(keepalive, keepalive_s, stop)
        self.control = control
        # Virtual seconds this timebase has moved the simulator on: the keep-alive's spacing.
        self._moved_s = 0.0

    def now(self) -> float:
        return self.control.time()

    def _wall(self) -> float:
        """Keep-alives spaced by the virtual time moved, not by the wall clock: each is a
        request to the simulator, and one made at an instant the machine's scheduling chose
        moved the meters on in steps that differ run to run (the float sums of their energy
        then differ by a digit or a pulse: 83 of 698 rows of two full-plan runs did). The
        simulator discounts its own computing from its watchdog (rig.sim.world), so the rig's
        silence between two of these is its own, short."""
        return self._moved_s

    def _advance(self, seconds: float) -> None:
        self._check_stop()
        if seconds > 0:
            self.control.advance(seconds)
            self._moved_s += seconds

    def _wait(
        self,
        condition: Callable[[], bool],
        start: float,
        expected_s: float,
        timeout_s: float,
        poll_s: float,
        label: str,
    ) -> float:
        # Jump to the expected time (capped by the timeout), then poll.
        first = min(expected_s, timeout_s)
        self._advance(first)
        self._feed()
        waited = first
        while True:
            if condition():
                return waited
            if waited >= timeout_s:
                raise self._timeout(label, timeout_s)
            step = min(poll_s, timeout_s - waited)
            self._advance(step)
            self._feed()
            waited += step
