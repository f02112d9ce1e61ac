"""Accuracy: percentage error at load points, balanced and single-element, active and reactive.

IEC 60687 Tables 9 and 10 (= IEC 62053-22:2003 Tables 4 and 5) for active energy,
IEC 62053-23 Table 6 for reactive energy; limits per point in the plan file. The method and its
declared measurement: rig.procedures.errors.ErrorAtPoint.
"""

from __future__ import annotations

import pytest

from rig.plan import Point
from rig.procedures import run
from rig.procedures.errors import ErrorAtPoint, accuracy_family

pytestmark = [pytest.mark.family("accuracy"), pytest.mark.procedure.with_args(ErrorAtPoint)]


def test_error(plan_item, point: Point, direction: str, rig, procedure, recorder):
    recorder.family = accuracy_family(plan_item)
    run(procedure, recorder, rig)
