"""Events and ERR 1 warning bits against faults injected with the source.

The methods, their sources and their declared measurements: rig.procedures.events.Event.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import EventsItem
from rig.procedures import run
from rig.procedures.events import Event

pytestmark = pytest.mark.family("events")


def test_event(plan_item, rig, positions, recorder):
    item: EventsItem = plan_item
    run(Event(item, Rating.of(positions[0].config)), recorder, rig)
