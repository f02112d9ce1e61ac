"""Power interruption: registers and settings retained across a power-down.

The methods, their sources and their declared measurements: rig.procedures.interruption.Retention.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.interruption import Retention

pytestmark = [pytest.mark.family("interruption"), pytest.mark.procedure.with_args(Retention)]


def test_retention(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)
