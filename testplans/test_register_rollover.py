"""Register capacity of every energy register: a 1500 h dose at Imax in each quadrant with each
tariff in force; every register books it without rolling over (IEC 62052-11).

The method, why it is accepted, and the declared measurement: rig.procedures.register_rollover.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import RegisterRolloverItem
from rig.procedures import run
from rig.procedures.register_rollover import RegisterRollover

pytestmark = pytest.mark.family("register_rollover")


@pytest.mark.parametrize("quadrant", [1, 2, 3, 4])
@pytest.mark.parametrize("tariff", [1, 2, 3, 4])
def test_register_rollover(plan_item, quadrant, tariff, rig, positions, recorder):
    item: RegisterRolloverItem = plan_item
    if tariff not in item.tariffs:
        pytest.skip(f"{item.id}: tariff {tariff} is not in the item's tariffs {item.tariffs}")
    run(RegisterRollover(item, Rating.of(positions[0].config), quadrant, tariff), recorder, rig)
