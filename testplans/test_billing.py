"""Monthly billing: automatic readings, the stored history and its depth.

The method, its sources and its declared measurements: rig.procedures.billing.AutomaticReading.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.billing import AutomaticReading

pytestmark = [pytest.mark.family("billing"), pytest.mark.procedure.with_args(AutomaticReading)]


def test_automatic_reading(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)
