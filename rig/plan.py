"""Test plans as data: the schema of `testplans/plans/*.yaml` and its loader.

A plan says *what* to test, with which limit and clause; the pytest modules in
`testplans/` say *how*. Every item carries its clause, its limit (with the
confidence mark of ../shared/standards.md where the number is not certain),
its load, and how long or how many pulses to measure. Files are validated on
load; errors name the file, the item and the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rig.textfile import not_utf8

PLANS_DIR = Path(__file__).resolve().parent.parent / "testplans" / "plans"
DEFAULT_PLAN = "iec60687-class0.5S"

PowerFactor = Literal["1", "0.5L", "0.8C", "0.25L", "0.5C"]
Element = Literal["balanced", "L1", "L2", "L3"]
Direction = Literal["import", "export"]
Confidence = Literal["H", "M", "L"]
#: How a register dose reads the register (rig.register_edge).
RegisterMethod = Literal["whole-digit", "edge"]


class PlanError(ValueError):
    """A plan file is missing, unreadable or invalid; the message names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Measure(_Strict):
    """How long to measure a point: pulse count chosen from meter constant and power."""

    min_pulses: int = Field(5, ge=1)
    # The duration the pulse count should cover at the point's power.
    target_s: float = Field(20.0, gt=0)
    max_s: float = Field(120.0, gt=0)
    settling_s: float = Field(10.0, ge=0)
    repetitions: int = Field(2, ge=1)
    # Repetitions chained on the closing edge where the error calculators do (rig.measure);
    # false: each repetition restarts and waits for its first edge.
    chain: bool = True


#: A current in the meter's own terms: a multiple of In (0.05), of Imax ("Imax", "0.5Imax"),
#: or the class's minimum or starting current ("Imin", "Ist"); resolved against the position's
#: rating by rig.loads.Rating.multiple, so the top of the range is the meter's own Imax.
CurrentSpec = Annotated[float, Field(gt=0)] | Annotated[
    str, Field(pattern=r"^(?:(?:[0-9]*\.)?[0-9]+)?Imax$|^Imin$|^Ist$")
]


def current_label(current: CurrentSpec) -> str:
    """A current as a test id shows it: 0.05 -> "0.05In", "Imax" -> "Imax"."""
    return current if isinstance(current, str) else f"{current:g}In"


class Point(_Strict):
    current: CurrentSpec = Field(description="multiple of In, or Imax / Imin / Ist")
    limit: float = Field(gt=0, description="percent (or percentage points for influence tests)")
    confidence: Confidence = "M"


class _Item(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]*$")
    clause: str = Field(min_length=3)
    title: str = ""
    # An item whose dose only virtual time affords (hundreds or thousands of hours) runs on the
    # simulated bench only; the text is what a lab does instead, and a lab bench skips the item
    # with it, so neither its tests nor its hours reach a lab's run or estimate.
    simulated_only: str | None = Field(None, min_length=10)


class AccuracyItem(_Item):
    """Percentage error at load points, balanced or on one element."""

    family: Literal["accuracy"]
    energy: Literal["active", "reactive"] = "active"
    element: Element = "balanced"
    pf: PowerFactor
    directions: tuple[Direction, ...] = ("import",)
    points: tuple[Point, ...] = Field(min_length=1)
    measure: Measure = Measure()


class SingleVsBalancedItem(_Item):
    """Difference between single-element and balanced error at one point."""

    family: Literal["single_vs_balanced"]
    current: CurrentSpec
    pf: PowerFactor = "1"
    elements: tuple[Element, ...] = ("L1", "L2", "L3")
    limit: float = Field(gt=0)
    confidence: Confidence = "M"
    measure: Measure = Measure()


class StartingItem(_Item):
    """The meter starts and continues to register at the starting current."""

    family: Literal["starting"]
    energy: Literal["active", "reactive"] = "active"
    current: CurrentSpec = Field(description="multiple of In, or Ist")
    pf: PowerFactor = "1"
    directions: tuple[Direction, ...] = ("import",)
    pulses: int = Field(2, ge=1, description="pulses that must come")
    # The wait allowed per pulse, as a multiple of the ideal pulse period.
    time_factor: float = Field(1.5, ge=1)
    confidence: Confidence = "H"


