"""Influence quantities: the change of error when one quantity departs from reference
(IEC 60687 Table 11; 0.5S limits [M] in standards.md 1.6), and the single-element against
balanced difference (IEC 60687 Table 10 note, standards.md 1.3).

The methods and their declared measurements: rig.procedures.errors.Influence and
SingleAgainstBalanced.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import InfluenceItem, SingleVsBalancedItem
from rig.procedures import run
from rig.procedures.errors import Influence, SingleAgainstBalanced


@pytest.mark.family("influence")
def test_influence(plan_item, rig, positions, recorder):
    item: InfluenceItem = plan_item
    procedure = Influence(item, Rating.of(positions[0].config))
    run(procedure, recorder, rig)


@pytest.mark.family("single_vs_balanced")
def test_single_against_balanced(plan_item, rig, positions, recorder):
    item: SingleVsBalancedItem = plan_item
    recorder.family = "single_element"
    procedure = SingleAgainstBalanced(item, Rating.of(positions[0].config))
    run(procedure, recorder, rig)
