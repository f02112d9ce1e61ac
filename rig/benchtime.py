"""Bench time of a plan: each plan test's procedure states its own planned seconds; the plan's
estimate is their sum, per family and in total.

A plan test names its procedure class with the `procedure` marker,
`pytest.mark.procedure.with_args(ErrorAtPoint)` (`with_args`: a marker called with one class
alone would decorate that class). The procedure is built from the test's parameters (the plan
item, its point, direction, quadrant, tariff: the procedure's dataclass fields of those names)
and the meters' rating; the plugin's `procedure` fixture gives the test the same object, so the
time printed before a run comes from the code that runs it. A plan test without the marker, or
whose procedure states no `planned_seconds`, stops the collection with its family named.

Also the generic part of time on a bench: a plan test's own time limit from its planned time.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rig.linetime import without_line
from rig.loads import Rating
from rig.progress import hms

#: A plan item's own time limit (pytest-timeout): its planned wall time on a real bench times
#: the factor, plus the margin (instrument retries, an operator step, and the session start the
#: first item's setup carries). The project's `timeout = 300` is for tests/ only.
TIME_LIMIT_FACTOR = 1.5
TIME_LIMIT_MARGIN_S = 900.0
#: The test parameter a procedure's `item` field takes.
ITEM_PARAM = "plan_item"


class NoPlannedTime(ValueError):
    """A plan test whose bench time cannot be known: no procedure, or one without
    `planned_seconds`; the message names the test and its family."""


@dataclass(frozen=True)
class PlannedTest:
    """One collected plan test: its family and its procedure's planned seconds."""

    nodeid: str
    family: str
    seconds: float
    # The plan item runs on the simulated bench only (`simulated_only`): a lab bench skips it.
    simulated_only: bool = False
    # Its physical minimum (`minimum_seconds`): no meter communication.
    minimum: float = 0.0


def build_procedure(cls: type, params: Mapping[str, Any], rating: Rating, where: str) -> Any:
    """The procedure `cls` for a plan test's parameters: each dataclass field of `cls` from the
    parameter of its name (`item` from the plan item), `rating` from the meters' rating."""
    if not dataclasses.is_dataclass(cls):
        raise NoPlannedTime(f"{where}: the procedure {cls!r} is not a dataclass procedure")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        name = ITEM_PARAM if f.name == "item" else f.name
        if f.name == "rating":
            kwargs["rating"] = rating
        elif name in params:
            kwargs[f.name] = params[name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise NoPlannedTime(f"{where}: procedure {cls.__name__} needs {f.name!r}, which "
                                "the test is not parametrised with")
    return cls(**kwargs)


def planned_seconds(procedure: Any, family: str, where: str) -> float:
    """The procedure's own planned seconds on a real bench."""
    planned = getattr(procedure, "planned_seconds", None)
    if not callable(planned):
        raise NoPlannedTime(f"{where}: plan family {family!r}: procedure "
                            f"{type(procedure).__name__} states no planned bench time "
                            "(a planned_seconds() method beside its run)")
    seconds = float(planned())
    if not seconds >= 0:
        raise NoPlannedTime(f"{where}: plan family {family!r}: procedure "
                            f"{type(procedure).__name__} planned {seconds!r} s")
    return seconds


def minimum_seconds(procedure: Any) -> float:
    """The procedure's physical minimum: its planned seconds without the meter communication
    (rig.linetime.without_line), i.e. its measuring times, settling and inherent waits (the
    meter's own periods, the quiet times, an operator's button hold)."""
    with without_line():
        return float(procedure.planned_seconds())


def time_limit_s(planned_s: float) -> float:
    """Seconds after which a plan item that was planned to take `planned_s` is stopped."""
    return planned_s * TIME_LIMIT_FACTOR + TIME_LIMIT_MARGIN_S


def by_family(tests: list[PlannedTest]) -> dict[str, float]:
    """Planned seconds per family."""
    totals: dict[str, float] = defaultdict(float)
    for test in tests:
        totals[test.family] += test.seconds
    return dict(totals)


def estimate_lines(tests: list[PlannedTest]) -> list[str]:
    """The estimate as the plugin prints it before a run: per family, longest first, and the
    total; the items a lab bench skips (`simulated_only`, run here in virtual time) apart."""
    lines = ["meter-test-rig: estimated wall time on a real bench (the procedures' planned "
             "times):"]
    lab = [t for t in tests if not t.simulated_only]
    totals = by_family(lab)
    for family, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {family:<20} {hms(seconds):>14}")
    lines.append(f"  {'total':<20} {hms(sum(totals.values())):>14}")
    virtual = by_family([t for t in tests if t.simulated_only])
    if virtual:
        lines.append("  simulated bench only, in virtual time (a lab bench skips them):")
        for family, seconds in sorted(virtual.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {family:<20} {hms(seconds):>14}")
    return lines
