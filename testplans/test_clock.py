"""Clock accuracy at reference conditions, at no load and at rated current.

The method, its sources and its declared measurements: rig.procedures.clock.ClockDrift.
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
