"""Clock accuracy at reference conditions: A1000 manual 3.2.3, +-0.5 s/day at 23 C
(IEC 62054-21 [M], standards.md 4.2), with the meter at no load and at rated current.

Method (standards.md 4.3 item 2): the meter clock is read through IEC 62056-21 at real line
timing (one R1 is an exchange of about 0.43 s at 9600 Bd with tr = 200 ms); its seconds
roll-over is bracketed by vernier polling (`rig.meterlink.clock_offsets`: polls an exchange
apart whose phases in the second step by the item's resolution, 0.025 s by default). Offsets
are taken at the start and at checkpoints over `duration_h`; the error at a checkpoint is the
difference of two offsets, in which the meter's latch instant within its answer cancels, so
its uncertainty is the two brackets (+-resolution/2 each, rectangular). The limit grows pro
rata with the time elapsed. A fast-running clock fails here.

Load: `current: 0` applies Un alone (no load); `current: 1.0` Un and In at PF 1, so a clock
whose crystal warms with the meter's own dissipation would drift more there. The A1000 model's
clock does not depend on load or temperature (meter/a1000/clock.py): both items expect the
same drift.

Expected values, worked by hand from the A1000 manual and the model's configuration:
- healthy meter: drift +1 ppm (meter/a1000/config.py) = 1e-6 x 86400 s = +0.0864 s/day,
  inside +-0.5 s/day (manual 3.2.3); after 6 h (first checkpoint of 24 h) +0.0216 s against
  +-0.125 s; resolution 0.025 s per reading, so the error is known to +-0.025 s.
- `fast_clock` (2 s/day): after 6 h +0.5 s against +-0.125 s: fails from the first checkpoint.

The method and its declared measurements: rig.procedures.clock.ClockDrift.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import ClockItem
from rig.procedures import run
from rig.procedures.clock import ClockDrift

pytestmark = pytest.mark.family("clock")


def test_clock_drift(plan_item, rig, positions, recorder):
    item: ClockItem = plan_item
    run(ClockDrift(item, Rating.of(positions[0].config)), recorder, rig)
