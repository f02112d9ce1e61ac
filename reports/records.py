"""Records kept in the results store: a run, a meter position, a measurement, a log event.

The field set follows the shared contract for the results store (docs/conventions.md section 5);
every verdict carries the measured value, its limits, the expanded uncertainty (k = 2) and
the decision rule that produced it (DESIGN.md key decision 7).

Times are float seconds since 1970-01-01T00:00:00 UTC (the project's time convention).
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from reports.numbers import is_number
from reports.points import describe_point, pf_label


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    # The measurement could not be taken (instrument fault, no pulses, ...): no value.
    ERROR = "error"


class DecisionRule(StrEnum):
    SIMPLE = "simple"
    GUARDED = "guarded"


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    # Stopped on purpose (operator, safety trip) before the plan was done.
    ABORTED = "aborted"
    # The controller itself failed (internal error); the results so far are kept.
    FAILED = "failed"


# Test families the report knows how to present specially; plans may use other names,
# which are reported as plain tables after these, in alphabetical order.
FAMILY_ORDER = (
    "accuracy",
    "single_element",
    "starting",
    "no_load",
    "meter_constant",
    "register",
    "repeatability",
    "influence",
    "reactive",
    "demand",
    "tou",
    "clock",
    "events",
    "billing",
    "load_profile",
    "interruption",
)


def json_text(value: Any) -> str:
    """The stored text of a JSON column (keys sorted, no NaN): one encoding for the check of a
    new record and for the store's row."""
    return json.dumps(value, allow_nan=False, sort_keys=True)


