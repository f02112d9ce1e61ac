"""Meter constant: the register advance against the test-output pulses.

The method, its sources and its declared measurements: rig.procedures.meter_constant.MeterConstant.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.meter_constant import MeterConstant

pytestmark = [pytest.mark.family("meter_constant"), pytest.mark.procedure.with_args(MeterConstant)]


def test_meter_constant(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)
