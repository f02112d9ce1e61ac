"""Driver operations as steps (sans-IO): an operation is a generator that yields each exchange
it needs and is sent that exchange's reply lines; the runner does the I/O.

`run` carries one operation out on its own instrument. `run_together` carries out one operation
on each of several instruments from one thread: it sends every instrument its request before
it reads any reply, so the instruments work at the same time and N of them cost about one round
trip (a bench's separate error calculators, one ZERA MAD per position) with no thread per
instrument. Each instrument's exchanges stay in order and under that instrument's lock.

An operation may also yield a `SharedQuery` (a value another instrument answers, e.g. the
reference standard's constant every MAD needs) before its first exchange: `run_together` asks
each such query once for all its operations, before any request is in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from rig.instruments.sharedquery import SharedQuery
from rig.instruments.transport import TRANSPORT_ERRORS

if TYPE_CHECKING:
    from rig.instruments.base import Instrument

T = TypeVar("T")


class Exchange(NamedTuple):
    """Write `command`, read `lines` reply lines; `idempotent`: may be retried. (A tuple: one
    is made per request, and a frozen dataclass costs several times as much to make.)"""

    command: str
    lines: int
    idempotent: bool = True


Steps = Generator["Exchange | SharedQuery[Any]", Any, T]


def run(instrument: Instrument, op: Steps[T]) -> T:
    """Carry `op` out on `instrument` alone, under its lock. An exchange that fails closes
    `op` (GeneratorExit where it waits: its cleanup runs now) before the failure is raised."""
    with instrument.lock:
        value: Any = None
        while True:
            try:
                step = op.send(value)
            except StopIteration as done:
                return done.value
            try:
                if isinstance(step, SharedQuery):
                    value = step.get()
                else:
                    value = instrument._exchange_locked(
                        step.command, step.lines, idempotent=step.idempotent
                    )
            except BaseException:
                op.close()
                raise


@dataclass
class _Flight:
    """One operation of `run_together`: its instrument, the exchange it waits on, its end."""

    instrument: Instrument
    op: Steps[Any]
    step: Exchange | None = None  # sent (or being sent), its reply not read yet
    failed: BaseException | None = None  # the transport failure of sending `step`
    result: Any = None
    error: BaseException | None = None

    def advance(self, value: Any, ask: Callable[[SharedQuery[Any]], Any] | None) -> None:
        """Send `value` into the operation until it names an exchange or ends; `ask` answers
        its shared queries (None once requests are in flight: it may not ask any then)."""
        self.step = None
        try:
            while True:
                step = self.op.send(value)
                if not isinstance(step, SharedQuery):
                    self.step = step
                    return
                if ask is None:
                    raise RuntimeError(
                        f"{self.instrument.name}: a shared query after an exchange"
                    )
                value = ask(step)
        except StopIteration as done:
            self.result = done.value
        except Exception as exc:  # the operation's own failure: raised once all are done
            self.error = exc


def run_together(
    ops: Sequence[tuple[Instrument, Steps[Any]]], meanwhile: Callable[[], None] | None = None
) -> list[Any]:
    """The results of `ops` (instrument, operation; one operation per instrument), carried
    out together: every first request is sent before any reply is read, and `meanwhile` (other
    instruments' blocking work) runs while they are in flight. Every reply is read before the
    first error (of an operation, or of `meanwhile`) is raised, so no exchange is left half
    done; an instrument whose reply is left unread (an interrupt) gets a new connection, so its
    next exchange does not read a stale reply."""
    flights = [_Flight(instrument, op) for instrument, op in ops]
    answers: dict[int, Any] = {}  # id(query) -> its answer in this pass

    def ask(query: SharedQuery[Any]) -> Any:
        if id(query) not in answers:
            answers[id(query)] = query.get()
        return answers[id(query)]

    for f in flights:  # nothing is in flight while shared queries are asked
        f.advance(None, ask)
    locked: list[_Flight] = []
    problem: BaseException | None = None
    try:
        for f in flights:
            if f.step is None:
                continue
            f.instrument.lock.acquire()
            locked.append(f)
            _send(f)
        if meanwhile is not None:
            try:
                meanwhile()
            except Exception as exc:
                problem = exc
        for f in locked:
            while f.step is not None:
                try:
                    replies = _reply(f)
                except Exception as exc:
                    f.step, f.error = None, exc
                    f.op.close()  # as `run` does
                    break
                f.advance(replies, None)
                if f.step is not None:  # its next exchange: sent now, read next
                    _send(f)
    finally:
        for f in locked:
            if f.step is not None:  # interrupted before its reply was read
                f.op.close()
                f.instrument._reset_transport()
            f.instrument.lock.release()
    errors = [f.error for f in flights if f.error is not None]
    if problem is not None:
        errors.insert(0, problem)
    if errors:
        raise errors[0]
    return [f.result for f in flights]


def _send(f: _Flight) -> None:
    """Send `f.step`; a transport failure is kept for `_reply`, which retries on its own."""
    assert f.step is not None
    try:
        f.instrument._send(f.step.command)
    except TRANSPORT_ERRORS as exc:
        f.failed = exc


def _reply(f: _Flight) -> list[str]:
    """The reply lines of `f.step`, sent already: read them; after a transport failure (of the
    send or the read) the instrument's remaining attempts, one exchange at a time."""
    assert f.step is not None
    step, failed, f.failed = f.step, f.failed, None
    if failed is None:
        try:
            return f.instrument._receive(step.lines)
        except TRANSPORT_ERRORS as exc:
            failed = exc
    return f.instrument._exchange_locked(
        step.command, step.lines, idempotent=step.idempotent, failed=failed
    )
