"""The error calculators of several positions, driven as one.

All positions are measured at once (instruments.md 3), so every step of a measurement (configure,
start, poll, read) is done for all of them, in one pass:
- calculators whose instrument batches (`BatchesErrorCalculators`, e.g. the ZERA COM5003's
  pipelined SCPI) cost one exchange per instrument and step;
- calculators that offer their operations as steps (`StepsErrorCalculator`, e.g. a ZERA MAD per
  position) each get their request sent before any reply is read (rig.instruments.steps), so
  their instruments work at the same time and N of them cost about one round trip, from one
  thread;
- any other calculator is called on its own, several at the same time one thread each (each
  has its own connection).
The batches and the other calls run while the stepped requests are in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from rig.instruments.roles import (
    BatchesErrorCalculators,
    ECResult,
    ECState,
    ECStatus,
    ErrorCalculator,
    Quantity,
    StepsErrorCalculator,
)
from rig.instruments.steps import Steps, run_together

T = TypeVar("T")


class ECGroup:
    """Error calculators by position id; results come back keyed by position id."""

    #: Most instruments talked to at once in one step.
    max_threads = 16

    def __init__(self, ecs: Mapping[int, ErrorCalculator], parent: ECGroup | None = None) -> None:
        self.ecs = dict(ecs)
        # Once: a Protocol isinstance check is not cheap.
        self._batched, self._stepped, self._alone = self._plan()
        self._parent = parent  # a subset uses its group's threads
        self._pool: ThreadPoolExecutor | None = None

    @property
    def positions(self) -> list[int]:
        return list(self.ecs)

    def subset(self, positions: Sequence[int]) -> ECGroup:
        """The group of `positions` only (each must be in this group)."""
        missing = [p for p in positions if p not in self.ecs]
        if missing:
            raise KeyError(f"positions {missing} are not in the group {self.positions}")
        return ECGroup({p: self.ecs[p] for p in positions}, parent=self._parent or self)

    def _plan(
        self,
    ) -> tuple[list[tuple[BatchesErrorCalculators, list[int]]], list[int], list[int]]:
        """Positions by how they are driven (module doc): by the instrument that batches them
        (in order of first appearance, so exchanges go out in position order), stepped (one
        per instrument: a second calculator of the same instrument is called on its own), and
        on their own."""
        batches: dict[int, tuple[BatchesErrorCalculators, list[int]]] = {}
        stepped: list[int] = []
        alone: list[int] = []
        instruments: set[int] = set()
        for p, ec in self.ecs.items():
            owner = getattr(ec, "parent", None)
            if isinstance(owner, BatchesErrorCalculators):
                batches.setdefault(id(owner), (owner, []))[1].append(p)
            elif isinstance(ec, StepsErrorCalculator) and id(owner) not in instruments:
                instruments.add(id(owner))
                stepped.append(p)
            else:
                alone.append(p)
        return list(batches.values()), stepped, alone

    def _each(
        self,
        many: Callable[[BatchesErrorCalculators, list[ErrorCalculator]], list[T] | None],
        steps: Callable[[Any], Steps[T]],
        one: Callable[[ErrorCalculator], T],
    ) -> dict[int, T]:
        out: dict[int, T] = {}

        def batch(owner: BatchesErrorCalculators, ps: list[int]) -> list[tuple[int, T]]:
            values = many(owner, [self.ecs[p] for p in ps])
            return [] if values is None else list(zip(ps, values, strict=True))

        calls: list[Callable[[], list[tuple[int, T]]]] = [
            *(lambda o=o, ps=ps: batch(o, ps) for o, ps in self._batched),
            *(lambda p=p: [(p, one(self.ecs[p]))] for p in self._alone),
        ]

        def meanwhile() -> None:
            for pairs in self._run(calls):
                out.update(pairs)

        stepped: list[Any] = [self.ecs[p] for p in self._stepped]
        ops = [(ec.parent, steps(ec)) for ec in stepped]
        out.update(zip(self._stepped, run_together(ops, meanwhile), strict=True))
        return {p: out[p] for p in self.ecs if p in out}  # in the group's position order

    def _run(self, calls: list[Callable[[], Any]]) -> list[Any]:
        """Each call's result, the calls made at the same time when there are several; every
        call finishes before the first failure is raised (no exchange is left half done)."""
        if len(calls) < 2:
            return [call() for call in calls]
        pool = (self._parent or self)._threads()
        futures = [pool.submit(call) for call in calls]
        errors = [f.exception() for f in futures]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first
        return [f.result() for f in futures]

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                min(len(self._batched) + len(self._alone), self.max_threads),
                thread_name_prefix="ec-group",
            )
        return self._pool

    def close(self) -> None:
        """Stop the group's threads (a later step starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def configure(
        self, meter_constant: float, pulses: int, quantity: Quantity, continuous: bool = False
    ) -> None:
        """Set constant, pulse count, quantity and run mode on every calculator."""
        self._each(
            lambda o, ecs: o.configure_many(ecs, meter_constant, pulses, quantity, continuous),
            lambda ec: ec.configure_steps(meter_constant, pulses, quantity, continuous),
            lambda ec: ec.configure(meter_constant, pulses, quantity, continuous),
        )

    def start(self) -> None:
        """Arm every calculator (each gate opens on its meter's next pulse)."""
        self._each(lambda o, ecs: o.start_many(ecs), lambda ec: ec.start_steps(),
                   lambda ec: ec.start())

    def abort(self) -> None:
        """Stop every calculator."""
        self._each(lambda o, ecs: o.abort_many(ecs), lambda ec: ec.abort_steps(),
                   lambda ec: ec.abort())

    def states(self) -> dict[int, ECState]:
        """The state of every calculator (the cheap poll)."""
        return self._each(lambda o, ecs: o.states_of(ecs), lambda ec: ec.state_steps(),
                          lambda ec: ec.state())

    def statuses(self) -> dict[int, ECStatus]:
        """State, progress, result and counts of every calculator."""
        return self._each(lambda o, ecs: o.statuses_of(ecs), lambda ec: ec.status_steps(),
                          lambda ec: ec.status())

    def results(self) -> dict[int, ECResult]:
        """Error and reference counts of every calculator, each just polled READY."""
        return self._each(lambda o, ecs: o.results_of(ecs), lambda ec: ec.result_steps(),
                          lambda ec: ec.result())
