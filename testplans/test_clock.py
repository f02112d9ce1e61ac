"""Clock accuracy at reference conditions, at no load and at rated current.

The method, its sources and its declared measurements: rig.procedures.clock.ClockDrift.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.clock import ClockDrift

pytestmark = [pytest.mark.family("clock"), pytest.mark.procedure.with_args(ClockDrift)]


def test_clock_drift(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)
