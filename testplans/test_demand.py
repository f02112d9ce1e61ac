"""Maximum demand: the meter's demand registers against the reference energy.

The method, its sources and its declared measurements: rig.procedures.demand.MaximumDemand.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import DemandItem
from rig.procedures import run
from rig.procedures.demand import MaximumDemand

pytestmark = pytest.mark.family("demand")


def test_maximum_demand(plan_item, rig, positions, recorder):
    item: DemandItem = plan_item
    run(MaximumDemand(item, Rating.of(positions[0].config)), recorder, rig)
