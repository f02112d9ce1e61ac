"""Measurement procedures: what a plan test does at its points, with the measurements declared.

A procedure is built from a plan item and the meters' rating, and states before it runs what it
will measure, the way an OpenHTF phase declares its measurements (name, unit, limits, and a
docstring) before it runs: each `Declared` gives the quantity, its unit, its limits and the
clause they come from, with the limits fixed or the rule that gives them. While `run` runs a
procedure, the recorder checks each record against the declarations and refuses, by name, one
whose quantity is not declared or whose unit or fixed limits differ (`Declarations`); a
procedure may record through a declaration itself (`Declared.record`).

A procedure also states the bench time it plans from its own parameters (`planned_seconds`,
beside its `run`, from the same helpers that choose its waits and doses); the plan's estimate
is their sum (rig.benchtime); meter communication is planned at real line timing (rig.linetime).

A plan module says which points and which procedure; `run` does the rest on the recorder's
point protocol (rig.recorder: resume, started mark, one commit per point, the verdicts).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from rig.bench import Bench
from rig.loads import Rating
from rig.recorder import Recorder, Take
from rig.session import MeterPosition, RigSession
from rig.tariffs import write_back
from rig.timebase import Timebase


@dataclass(frozen=True)
class Declared:
    """One measurement a procedure takes at each position and point.

    Its limits are either fixed before the run (`limit_low`, `limit_high`) or follow a stated
    `rule` from what the run measures (a register digit in the reference energy, the demand
    the meter shows); then each record gives the limits the rule yields."""

    quantity: str
    unit: str
    clause: str
    limit_low: float | None = None
    limit_high: float | None = None
    rule: str = ""

    def __post_init__(self) -> None:
        fixed = self.limit_low is not None or self.limit_high is not None
        if fixed == bool(self.rule):
            raise ValueError(f"{self.quantity!r}: a declared measurement needs fixed limits or "
                             "a rule for them, not both")
        if (self.limit_low is not None and self.limit_high is not None
                and self.limit_low > self.limit_high):
            raise ValueError(f"{self.quantity!r}: limit_low {self.limit_low} is above "
                             f"limit_high {self.limit_high}")

    def record(self, take: Take, position: int, point: Mapping[str, Any],
               value: float | None, *, limits: tuple[float | None, float | None] | None = None,
               **fields: Any) -> None:
        """The value at `position`, with the declared quantity, unit and limits (`limits`:
        what the declared rule gives for this record)."""
        if self.rule and limits is None:
            raise ValueError(f"{self.quantity!r}: its limits follow a rule ({self.rule}); "
                             "the record must give them")
        if not self.rule and limits is not None:
            raise ValueError(f"{self.quantity!r}: its limits are declared; a record cannot "
                             "change them")
        low, high = limits if limits is not None else (self.limit_low, self.limit_high)
        take.record(position, point, self.quantity, value, self.unit,
                    limit_low=low, limit_high=high, **fields)

    def admits(self, unit: str, limit_low: float | None, limit_high: float | None) -> bool:
        """A record in `unit` with these limits is this measurement's."""
        if unit != self.unit:
            return False
        return bool(self.rule) or (limit_low, limit_high) == (self.limit_low, self.limit_high)

    @property
    def limit_text(self) -> str:
        lo, hi = self.limit_low, self.limit_high
        if self.rule:
            return self.rule
        if lo is not None and hi is not None and abs(lo + hi) < 1e-12:
            return f"+-{hi:g} {self.unit}"
        if lo is None:
            return f"<= {hi:g} {self.unit}"
        if hi is None:
            return f">= {lo:g} {self.unit}"
        return f"[{lo:g}, {hi:g}] {self.unit}"


@dataclass(frozen=True)
class Context:
    """What a procedure acts on: the rig session, its bench and time, the positions measured
    together (every meter of the bench at once)."""

    rig: RigSession
    bench: Bench
    timebase: Timebase
    positions: Sequence[MeterPosition]

    @classmethod
    def of(cls, rig: RigSession) -> Context:
        return cls(rig, rig.bench, rig.timebase, list(rig.positions))

    @property
    def numbers(self) -> list[int]:
        return [p.number for p in self.positions]

    @property
    def rating(self) -> Rating:
        """The meters' rating (the positions of a bench carry one meter type)."""
        return Rating.of(self.positions[0].config)


