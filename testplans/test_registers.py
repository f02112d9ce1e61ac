"""Energy registers by dosage: quadrants, direction and tariff, and the capacity.

The methods, their sources and their declared measurements: rig.procedures.registers.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import RegisterCapacityItem, RegisterDosageItem, RegisterItem
from rig.procedures import run
from rig.procedures.registers import QuadrantRegister, RegisterCapacity, RegisterDosage

pytestmark = pytest.mark.family("register")


@pytest.mark.parametrize("quadrant", [1, 2, 3, 4])
def test_quadrant_register(plan_item, quadrant, rig, positions, recorder):
    item: RegisterItem = plan_item
    run(QuadrantRegister(item, Rating.of(positions[0].config), quadrant), recorder, rig)


@pytest.mark.family("register_dosage")
@pytest.mark.parametrize("tariff", [1, 2, 3, 4])
def test_register_by_dosage(plan_item, direction, tariff, rig, positions, recorder):
    item: RegisterDosageItem = plan_item
    if tariff not in item.tariffs:
        pytest.skip(f"{item.id}: tariff {tariff} is not in the item's tariffs {item.tariffs}")
    run(RegisterDosage(item, Rating.of(positions[0].config), direction, tariff), recorder, rig)


@pytest.mark.family("register_capacity")
def test_register_capacity(plan_item, rig, positions, recorder):
    """IEC 62052-11 (standards.md 5.1 [H]): no roll-over within 1500 h at Imax, Un, PF 1."""
    item: RegisterCapacityItem = plan_item
    run(RegisterCapacity(item, Rating.of(positions[0].config)), recorder, rig)
