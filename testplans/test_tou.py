"""Tariff (TOU) switching: the switch delay at each boundary and the calendar's priority rules.

The methods, their sources and their declared measurements: rig.procedures.tou
(SwitchDelay, Priority).
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import TouItem
from rig.procedures import run
from rig.procedures.tou import Priority, SwitchDelay


@pytest.mark.family("tou", check="switch_delay")
def test_switch_delay(plan_item, rig, positions, recorder):
    item: TouItem = plan_item
    run(SwitchDelay(item, Rating.of(positions[0].config)), recorder, rig)


@pytest.mark.family("tou", check="priority")
def test_priority(plan_item, rig, positions, recorder):
    # The tables and dates of this check are the hand-worked ones of rig.procedures.tou.
    item: TouItem = plan_item
    run(Priority(item, Rating.of(positions[0].config)), recorder, rig)
