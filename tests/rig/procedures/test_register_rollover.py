"""Register capacity of every register: the advance across a register's designed roll-over and
the dose that gives each register its 1500 h energy."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from rig.loads import Rating
from rig.plan import RegisterRolloverItem
from rig.procedures.register_map import register_advance
from rig.procedures.register_rollover import RegisterRollover


@pytest.mark.parametrize(("before", "after", "advance"), [
    ("00012.34", "09912.34", 9900.0),
    # Past 99999.99 the 8-character register (A1000 manual 1.1 item 5) starts again at 0:
    # 95000.00 + 9900 = 104900.00 -> 04900.00.
    ("95000.00", "04900.00", 9900.0),
    # The 999999.9 format: a range of 10^6.
    ("995000.0", "004900.0", 9900.0),
])
def test_the_advance_counts_across_the_registers_full_range(before, after, advance) -> None:
    assert register_advance(Decimal(before), Decimal(after)) == pytest.approx(advance)


def test_a_register_rolling_over_early_shows_the_shortfall_of_its_false_range() -> None:
    # A register rolling over at 5000.00 instead of 100000: 3000 + 9900 = 12900 -> 2900.00;
    # the advance read is 99900, not 9900 (the roll-over is not taken for the designed one).
    assert register_advance(Decimal("03000.00"), Decimal("02900.00")) == pytest.approx(99900.0)


def test_the_dose_gives_the_quadrant_register_the_energy_of_1500_h_at_imax() -> None:
    # 3 x 220 V x 10 A x 1500 h = 9900 kvarh of reactive energy at 60 deg: |Q| = 3 x 220 x 10 x
    # sin 60 = 5715.8 var, so 9900 kvarh take 1732.05 h.
    item = RegisterRolloverItem(id="r", family="register_rollover", clause="IEC 62052-11",
                                current="Imax", hours=1500, limit=2.0)
    rating = Rating(wiring="3P4W", un=220.0, in_=5.0, imax=10.0, meter_constant=1000,
                    reactive_constant=1000)
    for quadrant in (1, 2, 3, 4):
        proc = RegisterRollover(item, rating, quadrant, 1)
        q_var = abs(proc.load().reactive_power)
        assert q_var == pytest.approx(3 * 220 * 10 * math.sin(math.radians(60)))
        assert proc.dose_s() / 3600 == pytest.approx(1732.05, abs=0.01)
        assert q_var * proc.dose_s() / 3.6e6 == pytest.approx(9900.0)
