"""Monthly billing: automatic readings, the stored history and its depth.

The method, its sources and its declared measurements: rig.procedures.billing.AutomaticReading.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import BillingItem
from rig.procedures import run
from rig.procedures.billing import AutomaticReading

pytestmark = pytest.mark.family("billing")


def test_automatic_reading(plan_item, rig, positions, recorder):
    item: BillingItem = plan_item
    run(AutomaticReading(item, Rating.of(positions[0].config)), recorder, rig)
