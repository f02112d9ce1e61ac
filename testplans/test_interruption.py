"""Power interruption: registers and settings retained across a power-down.

The methods, their sources and their declared measurements: rig.procedures.interruption.Retention.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import InterruptionItem
from rig.procedures import run
from rig.procedures.interruption import Retention

pytestmark = pytest.mark.family("interruption")


def test_retention(plan_item, rig, positions, recorder):
    item: InterruptionItem = plan_item
    run(Retention(item, Rating.of(positions[0].config)), recorder, rig)
