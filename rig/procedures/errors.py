"""Procedures that take percentage errors with the error calculators: accuracy at a point, the
error variation under an influence quantity, single-element against balanced.

Accuracy: IEC 60687 Tables 9 and 10 (= IEC 62053-22:2003 Tables 4 and 5) for active energy,
IEC 62053-23 Table 6 for reactive energy; limits per point in the plan file. All positions are
measured at each point at once (rig.measure).

Influence: the change of error when one quantity departs from reference (IEC 60687 Table 11;
0.5S limits [M] in standards.md 1.6), and the single-element against balanced difference
(IEC 60687 Table 10 note, standards.md 1.3): the error at the reference point and at the
influenced point, measured on all positions back to back with the same pulse count; the
variation is their difference in percentage points. An influence item naming an earlier item
in `reference_from` takes that item's error at the reference point when nothing since can have
changed it (`reference_source`), the reuse noted with the stored difference.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reports.records import POINT_STARTED, Measurement, Repetitions, Verdict
from rig.instruments.loadpoint import Harmonic, LoadPoint
from rig.loads import Rating, metered_power, point_for
from rig.measure import (
    ErrorReading,
    PulseShortfall,
    expected_error_seconds,
    measure_errors,
    reference_uncertainty,
    settle,
    shortfall_difference,
)
from rig.metrology import combine
from rig.plan import (
    AccuracyItem,
    InfluenceItem,
    Measure,
    Point,
    SingleVsBalancedItem,
    current_label,
)
from rig.procedures import Context, Declared, EachPoint
from rig.recorder import Recorder, Take

# The harmonics test signal: 5th harmonic, 10 % of U and 40 % of I, in phase (standards.md
# 1.6 note [L]).
HARMONIC_ORDER = 5
HARMONIC_U = 0.10
HARMONIC_I = 0.40


def accuracy_family(item: AccuracyItem) -> str:
    """The report's family of an accuracy item: reactive, single element or (balanced active)
    accuracy."""
    if item.energy == "reactive":
        return "reactive"
    return "accuracy" if item.element == "balanced" else "single_element"


@dataclass(frozen=True)
class ErrorAtPoint(EachPoint):
    """The percentage error at one load point in one direction, all positions at once."""

    item: AccuracyItem
    point: Point
    direction: str
    rating: Rating
    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared(f"{self.item.energy} energy error", "%", self.item.clause,
                         limit_low=-self.point.limit, limit_high=self.point.limit),)

    def points(self) -> list[dict[str, Any]]:
        return [{"load": self.rating.multiple(self.point.current), "pf": self.item.pf,
                 "direction": self.direction, "element": self.item.element}]

    def load(self) -> LoadPoint:
        item = self.item
        return point_for(self.rating, item.energy, self.point.current, item.pf, self.direction,
                         item.element)

    def planned_seconds(self) -> float:
        """Settling and the repetitions' gates at the point (rig.measure)."""
        return error_seconds(self.rating, self.load(), self.item.energy, self.item.measure)

    def measure(self, ctx: Context, take: Take) -> None:
        item, point = self.item, self.point
        (desc,) = take.points
        (declared,) = self.declared
        load = self.load()
        settle(ctx.bench, ctx.timebase, load, item.measure.settling_s)
        at = ctx.timebase.now()
        readings = measure_errors(ctx.bench, ctx.timebase, load, item.energy, item.measure,
                                  ctx.numbers, self.rating)
        u_ref, u_note = reference_uncertainty(ctx.bench)
        where = (f"{item.energy} {self.direction} at {self._current_text(desc)}, "
                 f"{self._pf_text()}, {item.element}")
        for p, r in readings.items():
            if isinstance(r, PulseShortfall):
                # The meter was energised at a load it must register and gave fewer pulses
                # than the window allowed: it fails the point. The value is the upper bound of
                # its error that the pulses seen prove (PulseShortfall.error_bound), stated as
                # such; no cause is named, the facts are.
                declared.record(take, p, desc, r.error_bound, verdict=Verdict.FAIL,
                                raw={**r.raw(), "limit_confidence": point.confidence},
                                message=f"{where}: {r.facts()}")
                continue
            declared.record(
                take, p, desc, r.mean,
                budget=r.budget(u_ref),
                repetitions=Repetitions(len(r.errors), r.mean, r.stdev),
                raw={
                    "errors": list(r.errors),
                    "reference_counts": list(r.reference_counts),
                    "pulses": r.pulses,
                    "limit_confidence": point.confidence,
                    "reference_uncertainty": u_note,
                },
                # What was applied, read and when; the report shows it for a point outside
                # its limit.
                message="" if abs(r.mean) <= point.limit else
                f"{where}: errors "
                + ", ".join(f"{e:+.4f}" for e in r.errors)
                + f" % over {r.pulses} pulse(s) each, gates from "
                + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) + " (bench clock)",
            )

    def _current_text(self, desc: Mapping[str, Any]) -> str:
        current = self.point.current
        label = current_label(current)
        return label if not isinstance(current, str) else f"{label} = {desc['load']:g} In"

    def _pf_text(self) -> str:
        item = self.item
        return f"sin phi {item.pf}" if item.energy == "reactive" else f"PF {item.pf}"


