"""Maximum demand in block and rolling mode against demand from the reference energy
(A1000 manual 1.2, 3.2.2; standards.md 3.2 [L], 3.3 [H]).

Method, all positions at once:

1. Voltage only; the meter clock offset of every position is measured (MeterLink.clock_offset,
   to +-CLOCK_STEP_S/2), so the meter's clock-aligned demand boundaries are known in true time.
2. The item's mode, cycle and interval are written through W1 (programming state entered on
   every meter together, P1; the writes go to all positions in parallel) at a moment
   deliberately *not* on a boundary (half a cycle + 7 s), and the maxima are reset (E2
   0.1.0). A meter that counts its windows from the setting instead of the clock shows it.
3. A base load (half the item current) runs from before the write; the item's load (balanced,
   item current and PF) is switched on 60 s before the first aligned cycle boundary B0 and back
   to the base 60 s before B1 = B0 + cycle, so exactly one window (the one ending at B1) holds
   the most energy and the steps lie well away from every boundary. The base load, rather than
   voltage only, keeps creep (a no-load matter) and the lowest-current accuracy region out of
   the demand.
4. At every evaluation end from B0 to B1 (block: each cycle end; rolling: each interval end) the
   reference energy is read at the boundary (bench.energy, the reference standard's energy
   register; without one, the reference power integrated between load changes) and, just after
   it, the meter's last average demand 1-1:1.5.0. Reference demand = energy of the window /
   cycle length (the divisor is the nominal cycle, standards.md 3.3); a window that began before
   the settings were written starts at the write (the first interval is shortened, 3.3).
5. After B1 the maximum demand 1-1:1.6.0 (value, YYMMDDhhmm) is read: its value against the
   largest reference window, its time stamp against B1 (exact to the stamp's 1 min resolution).
6. The previous demand settings are written back.

Limit: A1000 manual 3.2.2, additional error +-(0.5 + 0.05 Pm/Pn) % (rig.plan.demand_limit_pct;
Pm = power at Imax, PF 1; Pn = the demand the meter shows).

The method and its declared measurements: rig.procedures.demand.MaximumDemand.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import DemandItem
from rig.procedures import run
from rig.procedures.demand import MaximumDemand

pytestmark = pytest.mark.family("demand")


def test_maximum_demand(plan_item, rig, positions, recorder):
    item: DemandItem = plan_item
    run(MaximumDemand(item, Rating.of(positions[0].config)), recorder, rig)
