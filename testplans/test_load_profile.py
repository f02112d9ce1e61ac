"""Load profile: every channel's intervals against the reference energy.

The method, its sources and its declared measurements: rig.procedures.load_profile.LoadProfile.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.load_profile import LoadProfile

pytestmark = [pytest.mark.family("load_profile"), pytest.mark.procedure.with_args(LoadProfile)]


def test_load_profile(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)
