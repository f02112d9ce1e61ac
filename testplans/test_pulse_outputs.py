"""Pulse outputs: each output's constant against the LED, the error calculator on that output.

The method, its sources and its declared measurements:
rig.procedures.pulse_outputs.PulseOutputConstant.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.pulse_outputs import PulseOutputConstant

pytestmark = [pytest.mark.family("pulse_output"),
              pytest.mark.procedure.with_args(PulseOutputConstant)]


def test_pulse_output(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)
