"""Tariff (TOU) switching: the switch delay at each boundary and the calendar's priority rules.

The methods, their sources and their declared measurements: rig.procedures.tou
(SwitchDelay, Priority).
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.tou import Priority, SwitchDelay


@pytest.mark.family("tou", check="switch_delay")
@pytest.mark.procedure.with_args(SwitchDelay)
def test_switch_delay(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)


@pytest.mark.family("tou", check="priority")
@pytest.mark.procedure.with_args(Priority)
def test_priority(plan_item, rig, procedure, recorder):
    # The tables and dates of this check are the hand-worked ones of rig.procedures.tou.
    run(procedure, recorder, rig)
