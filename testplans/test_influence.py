"""Influence quantities: the change of error when one quantity departs from reference
(IEC 60687 Table 11; 0.5S limits [M] in standards.md 1.6), and the single-element against
balanced difference (IEC 60687 Table 10 note, standards.md 1.3).

The methods and their declared measurements: rig.procedures.errors.Influence and
SingleAgainstBalanced.
"""

from __future__ import annotations

import pytest

from rig.procedures import run
from rig.procedures.errors import Influence, SingleAgainstBalanced


@pytest.mark.family("influence")
@pytest.mark.procedure.with_args(Influence)
def test_influence(plan_item, rig, procedure, recorder):
    run(procedure, recorder, rig)


@pytest.mark.family("single_vs_balanced")
@pytest.mark.procedure.with_args(SingleAgainstBalanced)
def test_single_against_balanced(plan_item, rig, procedure, recorder):
    recorder.family = "single_element"
    run(procedure, recorder, rig)
