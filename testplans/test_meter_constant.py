"""Meter constant: the register advance against the test-output pulses (standards.md 1.4:
IEC gives no number; the French verification rule is a relative error of the constant below
1/10 of the MPE, i.e. 0.05 % for class 0.5S [H]; "measured at one current for long enough to
resolve the register").

Method, on all positions at once:

a) the error by pulses e_pulse at the point (rig.measure.measure_errors: the error calculator
   compares the meter's pulses, through the nameplate constant, with the reference);
b) the register error by dosage e_reg: read 1-1:1.8.0 with the currents off (voltage on, the
   register is still), start the reference energy register, energise the point for
   energy_kwh / P, take the current off (keep the voltage), stop the reference, read 1-1:1.8.0
   again: e_reg = (dR - E_ref) / E_ref.

Both errors are against the same reference, so its systematic error cancels in
e_const = e_reg - e_pulse: the error of the pulse constant relative to the register (a meter
whose pulse output runs on a wrong constant shows e_pulse != e_reg). The register error itself
is also recorded against the class limit of the point.

Resolution: the A1000 register shows 0.01 kWh (format 99999.99); two readings give at most one
digit over the dose, so the plan's energy_kwh is chosen for digit / energy_kwh well below the
0.05 % limit (0.01 kWh in 200 kWh = 0.005 %). The simulated bench doses it in virtual time; the
estimate (rig.estimate) shows the hours a real bench needs.

The method and its declared measurements: rig.procedures.meter_constant.MeterConstant.
"""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import MeterConstantItem
from rig.procedures import run
from rig.procedures.meter_constant import MeterConstant

pytestmark = pytest.mark.family("meter_constant")


def test_meter_constant(plan_item, rig, positions, recorder):
    item: MeterConstantItem = plan_item
    run(MeterConstant(item, Rating.of(positions[0].config)), recorder, rig)
