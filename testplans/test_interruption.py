"""Data retained through voltage dips, short interruptions and a power-down.

Dips and interruptions (IEC 62052-11:2003 7.1.2, standards.md 5.1: durations [L], criteria [H]):
voltage circuits at Un and NO current; the disturbance is applied with the source (voltage
down by `depth` of Un for `duration_s`, `repetitions` times with `gap_s` at Un between). Pass
criteria: the registers do not change by more than the critical change value
m * Un * Imax * 1e-6 kWh (rig.plan.critical_change_kwh), the test output emits no more pulses
than that energy, and every data item read before is readable after.

Before the disturbance the meter rests at Un, no current, for longer than its periodic save
interval, so the registers read before are those it has stored.

The A1000 register digit (0.01 kWh) is coarser than the critical change value of a 3x230 V,
Imax 10 A meter (0.0069 kWh): the register check can only see a change of a digit or more. The
test output resolves it (1 pulse = 1/C kWh, 0.001 kWh at 1000 imp/kWh), so both are recorded.

Power-down (A1000 manual 3.2.5 data retention; standards.md 5.1 "no data loss"): after the
meter has rested at Un for longer than its periodic save interval, current flows at Imax for
LOAD_S (shorter than the save interval, so none of that energy is in the periodic save: only a
save at power-down keeps it), then every voltage goes off for `duration_s` and comes back.
The load runs at the item's power factor (below PF 1 the reactive registers move too). Checks:
no energy register of the readout (active and reactive, totals and tariffs) is lower after the
power-up than read just before the power-down, 1-1:1.8.0's advance over the test equals the
reference energy delivered within one digit (plus the class allowance on that energy), and the
readout is complete.

The methods and their declared measurements: rig.procedures.interruption.Retention.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import InterruptionItem
from rig.procedures import run
from rig.procedures.interruption import Retention

pytestmark = pytest.mark.family("interruption")


def test_retention(plan_item, rig, positions, recorder):
    item: InterruptionItem = plan_item
    run(Retention(item, Rating.of(positions[0].config)), recorder, rig)