def error_seconds(rating: Rating, load: LoadPoint, energy: str, measure: Measure) -> float:
    """Planned seconds of one error measurement at `load` (settling, the repetitions' gates)."""
    return expected_error_seconds(metered_power(load, energy, rating.wiring),
                                  rating.constant(energy), measure)


def influenced(item: InfluenceItem, reference: LoadPoint) -> LoadPoint:
    """The reference point with the item's influence quantity applied."""
    if item.quantity == "voltage":
        return reference.scaled_voltage(1.0 + item.change)
    if item.quantity == "frequency":
        return reference.scaled_frequency(1.0 + item.change)
    if item.quantity == "phase_sequence":
        return reference.reversed_sequence()
    if item.quantity == "voltage_unbalance":
        volts = [ph.voltage for ph in reference.phases]
        for element in item.interrupted:
            volts[int(element[1]) - 1] = 0.0
        return reference.with_voltages(*volts)
    if item.quantity == "harmonics":
        return reference.with_harmonics(
            voltage=(Harmonic(HARMONIC_ORDER, HARMONIC_U),),
            current=(Harmonic(HARMONIC_ORDER, HARMONIC_I),),
        )
    raise ValueError(f"{item.id}: no influence method for {item.quantity!r}")


Reading = ErrorReading | PulseShortfall


def _errors(ctx: Context, load: LoadPoint, measure: Measure,
            rating: Rating) -> dict[int, Reading]:
    settle(ctx.bench, ctx.timebase, load, measure.settling_s)
    return measure_errors(ctx.bench, ctx.timebase, load, "active", measure, ctx.numbers, rating)


