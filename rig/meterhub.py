"""Cooperative tasks for the meter links: every port's work in the calling thread.

`run_tasks(calls)` runs each call as a greenlet of the calling thread. Plain synchronous code
(a `MeterLink` read, a session of several commands) runs until its IEC 62056-21 client would
wait for input; the client then asks the hub (meter.iec62056_21.client.INPUT_WAIT) and the
hub switches to the next task that can run. When every task waits, the hub sleeps in one
poll() on all the awaited descriptors, bounded by the earliest deadline, and resumes the
tasks whose input came or whose time-out is due. A thread per port did the same with one
thread switch (and GIL hand-over) per wake-up on each side; here a wake-up is a function
call in one thread.

Only waits go through the hub: anything else a task does blocks the others until it returns
(writes of a few bytes, termios calls). A client on a transport with no descriptor
(loop://, rfc2217://) polls its port as outside the hub, so it blocks the others while it
waits; the bench's links (ptys, serial devices, socket://) all have one.
"""

from __future__ import annotations

import contextvars
import logging
import math
import select
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from greenlet import GreenletExit, getcurrent, greenlet

from meter.iec62056_21.client import INPUT_WAIT, wait_in_place

log = logging.getLogger(__name__)
T = TypeVar("T")
# Anything poll() reports on a descriptor resumes its reader: data, a hang-up, an error or a
# closed descriptor; the client's read then takes the data or names the loss.
_EVENTS = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


@dataclass
class _Outcome:
    """What one task left: its value, or the exception it raised."""

    value: object = None
    error: Exception | None = None


class Hub:
    """The waits of one `run_tasks` call: which task waits on which descriptor until when."""

    def __init__(self) -> None:
        self._loop = getcurrent()  # the greenlet that runs the loop: the caller's
        self._poller = select.poll()
        self._readers: dict[int, greenlet] = {}
        self._waits: dict[greenlet, tuple[int | None, float]] = {}
        self._tasks: set[greenlet] = set()
        self._closing = False

    def wait(self, fd: int | None, seconds: float) -> bool:
        """In a task: True once `fd` is readable (or hung up), False after `seconds` (fd None:
        a pause). Outside a task of this hub, or while the hub unwinds its tasks after an
        interrupt (their clean-up signs sessions off), the wait happens in place."""
        task = getcurrent()
        if self._closing or task not in self._tasks:
            return wait_in_place(fd, seconds)
        if fd is not None:
            if fd in self._readers:
                raise RuntimeError(f"two meter tasks wait on descriptor {fd} at once")
            self._readers[fd] = task
            self._poller.register(fd, _EVENTS)
        self._waits[task] = (fd, time.monotonic() + seconds)
        return bool(self._loop.switch())

    def run(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        outcomes = [_Outcome() for _ in calls]
        ready: deque[tuple[greenlet, bool]] = deque()
        for call, outcome in zip(calls, outcomes, strict=True):
            task = greenlet(self._body(call, outcome), parent=self._loop)
            # The task's own context: a copy of the caller's (decimal contexts and the like
            # carry over) in which the client's waits go to this hub.
            context = contextvars.copy_context()
            context.run(INPUT_WAIT.set, self.wait)
            task.gr_context = context
            self._tasks.add(task)
            ready.append((task, False))
        try:
            while ready or self._waits:
                while ready:
                    task, readable = ready.popleft()
                    task.switch(readable)  # back here when it waits or ends
                    if task.dead:
                        self._tasks.discard(task)
                if self._waits:
                    self._poll(ready)
        except BaseException:
            self._unwind()
            raise
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error
        return [outcome.value for outcome in outcomes]  # type: ignore[misc]

    @staticmethod
    def _body(call: Callable[[], T], outcome: _Outcome) -> Callable[[bool], None]:
        def body(_first: bool) -> None:  # the loop starts a task as it resumes one
            # An Exception is the task's result (the others go on, as threads did); anything
            # else (KeyboardInterrupt, a test's time-out) leaves through the loop at once.
            try:
                outcome.value = call()
            except Exception as exc:
                outcome.error = exc

        return body

    def _poll(self, ready: deque[tuple[greenlet, bool]]) -> None:
        """Sleep until a descriptor is readable or the earliest deadline; queue those tasks."""
        due = min(deadline for _, deadline in self._waits.values())
        left = due - time.monotonic()
        # poll() counts whole milliseconds: round up, or it wakes before the deadline and
        # spins until it is due.
        timeout = -1 if math.isinf(left) else max(0, math.ceil(left * 1000))
        for fd, _ in self._poller.poll(timeout):
            self._resume(self._readers[fd], True, ready)
        now = time.monotonic()
        if now < due:  # no time-out is due: no task to look at (most wake-ups are input)
            return
        for task, (_, deadline) in list(self._waits.items()):
            if deadline <= now:
                self._resume(task, False, ready)

    def _resume(self, task: greenlet, readable: bool, ready: deque[tuple[greenlet, bool]]) -> None:
        fd, _ = self._waits.pop(task)
        if fd is not None:
            del self._readers[fd]
            self._poller.unregister(fd)
        ready.append((task, readable))

    def _unwind(self) -> None:
        """An interrupt left the loop: end every task now, its clean-up (closing a client
        signs its session off) running with waits in place."""
        self._closing = True
        for task in list(self._tasks):
            if task.dead:
                continue
            try:
                task.throw(GreenletExit)
            except Exception:  # the interrupt is the news; the others still get unwound
                log.exception("a meter task failed while it was ended after an interrupt")
        for fd in self._readers:
            self._poller.unregister(fd)
        self._readers.clear()
        self._waits.clear()
        self._tasks.clear()


def run_tasks(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Each call as a cooperative task of this thread, all at once; their values in order.

    Every task runs to its end; then the first call (in order) that raised an exception has it
    raised here, as `ThreadPoolExecutor.map` did when its results were taken in order.
    A BaseException that is not an Exception (KeyboardInterrupt, a test's time-out) ends the
    other tasks at once (their `with` blocks closing) and is raised."""
    return Hub().run(calls)
