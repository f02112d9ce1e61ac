"""Clock accuracy at reference conditions: A1000 manual 3.2.3, +-0.5 s/day at 23 C
(IEC 62054-21 [M], standards.md 4.2).

Method (standards.md 4.3 item 2): the meter clock is read through IEC 62056-21; the seconds
roll-over is caught by polling with the timebase advanced between polls, which gives the clock
offset to +-step/2 (step = the item's resolution / 2, so each reading is better than the
resolution asked). Offsets are taken at the start and at checkpoints over `duration_h`; the
drift is the slope over the whole duration. A fast-running clock fails here.
"""

from __future__ import annotations

import math
import time

import pytest

from reports.decision import combine, rectangular
from rig.instruments.loadpoint import LoadPoint
from rig.loads import Rating
from rig.measure import settle
from rig.meterlink import clock_offsets
from rig.plan import ClockItem
from rig.recorder import Recorder

pytestmark = pytest.mark.family("clock")

CHECKPOINTS = 4
SETTLING_S = 5.0


def test_clock_drift(plan_item, rig, bench, timebase, positions, recorder):
    item: ClockItem = plan_item
    numbers = [p.number for p in positions]
    duration = item.duration_h * 3600.0
    elapsed_points = [duration * (k + 1) / CHECKPOINTS for k in range(CHECKPOINTS)]
    descs = [{"elapsed_s": round(e, 3)} for e in elapsed_points]
    # Each checkpoint is committed on its own: a resumed run measures only the missing ones,
    # from a new first reading (each row holds its own span), and keeps the stored ones.
    todo = recorder.pending(numbers, descs)
    if not todo:
        Recorder.assert_all_pass(recorder.taken)
        return
    rating = Rating.of(positions[0].config)
    # The meters are powered at Un with no current: the clock is what is measured.
    settle(bench, timebase, LoadPoint.voltage_only(rating.un), SETTLING_S)
    step = item.resolution_s / 2
    links = {p.number: rig.link(p) for p in positions}
    first = clock_offsets(links, timebase, step)
    started = time.time()
    for desc, elapsed in zip(descs, elapsed_points, strict=True):
        if desc not in todo:
            continue
        recorder.started(numbers, desc)
        timebase.dwell(first[numbers[0]].true_time + elapsed - timebase.now(), label="clock")
        readings = clock_offsets(links, timebase, step)
        with recorder.batch():  # every position's results in one commit
            for n, now in readings.items():
                span = now.true_time - first[n].true_time
                error = now.offset_s - first[n].offset_s
                budget = combine([rectangular("first reading", first[n].half_width_s),
                                  rectangular("this reading", now.half_width_s)])
                # The limit grows with the time elapsed: +-limit_s_per_day pro rata (over the
                # planned time; the readings' own spread of a few polls is in the budget).
                limit = item.limit_s_per_day * elapsed / 86400.0
                final = math.isclose(elapsed, duration)
                recorder.record(
                    n,
                    desc,
                    "clock error" if not final else "clock error over the test",
                    error,
                    "s",
                    limit_low=-limit,
                    limit_high=limit,
                    budget=budget,
                    raw={
                        "drift_s_per_day": error / span * 86400.0,
                        "span_s": span,
                        "offset_start_s": first[n].offset_s,
                        "offset_s": now.offset_s,
                        "resolution_s": 2 * now.half_width_s,
                    },
                    started_at=started,
                    message=f"drift {error / span * 86400.0:+.3f} s/day "
                    f"(limit +-{item.limit_s_per_day} s/day)",
                )
    Recorder.assert_all_pass(recorder.taken)