def _check_json(value: Any, what: str) -> str:
    """`json_text(value)`, or a ValueError naming `what` and why it cannot be stored."""
    try:
        return json_text(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not JSON-serialisable: {exc}") from exc


def _check_number(value: float | None, what: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number or None, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r} (record verdict 'error' and "
                         "value None for a measurement that produced no number)")


def point_key(point: Mapping[str, Any]) -> str:
    """Canonical text of a point: the same point always gives the same key."""
    return json.dumps(dict(point), sort_keys=True, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    plan_name: str
    plan_version: str
    operator: str
    software_version: str
    decision_rule: DecisionRule | str
    started_at: float
    status: RunStatus | str = RunStatus.RUNNING
    ended_at: float | None = None
    bench_file: str = ""  # full text of the bench file the run used
    bench_path: str = ""  # where it was read from (for the reader, not for identity)
    bench_hash: str = ""  # sha256 of bench_file
    lab: str = ""
    environment: Mapping[str, Any] = field(default_factory=dict)  # temperature, humidity, ...
    notes: str = ""


@dataclass(frozen=True)
class PositionRecord:
    """One meter position of a run, with the identity read from the meter itself."""

    run_id: str
    position: int
    serial: str = ""
    manufacturer: str = ""
    meter_type: str = ""
    firmware: str = ""
    # Meter constants, e.g. {"active_imp_per_kWh": 10000, "reactive_imp_per_kvarh": 10000}.
    constants: Mapping[str, Any] = field(default_factory=dict)
    # Everything else read from the meter or the nameplate: class, Un, In, Imax, ident text...
    identity: Mapping[str, Any] = field(default_factory=dict)
    read_at: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.position, numbers.Integral) and not isinstance(self.position, bool):
            object.__setattr__(self, "position", int(self.position))
        if isinstance(self.position, bool) or not isinstance(self.position, int):
            raise ValueError(f"position must be an int, got {self.position!r}")
        _check_json(self.constants, f"position {self.position} constants")
        _check_json(self.identity, f"position {self.position} identity")


@dataclass(frozen=True)
class Repetitions:
    n: int
    mean: float | None = None
    stdev: float | None = None


_NUMBER_FIELDS = ("value", "limit_low", "limit_high", "expanded_uncertainty", "started_at",
                  "ended_at")


@dataclass(frozen=True)
class Measurement:
    """One measured point: what was measured, against which limit, and the verdict.

    `point` describes the test point: load (multiple of In), pf ("1", "0.5L", "0.8C" or a
    number), direction ("import"/"export"), element ("balanced"/"L1"/"L2"/"L3"),
    influence quantity, and whatever else identifies the point. The store is idempotent
    on (run_id, test_id, position, point): recording the same key again replaces the row.
    """

    run_id: str
    test_id: str
    family: str
    position: int
    quantity: str
    value: float | None
    unit: str
    verdict: Verdict | str
    decision_rule: DecisionRule | str = DecisionRule.SIMPLE
    clause: str = ""
    point: Mapping[str, Any] = field(default_factory=dict)
    limit_low: float | None = None
    limit_high: float | None = None
    expanded_uncertainty: float | None = None  # k = 2, in `unit`
    uncertainty_budget: Any = None  # JSON: see rig.metrology.UncertaintyBudget.to_json
    repetitions: Repetitions | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)  # raw counts and readings
    started_at: float | None = None
    ended_at: float | None = None
    message: str = ""
    id: int | None = None  # row id, set when read back from a store

    def __post_init__(self) -> None:
        # Accept numpy scalars from the plans; store plain Python numbers.
        if isinstance(self.position, numbers.Integral) and not isinstance(self.position, bool):
            object.__setattr__(self, "position", int(self.position))
        for name in _NUMBER_FIELDS:
            v = getattr(self, name)
            # type() first: the ABC check of numbers.Real is slow, and most values are floats.
            if (v is not None and type(v) not in (float, int) and isinstance(v, numbers.Real)
                    and not isinstance(v, bool | int | float)):
                object.__setattr__(self, name, float(v))
        where = f"measurement {self.test_id!r} position {self.position}"
        if not self.test_id:
            raise ValueError("measurement test_id must not be empty")
        if not self.family:
            raise ValueError(f"{where}: family must not be empty")
        if isinstance(self.position, bool) or not isinstance(self.position, int):
            raise ValueError(f"{where}: position must be an int, got {self.position!r}")
        try:
            Verdict(self.verdict)
        except ValueError:
            allowed = ", ".join(v.value for v in Verdict)
            raise ValueError(f"{where}: verdict {self.verdict!r} is not one of {allowed}") from None
        try:
            DecisionRule(self.decision_rule)
        except ValueError:
            allowed = ", ".join(r.value for r in DecisionRule)
            raise ValueError(
                f"{where}: decision_rule {self.decision_rule!r} is not one of {allowed}"
            ) from None
        for name in _NUMBER_FIELDS:
            _check_number(getattr(self, name), f"{where}: {name}")
        if self.expanded_uncertainty is not None and self.expanded_uncertainty < 0:
            raise ValueError(f"{where}: expanded_uncertainty must be >= 0")
        if self.value is None and self.verdict in (Verdict.PASS, Verdict.FAIL):
            raise ValueError(f"{where}: verdict {self.verdict!r} needs a value")
        if self.repetitions is not None:
            _check_number(self.repetitions.mean, f"{where}: repetitions.mean")
            _check_number(self.repetitions.stdev, f"{where}: repetitions.stdev")
        # The texts the check encodes are the ones the store writes (cached: see below).
        self.__dict__["point_json"] = _check_json(self.point, f"{where}: point")
        self.__dict__["raw_json"] = _check_json(self.raw, f"{where}: raw")
        budget = _check_json(self.uncertainty_budget, f"{where}: uncertainty_budget")
        self.__dict__["uncertainty_budget_json"] = (None if self.uncertainty_budget is None
                                                    else budget)

    # The stored texts of the JSON fields (reports.store writes them), encoded once: a new
    # record's check above fills them in; a frozen dataclass keeps them in the instance's
    # __dict__, outside its fields. The fields are not to be changed in place after that.

    @cached_property
    def point_json(self) -> str:
        return json_text(self.point)

    @cached_property
    def raw_json(self) -> str:
        return json_text(self.raw)

    @cached_property
    def uncertainty_budget_json(self) -> str | None:
        return None if self.uncertainty_budget is None else json_text(self.uncertainty_budget)

    @cached_property
    def point_key(self) -> str:
        return point_key(self.point)

    @property
    def key(self) -> MeasurementKey:
        return MeasurementKey(self.test_id, self.position, self.point_key)

    # What the point says, as the report groups, sorts, plots and exports it (reports.points).
    # Cached: a frozen dataclass keeps them in the instance's __dict__, outside its fields.

    @cached_property
    def load(self) -> float:
        """Current as a multiple of In; NaN when the point names none."""
        load = self._point.get("load")
        return float(load) if is_number(load) else math.nan

    @cached_property
    def pf(self) -> str:
        """Power-factor label ('1', '0.5L', '0.8C'), '' when the point names none."""
        return pf_label(self._point.get("pf"))

    @cached_property
    def direction(self) -> str:
        return str(self._point.get("direction") or "")

    @cached_property
    def element(self) -> str:
        return str(self._point.get("element") or "balanced")

    @cached_property
    def influenced(self) -> bool:
        """Measured under an influence quantity (not a point of an error curve)."""
        return bool(self._point.get("influence"))

    @cached_property
    def point_text(self) -> str:
        return describe_point(self._point)

    @property
    def _point(self) -> Mapping[str, Any]:
        # A point read back from a damaged store may be any JSON value.
        return self.point if isinstance(self.point, Mapping) else {}

    def point_facts(self) -> dict[str, Any]:
        """The cached properties above that follow from the point alone, by name."""
        return {name: getattr(self, name) for name in POINT_FACTS}