def _record_differences(ctx: Context, take: Take, declared: Declared, desc: Mapping[str, Any],
                        base: Mapping[int, Reading], other: Mapping[int, Reading],
                        applied: str, *, item: str | None = None,
                        reused: Mapping[int, Mapping[str, Any]] | None = None) -> None:
    """Each position's error with the change minus its error without. `item`: the plan item,
    noted for a later item that reuses the reference error (reference_source); `reused`: by
    position, the measurement whose reference error `base` holds (noted and said)."""
    u_ref, _ = reference_uncertainty(ctx.bench)
    where = f"at {desc['load']:g} In PF {desc['pf']}"
    for p, a in base.items():
        b = other[p]
        if isinstance(a, PulseShortfall) or isinstance(b, PulseShortfall):
            _record_shortfall(take, declared, desc, p, a, b, f"{where}: at reference conditions",
                              f"with {applied}", item)
            continue
        # Both readings carry their own budget; the reference standard's systematic part
        # cancels in a difference only partly, so it is kept in both (conservative).
        budget = combine(list(a.budget(u_ref).components) + list(b.budget(u_ref).components))
        declared.record(
            take, p, desc, b.mean - a.mean,
            budget=budget,
            repetitions=Repetitions(len(b.errors), b.mean, b.stdev),
            raw={"reference_error": a.mean, "influenced_error": b.mean,
                 "reference_errors": list(a.errors), "influenced_errors": list(b.errors),
                 "reference_counts": list(a.reference_counts), "pulses": a.pulses,
                 **({"item": item} if item else {}),
                 **({"reused_from": {str(p): reused[p]}} if reused else {})},
            message=" ".join(filter(None, (
                "" if abs(b.mean - a.mean) <= declared.limit_high else
                f"{where}: error {a.mean:+.4f} % at reference "
                f"conditions, {b.mean:+.4f} % with {applied}",
                "" if not reused else
                f"Reference error reused from {reused[p]['item']} (measurement "
                f"{reused[p]['measurement_id']}): the same load, pulses and repetitions, no "
                "other test since."))),
        )


def _record_shortfall(take: Take, declared: Declared, desc: Mapping[str, Any], position: int,
                      base: Reading, other: Reading, base_text: str, other_text: str,
                      item: str | None) -> None:
    """A difference `other - base` at a position where either gave fewer pulses than its
    window allowed: the value, verdict and conclusion of rig.measure.shortfall_difference, the
    facts of both as the message. No raw "reference_errors": a later item does not reuse a
    reference point that was not measured at every position (reference_source)."""
    value, verdict, conclusion = shortfall_difference(other, base, "the difference")
    declared.record(
        take, position, desc, value, verdict=verdict,
        raw={"reference": base.raw(), "influenced": other.raw(),
             **({"item": item} if item else {})},
        message=f"{base_text}: {base.facts()}; {other_text}: {other.facts()}: {conclusion}")


@dataclass(frozen=True)
class Influence(EachPoint):
    """The error variation under one influence quantity, all positions at once."""

    item: InfluenceItem
    rating: Rating
    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared(f"error variation ({self.item.quantity})", "%", self.item.clause,
                         limit_low=-self.item.limit, limit_high=self.item.limit),)

    def points(self) -> list[dict[str, Any]]:
        item = self.item
        return [{
            "load": self.rating.multiple(item.current),
            "pf": item.pf,
            "direction": "import",
            "influence": {"quantity": item.quantity,
                          "value": item.change or list(item.interrupted) or None},
        }]

    def planned_seconds(self) -> float:
        """The error at the reference point (unless reused from `reference_from`), then at
        the influenced point."""
        item = self.item
        reference = point_for(self.rating, "active", item.current, item.pf)
        own = 0.0 if item.reference_from else error_seconds(self.rating, reference, "active",
                                                             item.measure)
        return own + error_seconds(self.rating, influenced(item, reference), "active",
                                   item.measure)

    def run(self, ctx: Context, recorder: Recorder) -> None:
        for take in recorder.measure(ctx.numbers, self.points()):
            source = (reference_source(recorder, self.item.reference_from, ctx.numbers)
                      if self.item.reference_from else None)
            self._measure(ctx, take, source)

    def measure(self, ctx: Context, take: Take) -> None:
        self._measure(ctx, take, None)

    def _measure(self, ctx: Context, take: Take, source: dict[int, Measurement] | None) -> None:
        """`source`: the measurements whose reference errors stand for this item's (each
        position's), or None: measured here."""
        item = self.item
        (desc,) = take.points
        (declared,) = self.declared
        reference = point_for(self.rating, "active", item.current, item.pf)
        if source is None:
            base = _errors(ctx, reference, item.measure, self.rating)
        else:
            base = {p: ErrorReading(p, m.raw["pulses"], tuple(m.raw["reference_errors"]),
                                    tuple(m.raw["reference_counts"]))
                    for p, m in source.items()}
        other = _errors(ctx, influenced(item, reference), item.measure, self.rating)
        influence = desc["influence"]
        reused = None if source is None else {
            p: {"measurement_id": m.id, "test_id": m.test_id, "item": m.raw["item"]}
            for p, m in source.items()}
        _record_differences(ctx, take, declared, desc, base, other,
                            f"{influence['quantity']} {influence['value']}",
                            item=item.id, reused=reused)


