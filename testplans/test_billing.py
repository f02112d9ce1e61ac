"""Automatic monthly reading (billing) and its history (A1000 manual 1.5, 3.2.2; standards.md 6.8).

Method, all positions at once, for each of the item's `months`:

1. The load (balanced, In, PF 1) runs for LOAD_S, so the energy registers move and a demand is
   recorded; then voltage only.
2. The meter clock is set (W1 0.9.2 date, 0.9.1 time, programming state + P1) to LEAD_S before
   the next reading time of the item's day/hour (written to 1-1:0.8.6 DDhh at the start). The
   date and time are separate commands: their order is chosen so that no intermediate clock
   reading steps forward over a reading time (that would be a reading at the setting).
3. Just before the reading time the registers are read: 0.1.0 (billing counter VZ), 1-1:1.8.0..4
   (active import total and tariffs), 1-1:1.6.0 (maximum demand).
4. Past the reading time: the counter must have advanced by one, 1-1:1.8.x*101 must equal the
   registers read before (within one register digit), 1-1:1.6.0*101 the maximum before, the
   maximum must be reset (1-1:1.6.0 = 0) and 0.1.2*101 must be the reading time.

The last month's reading time falls in a power-down: the source is switched off across it, as
on a lab bench. The meter must read at power-up (time stamp = the power-up minute), once; a
meter that skips the reading fails the counter, history and stamp checks of that month.

After the last month the whole history is read: with more months than the HISTORY_DEPTH
records it keeps, 1-1:1.8.0*1nn must be the register before the nn-th last reading for every
nn = 1..16 (the records filled, then the oldest overwritten) and 0.1.1 must show 16.

A read that fails (no answer, a garbled value) fails that month's checks at that position with
the reason and the time, and the next month goes on.

Each month's checks are committed together. A resumed run (--resume) measures only the months
still missing; the history check then compares the records of this session's readings, and
0.1.1 must show the records the meter held at the start (0.1.1 read then) plus those readings.

At the end the clock is set back to true time + the offset it had at the start, and the
reading day/hour to what it was.

The method and its declared measurements: rig.procedures.billing.AutomaticReading.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import BillingItem
from rig.procedures import run
from rig.procedures.billing import AutomaticReading

pytestmark = pytest.mark.family("billing")


def test_automatic_reading(plan_item, rig, positions, recorder):
    item: BillingItem = plan_item
    run(AutomaticReading(item, Rating.of(positions[0].config)), recorder, rig)
