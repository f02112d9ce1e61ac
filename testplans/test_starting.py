"""Starting current: the meter starts and continues to register at 0.001 In (active) and
0.003 In (reactive class 2), PF 1, each direction (standards.md 1.4 [H], 2.1 [H]).

The method and its declared measurement: rig.procedures.pulses.Starting. A meter with its
starting threshold set too high gives no pulses and fails here.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.pulses import Starting

pytestmark = [pytest.mark.family("starting"), pytest.mark.procedure.with_args(Starting)]


def test_starts(plan_item, direction: str, rig, procedure, recorder):
    run(procedure, recorder, rig)
