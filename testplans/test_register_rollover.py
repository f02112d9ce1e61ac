"""Register capacity of every energy register: a 1500 h dose at Imax in each quadrant with each
tariff in force; every register books it without rolling over (IEC 62052-11).

The method, why it is accepted, and the declared measurement: rig.procedures.register_rollover.
"""

from __future__ import annotations

import pytest

from rig.procedures import run, skip_tariff_not_in
from rig.procedures.register_rollover import RegisterRollover

pytestmark = [pytest.mark.family("register_rollover"),
              pytest.mark.procedure.with_args(RegisterRollover)]


@pytest.mark.parametrize("quadrant", [1, 2, 3, 4])
@pytest.mark.parametrize("tariff", [1, 2, 3, 4])
def test_register_rollover(plan_item, quadrant, tariff, rig, procedure, recorder):
    skip_tariff_not_in(plan_item, tariff)
    run(procedure, recorder, rig)
