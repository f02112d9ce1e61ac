"""One thread serving every simulated instrument: a selector loop with timers.

A bench of 12 positions has some fifteen instrument endpoints (source, reference, a ZERA MAD per
position, the control endpoint). With a thread per connection, a round of requests to the MADs
wakes a thread each, and they queue for the GIL behind one another and behind the rig; here one
thread wakes, finds every request that has arrived ready at once, and answers them in turn.

Everything registered runs in the loop's thread: the callbacks for ready file descriptors, the
timers, and the calls handed over from other threads (`call`, `call_soon`). A callback must not
block: what takes time on a real instrument (an injected slow reply) is a timer.

The loop waits in epoll (Linux, as the ptys of rig.sim are) and dispatches by file descriptor:
a request costs the loop one wait and a dictionary look-up, so one instrument on one connection
is answered as fast as by a thread of its own (benchmarks/bench_sim.py, bare-socket queries).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("rig.sim")

T = TypeVar("T")
Callback = Callable[[], None]
_NONE: tuple[None, None] = (None, None)


class ServingLoop:
    """Selector loop in one daemon thread. `start()`, register file descriptors with
    `watch(fd, read=..., write=...)` from the loop's thread (or through `call`), `stop()`."""

    def __init__(self, name: str = "sim-serving") -> None:
        self.name = name
        self._epoll = select.epoll()
        self._handlers: dict[int, tuple[Callback | None, Callback | None]] = {}  # fd -> r, w
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.watch(self._wake_r, read=self._drain_wake)
        self._handed: deque[Callback] = deque()  # calls from other threads, in order
        self._timers: list[tuple[float, int, Callback]] = []
        self._seq = itertools.count()  # timers due at the same instant run in order
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ServingLoop:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (what is still registered is left as it is) and free the loop; from
        any thread but the loop's own."""
        if self.in_loop():
            raise RuntimeError(f"{self.name}: stop() from the loop's own thread")
        if self._stopping:
            return
        self._stopping = True
        if self._thread is not None:
            self.call_soon(self._stop_now)
            # It ends after the callback in progress (a long control operation may be one).
            self._thread.join(timeout=60)
            if self._thread.is_alive():
                log.warning("%s: still in a callback after 60 s; left running", self.name)
                return
            self._thread = None
        self._epoll.close()
        self._wake_r.close()
        self._wake_w.close()

    def _stop_now(self) -> None:
        self._stopping = True

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    # -- registration (loop thread only) -----------------------------------------------------
    def watch(
        self, fileobj: Any, read: Callback | None = None, write: Callback | None = None
    ) -> None:
        """Call `read` when `fileobj` (a file descriptor or an object with `fileno()`, still
        open) is readable or at its end, and `write` when it is writable (None: not watched for
        that); both None: not watched at all. Unwatch a file object before closing it."""
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        events = (select.EPOLLIN if read else 0) | (select.EPOLLOUT if write else 0)
        known = fd in self._handlers
        if not events:
            if known:
                del self._handlers[fd]
                with contextlib.suppress(OSError):  # already closed elsewhere
                    self._epoll.unregister(fd)
            return
        if known:
            self._epoll.modify(fd, events)
        else:
            self._epoll.register(fd, events)
        self._handlers[fd] = (read, write)

    def call_later(self, delay_s: float, fn: Callback) -> None:
        """Run `fn` in the loop after `delay_s` seconds (loop thread only)."""
        heapq.heappush(self._timers, (time.monotonic() + delay_s, next(self._seq), fn))

    # -- from any thread ---------------------------------------------------------------------
    def call_soon(self, fn: Callback) -> None:
        """Run `fn` in the loop's thread, as soon as it is free."""
        self._handed.append(fn)
        with contextlib.suppress(BlockingIOError, OSError):  # a wake-up already pending
            self._wake_w.send(b"x")

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` in the loop's thread and return its value (or raise its exception); from the
        loop's own thread, or before it started, it is called directly."""
        if self._thread is None or self.in_loop():
            return fn()
        done = threading.Event()
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append((fn(), None))
            except BaseException as exc:  # handed back to the caller
                outcome.append((None, exc))
            done.set()

        self.call_soon(run)
        thread = self._thread
        # No time limit: a callback in progress may be a long control operation (the world
        # advanced by months at many positions); only a loop that has ended never answers.
        while not done.wait(timeout=1.0):
            if not thread.is_alive():
                raise RuntimeError(f"{self.name}: the serving loop has stopped")
        value, exc = outcome[0]
        if exc is not None:
            raise exc
        return value

    # -- the loop ----------------------------------------------------------------------------
    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._wake_r.recv(4096)

    def _run(self) -> None:
        poll, handlers = self._epoll.poll, self._handlers
        timers, handed = self._timers, self._handed
        readable = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR
        writable = select.EPOLLOUT | select.EPOLLHUP | select.EPOLLERR
        while not self._stopping:
            timeout = -1.0
            if handed:
                timeout = 0.0
            elif timers:
                timeout = max(0.0, timers[0][0] - time.monotonic())
            for fd, mask in poll(timeout):
                # Looked up now: a callback earlier in this pass may have unwatched (closed)
                # this descriptor, and each callback checks that its file is still open.
                read, write = handlers.get(fd, _NONE)
                try:
                    if write is not None and mask & writable:
                        write()
                        read = handlers.get(fd, _NONE)[0]  # the write may have ended it
                    if read is not None and mask & readable:
                        read()
                except Exception:  # the loop goes on: every other instrument stays up
                    log.exception("%s: serving descriptor %d failed", self.name, fd)
            while handed:
                self._guarded(handed.popleft())
            if timers:
                now = time.monotonic()
                while timers and timers[0][0] <= now:
                    self._guarded(heapq.heappop(timers)[2])

    def _guarded(self, fn: Callback) -> None:
        """Run one callback; one that raises is logged and the loop goes on (every instrument
        it serves stays up)."""
        try:
            fn()
        except Exception:
            log.exception("%s: a callback failed", self.name)
