"""Load profile entries against the reference energy of each interval, and the power-down flag
(A1000 manual 1.6; standards.md 6.3 R5, 6.5; 5.1 [H]: no data loss at a power interruption).

Method, all positions at once:

1. Voltage only; the meter clock offset of every position is measured (MeterLink.clock_offset),
   so the meter's 15-min load-profile boundaries are known in true time.
2. From a boundary K-1 on, the reference energy is tallied (bench.energy, the reference
   standard's energy register; without one, its power integrated between load changes). The
   load (balanced, item current and PF) goes on 5 min after K-1, so the entry ending at K0 holds
   a partial interval of our load only, then runs through `intervals` whole intervals.
3. Then a power-down across a boundary: the source is switched off 10 min into the next
   interval (as on a lab bench) and comes back 2 min into the one after. The entry of the
   interval the power failed in (written at its nominal end or at power-up) and the entry of
   the interval the power returned in must both exist, carry the power-down status flag (0x01,
   meter docs) and hold their intervals' energy: nothing is lost (standards.md 5.1).
4. The reference energy is read at every boundary; P.01 is read with R5 for K0..the last
   boundary and every channel of each entry (1.29.0 active import, 2.29.0 active export,
   5.29.0..8.29.0 reactive Q1..Q4: standards.md 7) is compared with the energy its channel
   received in the interval: the reference active energy in the channel of the load's
   direction, the reactive energy |Q/P| times it in the channel of the load's quadrant (Q from
   the same set point: the reference standard integrates one quantity at a time), nothing in
   every other channel. The plan runs this with an import, an export and a reactive load, so
   every channel is checked carrying energy and carrying none.

Limit: the item's percentage of the interval energy (the reactive limit for the reactive
channels), widened by one entry digit (0.1 Wh per the meter docs, read from the reply's
decimals): a meter cannot show less than a digit. A channel that receives nothing may show at
most one digit.

The method and its declared measurements: rig.procedures.load_profile.LoadProfile.
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