class NoLoadItem(_Item):
    """Creep: voltage only, current circuits open, at most `max_pulses` pulses."""

    family: Literal["no_load"]
    energy: Literal["active", "reactive"] = "active"
    voltage_factor: float = Field(1.15, gt=0, description="multiple of Un")
    max_pulses: int = Field(1, ge=0)
    # Delta-t >= C * 10^6 / (k * m * Un * Imax) minutes (standards.md 1.4): C = 600 for class
    # 0.5S active, 480 for IEC 62053-23 class 2 reactive (standards.md 2.1).
    formula_constant: float = Field(600.0, gt=0)
    time_factor: float = Field(1.0, ge=1, description="labs often double the minimum")
    confidence: Confidence = "M"


def _resolution_field() -> Any:
    """A register dose's `resolution` (rig.plan.register_dose)."""
    return Field(0.1, gt=0, le=1, description="what two register readings are known to (one "
                 "digit, or the edges' bracket) over the dose, as a fraction of the limit")


def _method_field() -> Any:
    """How a register dose reads the register (rig.register_edge)."""
    return Field("whole-digit", description="whole-digit: the register read with the current "
                 "off, to one digit; edge: read at the instant its last digit steps "
                 "(rig.register_edge)")


class MeterConstantItem(_Item):
    """Register advance against the pulses and the dosed energy."""

    family: Literal["meter_constant"]
    # active: the active LED against 1.8.0; reactive: the reactive LED against 3.8.0 (R+),
    # `pf` then being sin phi and `energy_kwh` kvarh. The highest current the plan measures at
    # shortens the dose.
    energy: Literal["active", "reactive"] = "active"
    current: CurrentSpec
    pf: PowerFactor = "1"
    energy_kwh: float | None = Field(
        None, gt=0, description="the dose; default from the register digit (register_dose)")
    resolution: float = _resolution_field()
    method: RegisterMethod = _method_field()
    limit: float = Field(gt=0, description="percent")
    confidence: Confidence = "H"
    # The error by pulses at the same point, subtracted from the register error.
    measure: Measure = Measure()


class PulseOutputItem(_Item):
    """One pulse output's constant against the LED of its energy: the error of each at one
    load driving the output, the counted input cabled to one then the other
    (rig/procedures/pulse_outputs.py). The LEDs themselves are the comparison: the active one
    is checked against the register by the meter-constant item."""

    family: Literal["pulse_output"]
    output: Literal["active_import", "active_export", "reactive_q1q2", "reactive_q3q4"]
    current: CurrentSpec = "Imax"
    pf: PowerFactor = Field("1", description="cos phi for active outputs, sin phi for reactive")
    limit: float = Field(gt=0, description="percent: the output's error less the LED's")
    confidence: Confidence = "M"
    measure: Measure = Measure()


class RegisterItem(_Item):
    """Four-quadrant reactive registers: each quadrant's register advances by the reference
    energy of a load in that quadrant, and no other quadrant register moves."""

    family: Literal["register"]
    current: CurrentSpec = Field(description="multiple of In, or Imax")
    energy_kvarh: float | None = Field(
        None, gt=0, description="reactive energy per quadrant; default from the register "
        "digit (register_dose)")
    resolution: float = _resolution_field()
    method: RegisterMethod = _method_field()
    limit: float = Field(gt=0, description="percent of the reference energy")
    confidence: Confidence = "M"


class RegisterDosageItem(_Item):
    """Energy registers by dosage: in each tariff and direction, the total and that tariff's
    register advance by the reference energy and no other tariff or direction register moves."""

    family: Literal["register_dosage"]
    current: CurrentSpec = 1.0
    pf: PowerFactor = "1"
    directions: tuple[Direction, ...] = ("import", "export")
    tariffs: tuple[int, ...] = Field((1, 2, 3, 4), min_length=1)
    energy_kwh: float | None = Field(
        None, gt=0, description="dose per tariff and direction; default from the register "
        "digit (register_dose)")
    resolution: float = _resolution_field()
    method: RegisterMethod = _method_field()
    limit: float = Field(gt=0, description="percent of the reference energy")
    confidence: Confidence = "H"


