"""Time-of-use switching: the delay of a tariff switch (A1000 manual 3.2.4: less than 0.1 s)
and the holiday > weekend > season priority with its calendar cases (manual 1.4 items 2-9).

Switch delay, method (standards.md 4.3 item 3, at real line timing): one R1 of the tariff in
force (C.14.0) is an exchange of about 0.43 s at 9600 Bd with tr = 200 ms, four times the
limit, so one boundary polled as fast as the line allows brackets the delay only to 0.43 s.
A vernier over several boundaries does better: the meter clock's offset is bracketed first
(`rig.meterlink.clock_offsets`, 0.02 s), daily profiles with boundaries one minute apart are
written in turn (tariff 1, 2, 1, ... : 9 boundaries a profile, its 10 sections at most,
manual 1.4 item 7) until the item's `boundaries` are done, and around each boundary the
tariff is polled a line exchange apart, the polls of boundary i starting i/K of an exchange
later in the boundary's phase than those of boundary 0. Each poll says whether the switch
had come by then; intersected, the polls bracket the delay to one exchange / K (0.024 s for
K = 18), which is the resolution in the uncertainty budget with the
clock readings' brackets. The meter's latch instant within its answer is common to the clock
and the tariff polls and cancels (one character's time of difference is in the budget). The
clock is read again after the boundaries: the boundaries' true instants are interpolated
between the two readings, so a drifting clock does not bias the delay.

Priority, method: tables worked by hand (below) are written, the meter clock is set to a date
and time in turn and C.14.0 is read; the expected tariffs are the hand-worked calendar. The
tables and the clock are restored afterwards.

The methods and their declared measurements: rig.procedures.tou.SwitchDelay and Priority.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import TouItem
from rig.procedures import run
from rig.procedures.tou import Priority, SwitchDelay


@pytest.mark.family("tou", check="switch_delay")
def test_switch_delay(plan_item, rig, positions, recorder):
    item: TouItem = plan_item
    run(SwitchDelay(item, Rating.of(positions[0].config)), recorder, rig)


@pytest.mark.family("tou", check="priority")
def test_priority(plan_item, rig, positions, recorder):
    # The tables and dates of this check are the hand-worked ones of rig.procedures.tou.
    item: TouItem = plan_item
    run(Priority(item, Rating.of(positions[0].config)), recorder, rig)
