"""One query answering every caller that asks while it is in flight.

Separate error calculators (a ZERA MAD per position) each need the reference standard's constant
when a group step configures them, one thread per calculator (rig.instruments.ecgroup). Asked
one after the other, the shared reference would answer the same question once per position;
here the callers that ask while a query is under way wait for it and share its answer, so the
answer is never older than the moment they asked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedQuery(Generic[T]):
    """`get()` runs `query`, unless a run is in flight: then it waits for that run's answer
    (or its exception)."""

    def __init__(self, query: Callable[[], T]) -> None:
        self.query = query
        self._cond = threading.Condition()
        self._running = False
        self._runs = 0  # completed runs
        self._answer: tuple[T | None, BaseException | None] = (None, None)

    def get(self) -> T:
        with self._cond:
            if self._running:
                run = self._runs
                self._cond.wait_for(lambda: self._runs > run)
                return self._unpack(self._answer)
            self._running = True
        answer: tuple[T | None, BaseException | None]
        try:
            answer = (self.query(), None)
        except BaseException as exc:  # every waiter gets it too
            answer = (None, exc)
        with self._cond:
            self._answer, self._running = answer, False
            self._runs += 1
            self._cond.notify_all()
        return self._unpack(answer)

    @staticmethod
    def _unpack(answer: tuple[T | None, BaseException | None]) -> T:
        value, exc = answer
        if exc is not None:
            raise exc
        return value  # type: ignore[return-value]
