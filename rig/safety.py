"""Structural safety (DESIGN.md decision 4): de-energise on every exit path, and verify it.

`safe_off` ramps the currents to zero, switches the output off and reads the off state back.
`ExitGuard` makes sure it runs: while a bench is energised it installs SIGTERM/SIGINT handlers
(turning both into exceptions that unwind the `with` block) and an atexit hook for interpreter
exit; the previous handlers are restored when the bench is de-energised.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
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


class ExitGuard:
    """Runs `shutdown` on SIGTERM/SIGINT (as exceptions) and at interpreter exit while installed."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, shutdown: Callable[[], None]) -> None:
        self.shutdown = shutdown
        self.installed = False
        self.stopping = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Install the handlers (signal handlers only from the main thread) and the atexit hook."""
        if self.installed:
            return
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._on_signal)
        else:
            log.warning("bench energised outside the main thread: no signal handlers installed")
        atexit.register(self._at_exit)
        self.installed = True
        self.stopping = False

    def uninstall(self) -> None:
        """Restore the previous handlers and drop the atexit hook."""
        if not self.installed:
            return
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
        atexit.unregister(self._at_exit)
        self.installed = False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.stopping:
            log.warning("%s while de-energising: ignored until the source is off", name)
            return
        self.stopping = True
        log.warning("%s received: de-energising the bench", name)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        # 128 + signal number is the shell's exit status for a signal death.
        raise SystemExit(128 + signum)

    def _at_exit(self) -> None:
        log.warning("interpreter exit with the bench energised: de-energising")
        self.stopping = True
        self.shutdown()