#: Measurement's cached properties that follow from its point alone (point_facts).
POINT_FACTS = ("load", "pf", "direction", "element", "influenced", "point_text")


def share_point_facts(rows: Iterable[Measurement]) -> None:
    """Work the point facts out once per test point for rows that hold the same point object
    (reports.store reads each distinct point text into one object), the other rows taking
    them into their caches: a point recurs at every position, and its text
    (reports.points.describe_point) was a tenth of a 48-position report's rendering."""
    facts: dict[int, dict[str, Any]] = {}
    for r in rows:
        known = facts.get(id(r.point))
        if known is None:
            facts[id(r.point)] = r.point_facts()
        else:
            r.__dict__.update(known)


@dataclass(frozen=True)
class StoredMeasurement(Measurement):
    """A measurement as read back from the store: the one row type of a report, from the
    store through the analysis (reports.analysis) to the templates and the exports.

    Unlike a new Measurement it is not checked: a row of an older, newer or damaged store is
    shown as it is (an unknown verdict, no value), and what is wrong with it is listed in the
    report's reasons (reports.store.RunData.problems). Missing numbers are None.
    """

    stored_point_key: str = ""  # the key as stored (for a damaged point, not its recomputation)
    coverage_factor: float | None = None
    recorded_at: float | None = None
    recorded_count: int = 1

    def __post_init__(self) -> None:
        """No checks: the store checked the measurement when it was recorded."""

    @property
    def point_key(self) -> str:
        return self.stored_point_key


@dataclass(frozen=True)
class MeasurementKey:
    """What makes a measurement unique within a run (used for resume)."""

    test_id: str
    position: int
    point_key: str

    @classmethod
    def of(cls, test_id: str, position: int, point: Mapping[str, Any]) -> MeasurementKey:
        return cls(test_id, position, point_key(point))


#: The kind of the event that marks a point's measurement begun at a position (the store's
#: `mark_started`): a point started and never recorded was interrupted.
POINT_STARTED = "point_started"


@dataclass(frozen=True)
class Event:
    """A free-form run log line (and the 'point started' marks that reveal interrupted points)."""

    run_id: str
    message: str
    t: float
    level: str = "info"
    kind: str = "log"
    position: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None
