"""Pulse outputs: each output's constant against the LED, the error calculator on that output.

The method, its sources and its declared measurements:
rig.procedures.pulse_outputs.PulseOutputConstant.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import PulseOutputItem
from rig.procedures import run
from rig.procedures.pulse_outputs import PulseOutputConstant

pytestmark = pytest.mark.family("pulse_output")


def test_pulse_output(plan_item, rig, positions, recorder):
    item: PulseOutputItem = plan_item
    run(PulseOutputConstant(item, Rating.of(positions[0].config)), recorder, rig)