class Procedure(Protocol):
    """A plan test's method. `points`: the point descriptions it records (the resume keys);
    `run`: the measurement on the recorder's point protocol (rig.recorder), only the points an
    earlier session of a resumed run did not complete, then every verdict asserted;
    `planned_seconds`: its bench time."""

    @property
    def declared(self) -> tuple[Declared, ...]: ...

    def points(self) -> list[dict[str, Any]]: ...

    def run(self, ctx: Context, recorder: Recorder) -> None: ...

    def planned_seconds(self) -> float:
        """Wall seconds the procedure takes on a real bench, from its own parameters."""
        ...


class EachPoint(ABC):
    """A procedure whose points are measured one take each (`together`: all points in one
    take, an experiment measured again as a whole after a kill)."""

    together = False

    @abstractmethod
    def points(self) -> list[dict[str, Any]]:
        """The point descriptions this procedure records."""

    @abstractmethod
    def measure(self, ctx: Context, take: Take) -> None:
        """Apply the take's point, measure every position, record through the declarations."""

    def run(self, ctx: Context, recorder: Recorder) -> None:
        for take in recorder.measure(ctx.numbers, self.points(), together=self.together):
            self.measure(ctx, take)


@dataclass(frozen=True)
class Declarations:
    """A procedure's declared measurements, as the recorder's check of each record: a record
    whose quantity is not declared, or whose unit or fixed limits differ, is refused by name
    before it is stored (the plan test fails; nothing of that take is stored)."""

    declared: tuple[Declared, ...]

    def __call__(self, quantity: str, unit: str, limit_low: float | None,
                 limit_high: float | None) -> None:
        mine = [d for d in self.declared if d.quantity == quantity]
        if not mine:
            raise ValueError(f"{quantity!r} is not a declared measurement of the procedure "
                             f"(declared: {', '.join(repr(d.quantity) for d in self.declared)})")
        if not any(d.admits(unit, limit_low, limit_high) for d in mine):
            raise ValueError(
                f"{quantity!r} recorded in {unit!r} with limits {limit_low}..{limit_high}: "
                f"declared as {'; '.join(f'{d.unit!r} {d.limit_text}' for d in mine)}")


def run(procedure: Procedure, recorder: Recorder, rig: RigSession) -> None:
    """The procedure on the rig's bench at every position; the recorder stores only what the
    procedure declared."""
    # The controller is alive between procedures too: a resumed run skips what is stored
    # without a word to any instrument, and an energised source's communication watchdog
    # (the simulated one: 5 s of wall time) would switch off under the next test. It also
    # checks, before anything is measured, that an energised source is still on.
    rig.bench.keepalive()
    if not forces_tariff(procedure):
        # A tariff the tariff tests before left in force goes before anything else runs: the
        # meter's own calendar is what every other test measures with (rig.tariffs).
        write_back(rig)
    recorder.expected = Declarations(tuple(procedure.declared))
    try:
        procedure.run(Context.of(rig), recorder)
    finally:
        recorder.expected = None


def forces_tariff(procedure: Procedure) -> bool:
    """Whether the procedure puts a tariff of its own in force (rig.tariffs.tariff_in_force,
    its `forces_tariff`; False when it does not say): then a tariff the test before left in
    force may stay until it writes its own, and the meters' calendars go back once after the
    series (rig.tariffs.write_back)."""
    return bool(getattr(procedure, "forces_tariff", False))


def skip_tariff_not_in(plan_item: Any, tariff: int) -> None:
    """Skip a plan test parametrised over tariffs 1..4 for a tariff its item leaves out."""
    if tariff not in plan_item.tariffs:
        pytest.skip(f"{plan_item.id}: tariff {tariff} is not in the item's tariffs "
                    f"{plan_item.tariffs}")


def describe(procedure: Procedure) -> list[str]:
    """One line per declared measurement: quantity, unit and limit, clause."""
    return [f"{d.quantity} [{d.unit}] {d.limit_text} ({d.clause})" for d in procedure.declared]
