"""Every energy register by dosage, in each quadrant with each tariff in force: a dose in
quadrant k advances exactly the registers that quadrant books (OBIS C = 1..10, the total and
the tariff in force) and no other energy register moves.

The method and its declared measurement: rig.procedures.register_map.
"""

from __future__ import annotations

import pytest

from rig.procedures import run, skip_tariff_not_in
from rig.procedures.register_map import RegisterMap

pytestmark = [pytest.mark.family("register_map"), pytest.mark.procedure.with_args(RegisterMap)]


@pytest.mark.parametrize("quadrant", [1, 2, 3, 4])
@pytest.mark.parametrize("tariff", [1, 2, 3, 4])
def test_register_map(plan_item, quadrant, tariff, rig, procedure, recorder):
    skip_tariff_not_in(plan_item, tariff)
    run(procedure, recorder, rig)
