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
from rig.plan import AccuracyItem, Point
from rig.recorder import Recorder

pytestmark = pytest.mark.family("accuracy")


def store_family(item: AccuracyItem) -> str:
    """The report's family: reactive, single element or (balanced active) accuracy."""
    if item.energy == "reactive":
        return "reactive"
    return "accuracy" if item.element == "balanced" else "single_element"


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
                )
                for p, r in readings.items()
            ]
    Recorder.assert_all_pass(done)
