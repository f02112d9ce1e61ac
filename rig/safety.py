"""Structural safety (DESIGN.md decision 4): de-energise on every exit path, and verify it.

`safe_off` ramps the currents to zero, switches the output off and reads the off state back.
`StopRequest` turns SIGINT/SIGTERM into a request (never an exception raised inside whatever
code runs: an instrument exchange in progress ends normally, its reply read, so no later query
reads a stale answer). The stop watcher (rig.stopwatch) de-energises and verifies at once, in
its own thread; the plan sees the request at its next wait or meter exchange and unwinds with
`StopRequested`. `ExitGuard` adds an atexit hook for interpreter exit
while a bench is energised. The last line of defence, a killed controller, is the source's
communication watchdog (`safety.watchdog_s` in the bench file).
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from rig.instruments.loadpoint import LoadPoint
from rig.instruments.roles import PowerSource

log = logging.getLogger("rig.safety")


class SafetyError(RuntimeError):
    """The source could not be verified off: the bench may still be energised."""


def ramp_currents(
    source: PowerSource,
    point: LoadPoint,
    start: float,
    end: float,
    duration: float,
    sleep: Callable[[float], None],
    steps: int = 10,
    applied: Callable[[LoadPoint], None] | None = None,
) -> None:
    """Apply `point` with its currents scaled from `start` to `end` (fractions) in `steps` equal
    steps over `duration` seconds; the first step is applied after one step time. `applied` is
    told every point once the source accepted it (so an interrupted ramp knows where it stood)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    step_time = duration / steps
    for k in range(1, steps + 1):
        sleep(step_time)
        step = point.scaled_current(start + (end - start) * k / steps)
        source.apply(step)
        if applied is not None:
            applied(step)


def ramp_currents_to_zero(
    source: PowerSource,
    point: LoadPoint,
    rate: float | None,
    sleep: Callable[[float], None],
    steps: int = 10,
) -> None:
    """Bring the currents of `point` down to zero at `rate` A/s in `steps` equal steps.

    With no rate the currents are set to zero in one step; a point without current sends nothing.
    """
    peak = point.max_current
    if peak <= 0:
        return
    if rate is None:
        source.apply(point.scaled_current(0.0))
        return
    ramp_currents(source, point, 1.0, 0.0, peak / rate, sleep, steps)


def safe_off(
    source: PowerSource,
    point: LoadPoint | None,
    rate: float | None,
    sleep: Callable[[float], None],
    steps: int = 10,
) -> None:
    """Ramp currents to zero (if a point is set), switch the output off, read the off state back.

    A failing ramp does not stop the switch-off; an interrupted one (KeyboardInterrupt, SystemExit)
    is cut short, the output switched off and verified, then the interruption re-raised. Raises
    SafetyError if the output cannot be verified off; the exception of a failed step is chained.
    """
    failure: BaseException | None = None
    interrupted: BaseException | None = None
    if point is not None:
        try:
            ramp_currents_to_zero(source, point, rate, sleep, steps)
        except Exception as exc:  # still switch off below
            log.error("%s: ramping currents to zero failed: %s", source.name, exc)
            failure = exc
        except BaseException as exc:  # KeyboardInterrupt/SystemExit: cut the ramp short, switch off
            log.warning("%s: ramp interrupted (%r): switching off at once", source.name, exc)
            interrupted = exc
    try:
        source.output_off()
    except Exception as exc:
        log.error("%s: switching the output off failed: %s", source.name, exc)
        failure = exc
    try:
        on = source.is_on()
    except Exception as exc:
        raise SafetyError(f"{source.name}: cannot read back the output state: {exc}") from exc
    if on:
        raise SafetyError(f"{source.name}: output still ON after switch-off") from failure
    log.info("%s: output off (read back)", source.name)
    if failure is not None:
        log.warning("%s: off, but a de-energising step failed: %s", source.name, failure)
    if interrupted is not None:
        raise interrupted


class StopRequested(Exception):
    """A stop was requested (a signal or the operator): raised by the rig's waits and meter
    exchanges so the plan unwinds to the bench's safe state. The message says why."""


class StopRequest:
    """The stop request of one rig: set once by SIGINT/SIGTERM (while installed) or `request()`.

    The signal handler only records the request and tells the `listeners` (the stop watcher
    wakes and switches the source off); timebase waits and meter exchanges `check()` it and
    raise StopRequested, and a wall-clock wait (`wait`) wakes at once. `at` is when the
    request came (time.time). Signals after the first are recorded in `repeated` (name, time)
    and logged, and change nothing: the de-energising and its
    verification always run to their end. `listeners` are called with the reason when the
    request is made (from the signal handler: keep them short, no I/O that may block).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.reason: str | None = None
        self.signal: int | None = None  # the signal number, if a signal made the request
        self.at: float | None = None
        self.repeated: list[tuple[str, float]] = []
        self.listeners: list[Callable[[str], None]] = []
        self._event = threading.Event()
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def request(self, reason: str) -> None:
        """Ask the rig to stop (the first reason is kept)."""
        if self.requested:
            return
        self.reason = reason
        self.at = time.time()
        self._event.set()
        for listener in self.listeners:
            listener(reason)

    def check(self) -> None:
        """Raise StopRequested if a stop was requested."""
        if self.requested:
            raise StopRequested(f"stop requested: {self.reason}")

    def wait(self, seconds: float) -> None:
        """Sleep `seconds` of wall time, or less if a stop is requested meanwhile; then check."""
        self._event.wait(max(0.0, seconds))
        self.check()

    def install(self) -> bool:
        """Handle SIGINT/SIGTERM as stop requests; True if installed now (False if already
        installed, or not the main thread, where Python allows no signal handlers)."""
        if self.installed:
            return False
        if threading.current_thread() is not threading.main_thread():
            log.warning("rig started outside the main thread: no signal handlers installed")
            return False
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return True

    def uninstall(self) -> None:
        """Restore the handlers that were there before `install`."""
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested:
            self.repeated.append((name, time.time()))
            log.warning(
                "%s received again while stopping (%s): ignored; the bench is still being "
                "de-energised and verified off",
                name,
                self.reason,
            )
            return
        log.warning("%s received: stopping; the bench will be de-energised and verified", name)
        self.signal = signum
        self.request(f"{name} received")


class ExitGuard:
    """While a bench is energised: the stop request's signal handlers (unless something, e.g.
    the rig session, installed them already) and an atexit hook that de-energises."""

    def __init__(self, shutdown: Callable[[], None], stop: StopRequest) -> None:
        self.shutdown = shutdown
        self.stop = stop
        self.installed = False
        self._own_handlers = False

    def install(self) -> None:
        if self.installed:
            return
        self._own_handlers = self.stop.install()
        atexit.register(self._at_exit)
        self.installed = True

    def uninstall(self) -> None:
        if not self.installed:
            return
        if self._own_handlers:
            self.stop.uninstall()
            self._own_handlers = False
        atexit.unregister(self._at_exit)
        self.installed = False

    def _at_exit(self) -> None:
        log.warning("interpreter exit with the bench energised: de-energising")
        self.shutdown()