class RegisterMapItem(_Item):
    """Every energy register by dosage: a dose in each quadrant with each tariff in force
    advances exactly the registers that quadrant books (total and tariff) by the reference
    energy, and no other energy register moves (testplans/test_register_map.py)."""

    family: Literal["register_map"]
    current: CurrentSpec = 1.0
    tariffs: tuple[int, ...] = Field((1, 2, 3, 4), min_length=1)
    energy_kvarh: float = Field(gt=0, description="reactive dose per quadrant and tariff")
    limit: float = Field(gt=0, description="percent of the expected energy")
    confidence: Confidence = "H"


class RegisterCapacityItem(_Item):
    """The register takes `hours` at the current without rolling over (IEC 62052-11)."""

    family: Literal["register_capacity"]
    current: CurrentSpec = "Imax"
    pf: PowerFactor = "1"
    hours: float = Field(gt=0)
    limit: float = Field(gt=0, description="percent of the reference energy")
    confidence: Confidence = "H"


class RegisterRolloverItem(_Item):
    """Every energy register takes the energy of `hours` at the current without rolling over
    (IEC 62052-11): a dose in each quadrant with each tariff in force, read before and after
    on all 50 registers (testplans/test_register_rollover.py)."""

    family: Literal["register_rollover"]
    current: CurrentSpec = "Imax"
    tariffs: tuple[int, ...] = Field((1, 2, 3, 4), min_length=1)
    hours: float = Field(gt=0)
    limit: float = Field(gt=0, description="percent of the expected energy")
    confidence: Confidence = "H"


class InfluenceItem(_Item):
    """Error variation when one influence quantity departs from reference."""

    family: Literal["influence"]
    quantity: Literal["voltage", "frequency", "phase_sequence", "voltage_unbalance", "harmonics"]
    # voltage/frequency: relative change, e.g. -0.10; unbalance: phases interrupted.
    change: float = 0.0
    interrupted: tuple[Element, ...] = ()
    current: CurrentSpec
    pf: PowerFactor = "1"
    limit: float = Field(gt=0, description="percentage points")
    confidence: Confidence = "M"
    measure: Measure = Measure()
    reference_from: str | None = Field(
        None, description="an earlier influence item at the same current, PF and measure: its "
        "error at the reference point is reused when no other test ran since "
        "(rig.procedures.errors.Influence)")


class DemandItem(_Item):
    """Maximum demand against demand computed from the reference energy."""

    family: Literal["demand"]
    mode: Literal["block", "rolling"]
    cycle_min: int
    interval_min: int | None = None
    current: float = Field(gt=0)
    pf: PowerFactor = "1"
    # A tariff put in force for the whole test (rig.tariffs): its maximum 1.6.T must equal the
    # total's and the other tariffs' maxima stay zero (A1000 manual 1.2: maxima per tariff).
    tariff: int | None = Field(None, ge=1, le=4)
    # A1000 manual 3.2.2: additional error +-(0.5 + 0.05 Pm/Pn) %.
    base_limit: float = 0.5
    pm_coefficient: float = 0.05
    confidence: Confidence = "H"

    @model_validator(mode="after")
    def _rolling_needs_interval(self) -> DemandItem:
        if self.mode == "rolling" and self.interval_min is None:
            raise ValueError("rolling demand needs interval_min")
        return self


# Boundaries one daily profile holds: 10 sections, the first from 00:00 (A1000 manual 1.4
# item 7).
TOU_BOUNDARIES_PER_PROFILE = 9


class TouItem(_Item):
    """Tariff switching delay and the holiday > weekend > season priority."""

    family: Literal["tou"]
    check: Literal["switch_delay", "priority"]
    limit_s: float = Field(0.1, gt=0)
    current: float = Field(1.0, gt=0)
    # Switch delay: boundaries polled in a vernier (rig/procedures/tou.py); more give a finer
    # resolution (poll period / boundaries), TOU_BOUNDARIES_PER_PROFILE to a profile written.
    boundaries: int = Field(9, ge=1, le=4 * TOU_BOUNDARIES_PER_PROFILE)
    confidence: Confidence = "H"


class ClockItem(_Item):
    """Clock drift at reference conditions."""

    family: Literal["clock"]
    duration_h: float = Field(gt=0)
    limit_s_per_day: float = Field(gt=0)
    resolution_s: float = Field(0.025, gt=0, le=1)
    current: float = Field(0.0, ge=0)  # multiple of In; 0: voltage only (no load)
    confidence: Confidence = "H"


