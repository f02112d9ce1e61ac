"""The plans' recorder: a verdict per position and point, committed to the store as it is taken.

The point protocol, written once here for every plan:

    for take in recorder.measure(numbers, [desc]):   # only what is still to measure
        readings = ...                               # apply the point, measure every position
        for n, r in readings.items():
            take.record(n, desc, "active energy error", r.mean, "%", limit_low=..., ...)
    # the loop's end asserted every verdict of the test (stored before or taken now)

`measure` yields a `Take` per point (or per group of points measured in one experiment) that
an earlier session of a resumed run did not complete; a take marks its points started (a
killed run shows which point it died in) and commits the records made through it together when
its block ends (one sync to disk for every position; nothing if the block raises). A test whose
experiment needs more than this uses the same parts: `todo`, `start` (or `point`), `Take.commit`
and `verdicts`.

`Recorder.record` applies the run's decision rule (rig.metrology) and writes the row.
`Recorder.assert_all_pass` fails the test with one line per failing position, so a red test
names the meter, the value, the limit and the cause. Exactly-once is enforced here, not left to
each plan: `record()` refuses a point a previous session of the run completed (RecordedBefore)
instead of overwriting its values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from reports.records import Measurement, MeasurementKey, Repetitions, Verdict, point_key
from reports.store import ResultsStore
from rig.metrology import UncertaintyBudget, decide


class RecordedBefore(RuntimeError):
    """A plan measured again a point that an earlier session of the resumed run completed."""


@dataclass
class Take:
    """One point, or a group of points measured in one experiment, being measured now.

    Made by `Recorder.start`: the records made through it wait for `commit()` and are then
    stored together (none if the measurement raised before); `started_at` (when the take
    began) is every record's start time unless the record names its own."""

    recorder: Recorder
    points: tuple[Mapping[str, Any], ...]
    started_at: float
    _records: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def record(self, position: int, point: Mapping[str, Any], quantity: str,
               value: float | None, unit: str, **fields: Any) -> None:
        """A measurement of this take, with the arguments of `Recorder.record`; it is decided
        and stored when the take's block ends."""
        fields.setdefault("started_at", self.started_at)
        self._records.append(((position, point, quantity, value, unit), fields))

    def commit(self) -> None:
        with self.recorder.batch():
            for args, fields in self._records:
                self.recorder.record(*args, **fields)
        self._records.clear()


