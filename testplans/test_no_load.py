"""No-load (creep): 115 % Un on the voltage circuits, current circuits open; the test output
produces at most one pulse in Delta-t >= C 1e6 / (k m Un Imax) minutes: the active output with
C = 600 (class 0.5S, standards.md 1.4 [M] constant, [H] criterion), the reactive output with
C = 480 (IEC 62053-23 class 2, standards.md 2.1). A meter without anti-creep fails here.
"""

from __future__ import annotations

import time

import pytest

from rig.instruments.loadpoint import LoadPoint
from rig.loads import Rating
from rig.measure import count_pulses, settle
from rig.plan import NoLoadItem, no_load_minutes
from rig.recorder import Recorder

pytestmark = pytest.mark.family("no_load")

SETTLING_S = 10.0


def test_no_creep(plan_item, bench, timebase, positions, recorder):
    item: NoLoadItem = plan_item
    numbers = [p.number for p in positions]
    rating = Rating.of(positions[0].config)
    constant = rating.constant(item.energy)
    minutes = no_load_minutes(
        item.formula_constant, constant, rating.elements, rating.un, rating.imax
    )
    window = minutes * 60.0 * item.time_factor
    desc = {"voltage_factor": item.voltage_factor, "window_s": round(window, 1),
            "energy": item.energy}
    done = recorder.done(numbers, desc)
    if done is None:
        settle(bench, timebase, LoadPoint.voltage_only(rating.un * item.voltage_factor),
               SETTLING_S)
        started = time.time()
        recorder.started(numbers, desc)
        counts = count_pulses(
            bench, timebase, item.energy, constant, numbers, item.max_pulses + 1, window,
        )
        with recorder.batch():  # every position's result in one commit
            done = [
                recorder.record(
                    p,
                    desc,
                    f"{item.energy} pulses without current",
                    float(n),
                    "pulses",
                    limit_low=None,
                    limit_high=float(item.max_pulses),
                    raw={"formula_minutes": minutes},
                    started_at=started,
                    message="" if n <= item.max_pulses else
                    f"{n} or more {item.energy} pulses in {window / 60:.1f} min at "
                    f"{item.voltage_factor:g} Un with no current: the meter creeps",
                )
                for p, n in counts.items()
            ]
    Recorder.assert_all_pass(done)
