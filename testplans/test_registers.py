"""Energy registers by dosage: the four reactive quadrants, active import and export in each
tariff, and the capacity over 1500 h at Imax.

Four-quadrant reactive registers: a load in quadrant k advances register 5.8.0 + (k - 1)
(OBIS C = 5..8: Q1..Q4, standards.md 7) by the reference reactive energy, and leaves the other
three alone (IEC quadrant convention, standards.md 2.1 [H]). A meter that books reactive energy
in the wrong quadrant fails here even when its pulse outputs are right.

Method: registers read with the current off; the load applied for energy_kvarh / |Q|; the
current removed (voltage kept); registers read again. The reference energy comes from the
reference standard's energy register (or its reactive power times the dwell). Resolution: one
register digit (0.01 kvarh) on each reading.

Active registers by tariff and direction: with the calendar programmed so tariff k is in force
all day, a dose in one direction must advance c.8.0 and c.8.k (c = 1 import, 2 export, A1000
manual Appendix A) by the reference energy within the item's limit plus one digit, and no other
active energy register; C.14.0 is read before and after as the fact of the tariff in force.

Capacity: 1-1:1.8.0 does not roll over within 1500 h at Imax (IEC 62052-11).

The methods and their declared measurements: rig.procedures.registers.
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
