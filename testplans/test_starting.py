"""Starting current: the meter starts and continues to register at 0.001 In (active) and
0.003 In (reactive class 2), PF 1, each direction (standards.md 1.4 [H], 2.1 [H]).

Method: apply the point, then count meter pulses with the error calculators for the time
`pulses` pulses take at the ideal rate times the item's `time_factor`. A meter with its
starting threshold set too high gives no pulses and fails here.
"""

from __future__ import annotations

import time

import pytest

from rig.loads import Rating, metered_power, point_for, pulse_period_s
from rig.measure import count_pulses, settle
from rig.plan import StartingItem, current_label
from rig.recorder import Recorder

pytestmark = pytest.mark.family("starting")

SETTLING_S = 10.0


def test_starts(plan_item, direction: str, bench, timebase, positions, recorder):
    item: StartingItem = plan_item
    numbers = [p.number for p in positions]
    rating = Rating.of(positions[0].config)
    desc = {"load": rating.multiple(item.current), "pf": item.pf, "direction": direction,
            "energy": item.energy}
    done = recorder.done(numbers, desc)
    if done is None:
        load = point_for(rating, item.energy, item.current, item.pf, direction)
        constant = rating.constant(item.energy)
        period = pulse_period_s(metered_power(load, item.energy, rating.wiring), constant)
        window = (item.pulses + 1) * period * item.time_factor
        settle(bench, timebase, load, SETTLING_S)
        started = time.time()
        recorder.started(numbers, desc)
        counts = count_pulses(bench, timebase, item.energy, constant, numbers, item.pulses, window)
        with recorder.batch():  # every position's result in one commit
            done = [
                recorder.record(
                    p,
                    desc,
                    "pulses at starting current",
                    float(n),
                    "pulses",
                    limit_low=float(item.pulses),
                    limit_high=None,
                    raw={"window_s": window, "ideal_period_s": period},
                    started_at=started,
                    message="" if n >= item.pulses else
                    f"{item.energy} {direction} at {current_label(item.current)} "
                    f"({rating.multiple(item.current):g} In), PF {item.pf}: {n} pulse(s) "
                    f"counted in {window:.0f} s, expected {item.pulses} (ideal period "
                    f"{period:.0f} s): the meter does not start at this current",
                )
                for p, n in counts.items()
            ]
    Recorder.assert_all_pass(done)
