"""Accuracy: percentage error at load points, balanced and single-element, active and reactive.

IEC 60687 Tables 9 and 10 (= IEC 62053-22:2003 Tables 4 and 5) for active energy,
IEC 62053-23 Table 6 for reactive energy; limits per point in the plan file. The method and its
declared measurement: rig.procedures.errors.ErrorAtPoint.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import AccuracyItem, Point
from rig.procedures import run
from rig.procedures.errors import ErrorAtPoint, accuracy_family

pytestmark = pytest.mark.family("accuracy")


def test_error(plan_item, point: Point, direction: str, rig, positions, recorder):
    item: AccuracyItem = plan_item
    recorder.family = accuracy_family(item)
    procedure = ErrorAtPoint(item, point, direction, Rating.of(positions[0].config))
    run(procedure, recorder, rig)
