"""Accuracy: percentage error at load points, balanced and single-element, active and reactive.

IEC 60687 Tables 9 and 10 (= IEC 62053-22:2003 Tables 4 and 5) for active energy,
IEC 62053-23 Table 6 for reactive energy; limits per point in the plan file. All positions are
measured at each point at once (rig.measure).
"""

from __future__ import annotations

import time

import pytest

from reports.records import Repetitions
from rig.loads import Rating, point_for
from rig.measure import measure_errors, reference_uncertainty, settle
from rig.plan import AccuracyItem, Point, current_label
from rig.recorder import Recorder

pytestmark = pytest.mark.family("accuracy")


def store_family(item: AccuracyItem) -> str:
    """The report's family: reactive, single element or (balanced active) accuracy."""
    if item.energy == "reactive":
        return "reactive"
    return "accuracy" if item.element == "balanced" else "single_element"


def _current_text(point: Point, desc: dict) -> str:
    label = current_label(point.current)
    return label if not isinstance(point.current, str) else f"{label} = {desc['load']:g} In"


def _pf_text(item: AccuracyItem) -> str:
    return f"sin phi {item.pf}" if item.energy == "reactive" else f"PF {item.pf}"


def test_error(plan_item, point: Point, direction: str, bench, timebase, positions, recorder):
    item: AccuracyItem = plan_item
    recorder.family = store_family(item)
    numbers = [p.number for p in positions]
    rating = Rating.of(positions[0].config)
    desc = {
        "load": rating.multiple(point.current),
        "pf": item.pf,
        "direction": direction,
        "element": item.element,
    }
    done = recorder.done(numbers, desc)
    if done is None:
        load = point_for(rating, item.energy, point.current, item.pf, direction, item.element)
        settle(bench, timebase, load, item.measure.settling_s)
        started = time.time()
        at = timebase.now()
        recorder.started(numbers, desc)
        readings = measure_errors(
            bench, timebase, load, item.energy, item.measure, numbers, rating
        )
        u_ref, u_note = reference_uncertainty(bench)
        with recorder.batch():  # every position's result of the point in one commit
            done = [
                recorder.record(
                    p,
                    desc,
                    f"{item.energy} energy error",
                    r.mean,
                    "%",
                    limit_low=-point.limit,
                    limit_high=point.limit,
                    budget=r.budget(u_ref),
                    repetitions=Repetitions(len(r.errors), r.mean, r.stdev),
                    raw={
                        "errors": list(r.errors),
                        "reference_counts": list(r.reference_counts),
                        "pulses": r.pulses,
                        "limit_confidence": point.confidence,
                        "reference_uncertainty": u_note,
                    },
                    started_at=started,
                    # What was applied, read and when; the report shows it for a point
                    # outside its limit.
                    message="" if abs(r.mean) <= point.limit else
                    f"{item.energy} {direction} at {_current_text(point, desc)}, "
                    f"{_pf_text(item)}, {item.element}: errors "
                    + ", ".join(f"{e:+.4f}" for e in r.errors)
                    + f" % over {r.pulses} pulse(s) each, gates from "
                    + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) + " (bench clock)",
                )
                for p, r in readings.items()
            ]
    Recorder.assert_all_pass(done)
