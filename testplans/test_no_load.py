"""No-load (creep): 115 % Un on the voltage circuits, current circuits open; the test output
produces at most one pulse in Delta-t >= C 1e6 / (k m Un Imax) minutes: the active output with
C = 600 (class 0.5S, standards.md 1.4 [M] constant, [H] criterion), the reactive output with
C = 480 (IEC 62053-23 class 2, standards.md 2.1). A meter without anti-creep fails here.

The method and its declared measurement: rig.procedures.pulses.NoLoad.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.pulses import NoLoad

pytestmark = [pytest.mark.family("no_load"), pytest.mark.procedure.with_args(NoLoad)]


def test_no_creep(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)
