"""Events and ERR 1 warning bits against faults injected with the source.

The methods, their sources and their declared measurements: rig.procedures.events.Event.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.events import Event

pytestmark = [pytest.mark.family("events"), pytest.mark.procedure.with_args(Event)]


def test_event(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)
