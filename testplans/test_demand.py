"""Maximum demand: the meter's demand registers against the reference energy.

The method, its sources and its declared measurements: rig.procedures.demand.MaximumDemand.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.demand import MaximumDemand

pytestmark = [pytest.mark.family("demand"), pytest.mark.procedure.with_args(MaximumDemand)]


def test_maximum_demand(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)