class EventsItem(_Item):
    """Events and ERR 1 bits against injected faults."""

    family: Literal["events"]
    event: Literal[
        "voltage_loss",
        "phase_failure",
        "two_phase_failure",  # the two phases other than `phase` fail
        "over_current",
        "all_phase_voltage_loss",
        "reverse_run",
        "power_down",
        "over_voltage",
        "under_voltage",
        "missing_current",
        "current_reversal",
        "phase_sequence_reversal",
    ]
    phase: Element = "L1"
    duration_s: float = Field(gt=0)
    # The meter's confirmation delay for the start and for the end of the event (its
    # documented debounce): start and stop stamps fall this long after the fault's edges.
    debounce_s: float = Field(60.0, ge=0)
    timestamp_tolerance_s: float = Field(1.0, ge=0)
    confidence: Confidence = "M"


class BillingItem(_Item):
    """Automatic monthly reading: history records and demand reset."""

    family: Literal["billing"]
    months: int = Field(ge=1)
    day: int = Field(ge=1, le=28)
    hour: int = Field(ge=0, le=23)
    confidence: Confidence = "H"


class LoadProfileItem(_Item):
    """Load profile entries against the reference energy of each interval."""

    family: Literal["load_profile"]
    intervals: int = Field(ge=1)
    current: float = Field(gt=0)
    pf: PowerFactor = "1"
    direction: Direction = "import"
    limit: float = Field(gt=0, description="percent of the interval energy")
    reactive_limit: float = Field(2.0, gt=0, description="percent, reactive channels")
    confidence: Confidence = "M"
    # The power-down part (the entries of the interval the power fails in and the one it
    # returns in, their status flags): one item of a plan checks it, the others need not.
    power_down: bool = True


class InterruptionItem(_Item):
    """Data retained through power-down, dips and short interruptions."""

    family: Literal["interruption"]
    kind: Literal["interruption", "dip", "power_down"]
    depth: float = Field(1.0, gt=0, le=1, description="fraction of Un removed")
    duration_s: float = Field(gt=0)
    repetitions: int = Field(1, ge=1)
    gap_s: float = Field(0.05, ge=0)
    # power_down: the load before it, at Imax (reactive energy moves too below PF 1).
    pf: PowerFactor = "1"
    confidence: Confidence = "L"


Item = Annotated[
    AccuracyItem
    | SingleVsBalancedItem
    | StartingItem
    | NoLoadItem
    | MeterConstantItem
    | PulseOutputItem
    | RegisterItem
    | RegisterDosageItem
    | RegisterCapacityItem
    | RegisterMapItem
    | RegisterRolloverItem
    | InfluenceItem
    | DemandItem
    | TouItem
    | ClockItem
    | EventsItem
    | BillingItem
    | LoadProfileItem
    | InterruptionItem,
    Field(discriminator="family"),
]


class CoverageRow(_Strict):
    """Cells the plan states it covers: every combination of the row's lists (rig.coverage)."""

    quantity: tuple[str, ...] = Field(min_length=1)
    elements: tuple[str, ...] = Field(min_length=1)
    directions: tuple[str, ...] = Field(min_length=1)
    targets: tuple[str, ...] = Field(min_length=1, description="registers, outputs, events")
    conditions: tuple[str, ...] = Field(min_length=1)


