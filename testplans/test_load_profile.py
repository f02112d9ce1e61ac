"""Load profile: every channel's intervals against the reference energy.

The method, its sources and its declared measurements: rig.procedures.load_profile.LoadProfile.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import LoadProfileItem
from rig.procedures import run
from rig.procedures.load_profile import LoadProfile

pytestmark = pytest.mark.family("load_profile")


def test_load_profile(plan_item, rig, positions, recorder):
    item: LoadProfileItem = plan_item
    run(LoadProfile(item, Rating.of(positions[0].config)), recorder, rig)