class Recorder:
    """Bound to one plan test (test id, family, clause) of one run."""

    def __init__(
        self,
        store: ResultsStore,
        run_id: str,
        decision_rule: str,
        test_id: str,
        family: str,
        clause: str,
        completed: set[MeasurementKey],
        on_record: Callable[[Measurement], None] | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.decision_rule = decision_rule
        self.test_id = test_id
        self.family = family
        self.clause = clause
        self._completed = completed
        self.taken: list[Measurement] = []
        # Told of each stored measurement (the run's progress line shows the verdicts).
        self.on_record = on_record
        # Asked before each measurement is stored (quantity, unit, limit_low, limit_high): the
        # running procedure's declarations refuse one it did not declare (rig.procedures).
        self.expected: Callable[[str, str, float | None, float | None], None] | None = None
        # The records of the open `batch`, stored when it ends; None outside a batch.
        self._batch: list[Measurement] | None = None

    def done(self, positions: Iterable[int], point: Mapping[str, Any]) -> list[Measurement] | None:
        """The stored measurements of this point if every position completed it before."""
        if not self._completed:  # a new run: nothing was completed before
            return None
        key = point_key(point)  # one point, the same key text at every position
        keys = {MeasurementKey(self.test_id, p, key) for p in positions}
        if not keys or not keys <= self._completed:
            return None
        rows = [m for m in self.store.measurements(self.run_id) if m.key in keys]
        self.taken.extend(rows)
        return rows

    def all_done(
        self, positions: Iterable[int], points: Iterable[Mapping[str, Any]]
    ) -> list[Measurement] | None:
        """The stored rows of every point if all were completed before (a test that measures
        several points in one experiment and commits them in one batch resumes only as a
        whole). A test that commits its points one by one asks `pending` instead."""
        positions = list(positions)
        rows: list[Measurement] = []
        for point in points:
            done = self.done(positions, point)
            if done is None:
                return None
            rows.extend(done)
        return rows

    def pending(
        self, positions: Iterable[int], points: Iterable[Mapping[str, Any]]
    ) -> list[Mapping[str, Any]]:
        """The points still to measure, in order; the stored rows of the others (completed at
        every position in an earlier session) are added to `taken`. For an experiment whose
        points are committed one by one (checkpoints of a long dwell): after a kill, a resumed
        run measures only the points that are missing."""
        positions = list(positions)
        return [point for point in points if self.done(positions, point) is None]

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Records made in the block are committed together when it ends (the results of one
        point at every position: one sync to disk instead of one per position, and on
        PostgreSQL one round trip to the server, ResultsStore.record_many). If the block
        raises, none of them is stored. A batch inside a batch is part of it."""
        if self._batch is not None:
            yield
            return
        self._batch = []
        try:
            yield
            pending = self._batch
        finally:
            self._batch = None
        self._keep(pending)

    def _keep(self, measurements: list[Measurement]) -> None:
        """Store decided measurements in one commit, then count them as taken."""
        if not measurements:
            return
        self.store.record_many(measurements)
        self.taken.extend(measurements)
        if self.on_record is not None:
            for m in measurements:
                self.on_record(m)

    def todo(
        self,
        positions: Iterable[int],
        points: Iterable[Mapping[str, Any]],
        *,
        together: bool = False,
    ) -> list[Mapping[str, Any]]:
        """The points still to measure at `positions`, in order (the stored rows of the others
        join `taken`). `together`: the points are one experiment committed in one batch, so
        they are measured again all or none (a resumed run repeats the whole experiment)."""
        positions, points = list(positions), list(points)
        if together:
            return [] if self.all_done(positions, points) is not None else points
        return self.pending(positions, points)

    def start(self, positions: Iterable[int], *points: Mapping[str, Any]) -> Take:
        """Measure now: `points` are marked started at `positions`. The records made through
        the Take are stored by its `commit()`, together; if the measurement raises before,
        none of them is."""
        positions = list(positions)
        take = Take(self, tuple(points), started_at=time.time())
        for point in points:
            self.started(positions, point)
        return take

    @contextmanager
    def point(self, positions: Iterable[int], *points: Mapping[str, Any]) -> Iterator[Take]:
        """`start` for the block: the Take's records are committed when it ends, or not at
        all if it raises."""
        take = self.start(positions, *points)
        yield take
        take.commit()

    def measure(
        self,
        positions: Iterable[int],
        points: Sequence[Mapping[str, Any]],
        *,
        together: bool = False,
    ) -> Iterator[Take]:
        """The whole protocol of a plan test: a Take (see `point`) for each point still to
        measure (`together`: one Take for all of them, see `todo`), committed as the loop
        moves on; when the loop ends, every verdict of the test is asserted."""
        positions = list(positions)
        todo = self.todo(positions, points, together=together)
        groups = [todo] if together and todo else [[p] for p in todo]
        for group in groups:
            with self.point(positions, *group) as take:
                yield take
        self.verdicts()

    def verdicts(self) -> None:
        """Fail with the facts of every measurement of this test that did not pass (the
        stored ones of a resumed run included)."""
        self.assert_all_pass(self.taken)

    def started(self, positions: Iterable[int], point: Mapping[str, Any]) -> None:
        """Mark the point as started (a killed run shows which point it died in)."""
        self.store.mark_started(self.run_id, self.test_id, positions, point)

    def record(
        self,
        position: int,
        point: Mapping[str, Any],
        quantity: str,
        value: float | None,
        unit: str,
        *,
        limit_low: float | None,
        limit_high: float | None,
        budget: UncertaintyBudget | None = None,
        repetitions: Repetitions | None = None,
        raw: Mapping[str, Any] | None = None,
        started_at: float | None = None,
        message: str = "",
        verdict: Verdict | None = None,
    ) -> Measurement:
        """Decide and store one measurement (inside a `batch`: when it ends); returns the
        record.

        Raises RecordedBefore for a point an earlier session of this run completed: its first
        values stand (a plan asks `done`/`pending` before measuring)."""
        if self.expected is not None:
            self.expected(quantity, unit, limit_low, limit_high)
        if self._completed and MeasurementKey.of(self.test_id, position, point) in self._completed:
            raise RecordedBefore(
                f"{self.test_id}: position {position} point {dict(point)} was completed in an "
                f"earlier session of run {self.run_id}; it is not measured twice"
            )
        expanded = budget.expanded if budget is not None else None
        if verdict is None:
            verdict = decide(
                value,
                limit_low,
                limit_high,
                rule=self.decision_rule,
                expanded_uncertainty=expanded if expanded is not None else 0.0,
            )
        m = Measurement(
            run_id=self.run_id,
            test_id=self.test_id,
            family=self.family,
            position=position,
            quantity=quantity,
            value=value,
            unit=unit,
            verdict=verdict,
            decision_rule=self.decision_rule,
            clause=self.clause,
            point=dict(point),
            limit_low=limit_low,
            limit_high=limit_high,
            expanded_uncertainty=expanded,
            uncertainty_budget=budget.to_json() if budget is not None else None,
            repetitions=repetitions,
            raw=dict(raw or {}),
            started_at=started_at,
            ended_at=time.time(),
            message=message,
        )
        if self._batch is not None:
            self._batch.append(m)  # stored when the batch ends
        else:
            self._keep([m])
        return m

    def properties(self) -> list[tuple[str, object]]:
        """The measurements taken, as (name, value) pairs for the JUnit XML report
        (`measurement.<n>.value`, `.limit_low`, `.limit_high`, `.expanded_uncertainty`, ...)."""
        props: list[tuple[str, object]] = []
        for n, m in enumerate(self.taken, 1):
            fields = {
                "position": m.position,
                "quantity": m.quantity,
                "point": m.point_json,  # the stored text
                "value": m.value,
                "unit": m.unit,
                "limit_low": m.limit_low,
                "limit_high": m.limit_high,
                "expanded_uncertainty": m.expanded_uncertainty,
                "verdict": Verdict(m.verdict).value,
                "decision_rule": str(getattr(m.decision_rule, "value", m.decision_rule)),
                "clause": m.clause,
            }
            props += [(f"measurement.{n}.{k}", "" if v is None else v) for k, v in fields.items()]
        return props

    @staticmethod
    def assert_all_pass(measurements: Iterable[Measurement]) -> None:
        """Fail with one line per measurement that did not pass."""
        # Compared as text (a Verdict is a StrEnum): no enum lookup per measurement.
        bad = [m for m in measurements if m.verdict != Verdict.PASS]
        if not bad:
            return
        lines = []
        for m in bad:
            limits = _limits_text(m)
            value = "no value" if m.value is None else f"{m.value:.4g} {m.unit}"
            u = (
                f", U={m.expanded_uncertainty:.2g} {m.unit}"
                if m.expanded_uncertainty is not None
                else ""
            )
            why = f": {m.message}" if m.message else ""
            lines.append(
                f"position {m.position} {m.quantity} {Verdict(m.verdict).value.upper()}: "
                f"{value} against {limits}{u} [{m.clause}]{why}"
            )
        raise AssertionError("\n".join(lines))


def _limits_text(m: Measurement) -> str:
    lo, hi = m.limit_low, m.limit_high
    if lo is None and hi is None:  # a measurement that could not be taken has no limit
        return "no limit"
    if lo is not None and hi is not None and abs(lo + hi) < 1e-12:
        return f"+-{hi:g} {m.unit}"
    if lo is None and hi is not None:
        return f"<= {hi:g} {m.unit}"
    if hi is None and lo is not None:
        return f">= {lo:g} {m.unit}"
    return f"[{lo:g}, {hi:g}] {m.unit}"
