"""Energy registers by dosage: quadrants, direction and tariff, and the capacity.

The methods, their sources and their declared measurements: rig.procedures.registers.
"""

from __future__ import annotations

import pytest

from rig.procedures import run, skip_tariff_not_in
from rig.procedures.registers import QuadrantRegister, RegisterCapacity, RegisterDosage

pytestmark = pytest.mark.family("register")


@pytest.mark.procedure.with_args(QuadrantRegister)
@pytest.mark.parametrize("quadrant", [1, 2, 3, 4])
def test_quadrant_register(plan_item, quadrant, rig, procedure, recorder):
    run(procedure, recorder, rig)


@pytest.mark.family("register_dosage")
@pytest.mark.procedure.with_args(RegisterDosage)
@pytest.mark.parametrize("tariff", [1, 2, 3, 4])
def test_register_by_dosage(plan_item, direction, tariff, rig, procedure, recorder):
    skip_tariff_not_in(plan_item, tariff)
    run(procedure, recorder, rig)


@pytest.mark.family("register_capacity")
@pytest.mark.procedure.with_args(RegisterCapacity)
def test_register_capacity(plan_item, rig, procedure, recorder):
    """IEC 62052-11 (standards.md 5.1 [H]): no roll-over within 1500 h at Imax, Un, PF 1."""
    run(procedure, recorder, rig)
