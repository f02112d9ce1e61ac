"""The stop watcher: the source goes off as soon as a stop is requested, whatever the rig's main
thread is doing.

The main thread sees a stop request (rig.safety.StopRequest) only at its next wait or meter
exchange; a test with only computing left (a long catch-up, a report's analysis) would keep the
bench energised until then. The watcher is a thread woken by the request itself (an Event, no
polling). It runs the bench's switch-off: under the source's instrument lock, so an exchange in
progress ends with its reply read and the main thread sends the source nothing meanwhile; the
currents ramped down, the output switched off and read back off. It records what happened (a
`StopOutcome`) and nothing else: the run log and the results store belong to the main thread,
which writes the facts in their true order when it closes the run (rig.session).

Signals are handled in the main thread only (Python), so a second Ctrl-C cannot interrupt the
switch-off or its verification here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from rig.safety import SafetyError, StopRequest

log = logging.getLogger("rig.stopwatch")

#: How long `finish` waits for a switch-off in progress. Generous: a switch-off is a few
#: exchanges, each bounded by its VISA timeout and retries, and ramps at most `ramp` seconds.
FINISH_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class StopOutcome:
    """What the watcher did on a stop request (times are time.time, for the run log)."""

    reason: str  # the stop request's reason
    started_at: float  # the watcher woke and began to switch off
    ended_at: float  # the switch-off ended: verified off, or failed
    error: str | None = None  # why the source could not be verified off (None: it was)

    @property
    def verified_off(self) -> bool:
        return self.error is None


class StopWatcher:
    """A thread that runs `switch_off` once, as soon as `stop` is requested; `finish` ends it.

    `switch_off` raises SafetyError (or any error) when the source cannot be verified off; it
    must do its own locking against the main thread (Bench.switch_off_on_stop does).
    """

    def __init__(self, stop: StopRequest, switch_off: Callable[[], None],
                 name: str = "rig-stop-watcher") -> None:
        self.stop = stop
        self._switch_off = switch_off
        self._wake = threading.Event()
        self._closing = False
        self.outcome: StopOutcome | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        # From the signal handler: only sets an Event (no I/O, no lock the main thread holds).
        stop.listeners.append(self._on_request)

    def start(self) -> StopWatcher:
        self._thread.start()
        if self.stop.requested:  # requested before the listener could wake us
            self._wake.set()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _on_request(self, reason: str) -> None:
        self._wake.set()

    def _run(self) -> None:
        self._wake.wait()
        if not self.stop.requested:  # woken by finish(): nothing to do
            return
        started = time.time()
        error: str | None = None
        try:
            self._switch_off()
        except SafetyError as exc:
            error = str(exc)
        except Exception as exc:  # e.g. an instrument error after the retries: not verified off
            error = f"{type(exc).__name__}: {exc}"
        ended = time.time()
        if error is not None:
            log.error("stop request: the source could not be verified off: %s", error)
        self.outcome = StopOutcome(str(self.stop.reason), started, ended, error)

    def finish(self, timeout_s: float = FINISH_TIMEOUT_S) -> StopOutcome | None:
        """Main thread: wait for a switch-off in progress (if a stop was requested), end the
        thread; the outcome, or None if no stop was requested. A switch-off still running after
        `timeout_s` is an outcome with an error (the bench is then not known to be off)."""
        if self._closing:
            return self.outcome
        self._closing = True
        self._wake.set()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout_s)
        if self._thread.is_alive():
            now = time.time()
            return StopOutcome(
                str(self.stop.reason), now, now,
                f"the switch-off on the stop request did not end within {timeout_s:g} s",
            )
        if self._on_request in self.stop.listeners:
            self.stop.listeners.remove(self._on_request)
        return self.outcome
