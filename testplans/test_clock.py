"""Clock accuracy at reference conditions, at no load and at rated current.

The method, its sources and its declared measurements: rig.procedures.clock.ClockDrift. Each
item runs in the background of the families that meet its load condition (rig.schedule): its
start before them, its checkpoints between them, its end after them; the plugin orders them.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.clock import ClockDrift, ClockStart

pytestmark = [pytest.mark.family("clock")]


@pytest.mark.procedure.with_args(ClockStart)
def test_clock_start(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)


@pytest.mark.procedure.with_args(ClockDrift)
def test_clock_drift(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)
