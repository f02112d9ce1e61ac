"""The plan estimate (rig.estimate) against the procedures' own figures, worked by hand."""

from __future__ import annotations

import pytest

from rig.estimate import READ_S, planned_seconds
from rig.loads import Rating
from rig.plan import load_plan

# The simulated bench's meters (benches/sim.yaml): 3x220 V, In 5 A.
RATING = Rating(un=220.0, in_=5.0, imax=10.0, meter_constant=1000.0, reactive_constant=1000.0,
                wiring="3P4W")


def test_a_quadrant_register_test_is_one_quadrants_dose_at_its_own_load_angle():
    """Each collected test is one quadrant (phi = 60 deg from the current, Q1): |Q| = 3 x 220 V
    x 5 A x sin 60 deg = 2857.88 var; 5 kvarh take 5 x 3.6e6 / 2857.88 = 6298.4 s, plus the
    register readings before and after (READ_S each). Before: four quadrants per test at
    sin phi 0.5 (1650 var): 4 x (10909.1 + 30) s, 6.9 times the bench's own timeline."""
    item = next(i for i in load_plan("iec60687-class0.5S").items if i.family == "register")
    assert item.energy_kvarh == 5 and item.current == 1.0
    assert planned_seconds(item, None, None, RATING) == pytest.approx(6298.4 + 2 * READ_S,
                                                                      abs=0.1)