class Plan(_Strict):
    plan: str
    version: str
    title: str
    meter_class: str
    standards: tuple[str, ...]
    items: tuple[Item, ...] = Field(min_length=1)
    coverage: tuple[CoverageRow, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> Plan:
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise ValueError(f"item id {item.id!r} is used twice")
            seen.add(item.id)
        return self

    @model_validator(mode="after")
    def _reference_sources(self) -> Plan:
        """An influence item's `reference_from` names an earlier influence item that measures
        the same reference point (current, PF, measure) and measures it itself."""
        earlier: dict[str, InfluenceItem] = {}
        for item in self.items:
            if not isinstance(item, InfluenceItem):
                continue
            source_id = item.reference_from
            if source_id is not None:
                source = earlier.get(source_id)
                if source is None:
                    raise ValueError(f"item {item.id!r}: reference_from {source_id!r} is not "
                                     "an earlier influence item")
                if source.reference_from is not None:
                    raise ValueError(f"item {item.id!r}: reference_from {source_id!r} reuses "
                                     "a reference itself; name the item that measures it")
                if (source.current, source.pf, source.measure) != (item.current, item.pf,
                                                                  item.measure):
                    raise ValueError(f"item {item.id!r}: reference_from {source_id!r} "
                                     "measures another reference point (current, pf or "
                                     "measure differ)")
            earlier[item.id] = item
        return self

    def families(self) -> list[str]:
        return sorted({item.family for item in self.items})

    def by_family(self, family: str) -> list[Item]:
        return [item for item in self.items if item.family == family]


def plan_path(name_or_path: str) -> Path:
    """A plan name (file stem under testplans/plans) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"}:
        return candidate
    return PLANS_DIR / f"{name_or_path}.yaml"


def load_plan(name_or_path: str) -> Plan:
    path = plan_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in PLANS_DIR.glob("*.yaml")))
        raise PlanError(f"{path}: no such plan (known plans: {known})") from None
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise PlanError(f"{path}: {not_utf8(exc)}") from None
    if not isinstance(raw, dict):
        raise PlanError(f"{path}: the top level must be a mapping")
    try:
        return Plan.model_validate(raw)
    except ValidationError as exc:
        raise PlanError(_describe(path, raw, exc)) from None


def _describe(path: Path, raw: dict, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} error(s)"]
    items = raw.get("items") if isinstance(raw.get("items"), list) else []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(part) for part in loc)
        # Name the item by its id, which the author knows, not by its index.
        if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int) and loc[1] < len(items):
            item = items[loc[1]]
            if isinstance(item, dict) and "id" in item:
                rest = [str(p) for p in loc[2:] if p not in _FAMILY_TAGS]
                where = f"item {item['id']!r}" + (f" field {'.'.join(rest)}" if rest else "")
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


# The family names (the discriminator of Item), which are not field names in an error's path.
_FAMILY_TAGS = {
    member.model_fields["family"].annotation.__args__[0]
    for member in Item.__origin__.__args__  # type: ignore[attr-defined]
}


# --- formulas the plan items refer to -------------------------------------------------------


def no_load_minutes(
    constant: float, meter_constant: float, elements: int, un: float, imax: float
) -> float:
    """Minimum no-load test period in minutes.

    Delta-t >= C * 10^6 / (k * m * Un * Imax), C = 600 for class 0.5S
    (standards.md 1.4, [M]; worked example 3x57.7 V, Imax 6 A, k 10000, m 3 -> 57.8 min).
    """
    return constant * 1e6 / (meter_constant * elements * un * imax)


def register_dose(digit: float, limit_pct: float, resolution: float) -> float:
    """The energy a register test doses: enough that what two readings' difference is known to
    (`digit`: one register digit, or for the edge method one poll's energy,
    rig.register_edge.reading_kwh) is `resolution` of the limit, digit / (resolution x
    limit). standards.md 1.4: the meter constant is "measured at one current for long enough
    to resolve the register", its error within 1/10 of the MPE [H]; the plans resolve the
    register to a tenth of the limit they decide against (0.01 kWh, 0.05 %: 200 kWh)."""
    return digit / (resolution * limit_pct / 100.0)


def pulses_for(meter_constant: float, power_w: float, measure: Measure) -> int:
    """Pulse count N for a point: N = max(N_min, ceil(C * P * t / 3.6e6)), capped at max_s.

    instruments.md section 3: the automatic pulse count of commercial systems.
    """
    if power_w <= 0:
        raise ValueError("pulse count needs a positive power")
    per_second = meter_constant * power_w / 3.6e6
    wanted = max(measure.min_pulses, math.ceil(per_second * measure.target_s))
    cap = max(1, math.floor(per_second * measure.max_s))
    return max(1, min(wanted, cap))


def critical_change_kwh(elements: int, un: float, imax: float) -> float:
    """Critical change value m * Un * Imax * 10^-6 kWh (standards.md 5.1 [H])."""
    return elements * un * imax * 1e-6


def demand_limit_pct(item: DemandItem, pm_w: float, pn_w: float) -> float:
    """A1000 manual 3.2.2: +-(0.5 + 0.05 Pm/Pn) %, Pm the power at Imax PF 1."""
    return item.base_limit + item.pm_coefficient * pm_w / pn_w
