"""Meter constant: the register advance against the test-output pulses.

The method, its sources and its declared measurements: rig.procedures.meter_constant.MeterConstant.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import MeterConstantItem
from rig.procedures import run
from rig.procedures.meter_constant import MeterConstant

pytestmark = pytest.mark.family("meter_constant")


def test_meter_constant(plan_item, rig, positions, recorder):
    item: MeterConstantItem = plan_item
    run(MeterConstant(item, Rating.of(positions[0].config)), recorder, rig)
