"""Transcript testing of drivers without hardware (the idea of PyMeasure's expected_protocol).

A transcript is a list of (command, reply) pairs. `reply` is None (nothing to read), a string
(one line), a list of strings (several lines) or `Fail(exc)` (the read raises exc). `FailWrite(exc)`
as the reply makes the write itself raise. Every write must match the next command exactly; at
the end every pair must have been used and every reply line read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Fail:
    """Reply marker: reading the reply raises `exc`."""

    exc: BaseException


@dataclass(frozen=True)
class FailWrite:
    """Reply marker: writing the command raises `exc`."""

    exc: BaseException


Reply = str | list[str] | Fail | FailWrite | None


class TranscriptAdapter:
    """An adapter that checks writes against a transcript and serves its replies."""

    def __init__(self, transcript: Sequence[tuple[str, Reply]]) -> None:
        self.transcript = list(transcript)
        self.position = 0
        self.pending: list[str | Fail] = []
        self.closed = False

    def write(self, line: str) -> None:
        if self.pending:
            raise AssertionError(f"wrote {line!r} while reply {self.pending!r} was left unread")
        if self.position >= len(self.transcript):
            raise AssertionError(f"unexpected write {line!r}: the transcript is used up")
        expected, reply = self.transcript[self.position]
        if line != expected:
            raise AssertionError(
                f"transcript step {self.position}: expected {expected!r}, driver wrote {line!r}"
            )
        self.position += 1
        if isinstance(reply, FailWrite):
            raise reply.exc
        if reply is None:
            self.pending = []
        elif isinstance(reply, (str, Fail)):
            self.pending = [reply]
        else:
            self.pending = list(reply)

    def read(self) -> str:
        if not self.pending:
            last = self.transcript[self.position - 1][0] if self.position else None
            raise AssertionError(f"read with no reply pending (last command {last!r})")
        item = self.pending.pop(0)
        if isinstance(item, Fail):
            self.pending = []
            raise item.exc
        return item

    def close(self) -> None:
        self.closed = True

    def assert_done(self) -> None:
        """Fail unless every command was sent and every reply read."""
        if self.position != len(self.transcript):
            left = [c for c, _ in self.transcript[self.position :]]
            raise AssertionError(f"transcript not used up; still expected: {left!r}")
        if self.pending:
            raise AssertionError(f"reply lines left unread: {self.pending!r}")


@contextmanager
def expected_protocol(
    driver: type[T], transcript: Sequence[tuple[str, Reply]], **kwargs: Any
) -> Iterator[T]:
    """Build `driver` on a transcript adapter, yield it, then check the transcript was used up."""
    adapter = TranscriptAdapter(transcript)
    instrument = driver(adapter, **kwargs)
    yield instrument
    adapter.assert_done()