def reference_source(recorder: Recorder, source_item: str,
                     numbers: list[int]) -> dict[int, Measurement] | None:
    """The stored measurements of influence item `source_item` whose errors at the reference
    point this test may take as its own, by position; None: measure it again.

    Reused only when nothing since can have changed the meters' error at that point: the same
    run and session (no "run started/resumed" since: a resumed session may follow a power-down
    or a new bench set-up), every position measured by the source, and every test started
    since the source (the store's point_started events) an influence test reusing the same
    source, so the meters were energised throughout at influence points of the same current
    and PF, with no interruption, programming or other family in between. The plan validated
    that the source measures the same reference point (current, PF, measure: rig.plan)."""
    store, run_id = recorder.store, recorder.run_id
    rows = store.measurements(run_id, family="influence")
    own = {m.position: m for m in rows
           if m.family == "influence" and m.raw.get("item") == source_item
           and "reference_errors" in m.raw and "reference_counts" in m.raw
           and not m.raw.get("reused_from")}
    if not own or not set(numbers) <= set(own):
        return None
    source_test = next(iter(own.values())).test_id
    reusing = {m.test_id for m in rows
               if any(r.get("item") == source_item
                      for r in (m.raw.get("reused_from") or {}).values())}
    # The log since the source's last point (read from there: the run's log grows with it).
    start = store.last_started(run_id, source_test)
    if start is None:
        return None
    for e in store.events(run_id, kinds=(POINT_STARTED, "log"), after=start):
        if e.kind == "log" and e.message.startswith(("run started", "run resumed")):
            return None
        test = e.data.get("test_id") if e.kind == POINT_STARTED else None
        if test is not None and test not in (source_test, recorder.test_id, *reusing):
            return None
    return {n: own[n] for n in numbers}


@dataclass(frozen=True)
class SingleAgainstBalanced:
    """Each element alone against the balanced error at the same point; the balanced error is
    measured once, before the first element still to measure."""

    item: SingleVsBalancedItem
    rating: Rating

    @property
    def declared(self) -> tuple[Declared, ...]:
        return (Declared("single-element minus balanced error", "%", self.item.clause,
                         limit_low=-self.item.limit, limit_high=self.item.limit),)

    def points(self) -> list[dict[str, Any]]:
        item = self.item
        return [{"load": self.rating.multiple(item.current), "pf": item.pf,
                 "direction": "import", "element": element, "against": "balanced"}
                for element in item.elements]

    def planned_seconds(self) -> float:
        """The balanced error once, then each element's."""
        item, rating = self.item, self.rating
        balanced = error_seconds(rating, point_for(rating, "active", item.current, item.pf),
                                 "active", item.measure)
        return balanced + sum(
            error_seconds(rating, point_for(rating, "active", item.current, item.pf, "import",
                                            element), "active", item.measure)
            for element in item.elements)

    def run(self, ctx: Context, recorder: Recorder) -> None:
        """Every element still to measure, each in its own take."""
        item, rating = self.item, self.rating
        (declared,) = self.declared
        balanced = None
        for take in recorder.measure(ctx.numbers, self.points()):
            (desc,) = take.points
            if balanced is None:
                balanced = _errors(ctx, point_for(rating, "active", item.current, item.pf),
                                   item.measure, rating)
            single = _errors(ctx, point_for(rating, "active", item.current, item.pf, "import",
                                            desc["element"]), item.measure, rating)
            _record_differences(ctx, take, declared, desc, balanced, single,
                                f"element {desc['element']} alone")
