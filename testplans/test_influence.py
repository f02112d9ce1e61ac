"""Influence quantities: the change of error when one quantity departs from reference
(IEC 60687 Table 11; 0.5S limits [M] in standards.md 1.6), and the single-element against
balanced difference (IEC 60687 Table 10 note, standards.md 1.3).

Method: the error at the reference point and at the influenced point, measured on all
positions back to back with the same pulse count; the variation is their difference in
percentage points.
"""

from __future__ import annotations

import time

import pytest

from reports.records import Repetitions
from rig.instruments.loadpoint import Harmonic, LoadPoint
from rig.loads import Rating, point_for
from rig.measure import ErrorReading, measure_errors, reference_uncertainty, settle
from rig.metrology import combine
from rig.plan import InfluenceItem, SingleVsBalancedItem
from rig.recorder import Recorder

# The harmonics test signal: 5th harmonic, 10 % of U and 40 % of I, in phase (standards.md
# 1.6 note [L]).
HARMONIC_ORDER = 5
HARMONIC_U = 0.10
HARMONIC_I = 0.40


def influenced(item: InfluenceItem, reference: LoadPoint) -> LoadPoint:
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


def _errors(bench, timebase, load, item, numbers, rating) -> dict[int, ErrorReading]:
    settle(bench, timebase, load, item.measure.settling_s)
    return measure_errors(bench, timebase, load, "active", item.measure, numbers, rating)


def _record_differences(
    recorder, numbers, desc, quantity, base, other, limit, started, bench
) -> list:
    u_ref, _ = reference_uncertainty(bench)
    done = []
    with recorder.batch():  # every position's results in one commit
        for p in numbers:
            a, b = base[p], other[p]
            # Both readings carry their own budget; the reference standard's systematic part
            # cancels in a difference only partly, so it is kept in both (conservative).
            budget = combine(list(a.budget(u_ref).components) + list(b.budget(u_ref).components))
            done.append(
                recorder.record(
                    p,
                    desc,
                    quantity,
                    b.mean - a.mean,
                    "%",
                    limit_low=-limit,
                    limit_high=limit,
                    budget=budget,
                    repetitions=Repetitions(len(b.errors), b.mean, b.stdev),
                    raw={"reference_error": a.mean, "influenced_error": b.mean,
                         "reference_errors": list(a.errors), "influenced_errors": list(b.errors)},
                    started_at=started,
                    message="" if abs(b.mean - a.mean) <= limit else
                    f"at {desc['load']:g} In PF {desc['pf']}: error {a.mean:+.4f} % at reference "
                    f"conditions, {b.mean:+.4f} % with "
                    + (f"element {desc['element']} alone" if "element" in desc else
                       f"{desc['influence']['quantity']} {desc['influence']['value']}"),
                )
            )
    return done


@pytest.mark.family("influence")
def test_influence(plan_item, bench, timebase, positions, recorder):
    item: InfluenceItem = plan_item
    numbers = [p.number for p in positions]
    rating = Rating.of(positions[0].config)
    desc = {
        "load": rating.multiple(item.current),
        "pf": item.pf,
        "direction": "import",
        "influence": {"quantity": item.quantity, "value": item.change or list(item.interrupted)
                      or None},
    }
    done = recorder.done(numbers, desc)
    if done is None:
        reference = point_for(rating, "active", item.current, item.pf)
        started = time.time()
        recorder.started(numbers, desc)
        base = _errors(bench, timebase, reference, item, numbers, rating)
        other = _errors(bench, timebase, influenced(item, reference), item, numbers, rating)
        done = _record_differences(recorder, numbers, desc, f"error variation ({item.quantity})",
                                   base, other, item.limit, started, bench)
    Recorder.assert_all_pass(done)


@pytest.mark.family("single_vs_balanced")
def test_single_against_balanced(plan_item, bench, timebase, positions, recorder):
    item: SingleVsBalancedItem = plan_item
    recorder.family = "single_element"
    numbers = [p.number for p in positions]
    rating = Rating.of(positions[0].config)
    done_all = []
    balanced = None
    for element in item.elements:
        desc = {"load": rating.multiple(item.current), "pf": item.pf, "direction": "import",
                "element": element, "against": "balanced"}
        done = recorder.done(numbers, desc)
        if done is None:
            started = time.time()
            recorder.started(numbers, desc)
            if balanced is None:
                balanced = _errors(bench, timebase, point_for(rating, "active", item.current,
                                                              item.pf), item, numbers, rating)
            single = _errors(bench, timebase, point_for(rating, "active", item.current, item.pf,
                                                        "import", element),
                             item, numbers, rating)
            done = _record_differences(recorder, numbers, desc,
                                       "single-element minus balanced error", balanced, single,
                                       item.limit, started, bench)
        done_all.extend(done)
    Recorder.assert_all_pass(done_all)
