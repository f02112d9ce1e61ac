"""The meter-constant and register doses follow from the register digit and the limit, at the
current the plan doses at (rig.plan.register_dose)."""

from __future__ import annotations

import pytest

from rig.loads import Rating
from rig.plan import load_plan, register_dose
from rig.procedures.meter_constant import MeterConstant
from rig.procedures.registers import RegisterDosage

# The simulated bench's meters (benches/sim.yaml): 3x220 V, In 5 A, Imax 10 A.
RATING = Rating(un=220.0, in_=5.0, imax=10.0, meter_constant=1000.0, reactive_constant=1000.0,
                wiring="3P4W")
PLAN = load_plan("iec60687-class0.5S")


def test_a_register_dose_resolves_one_digit_to_its_share_of_the_limit():
    # 0.01 kWh / (0.1 x 0.05 %) = 0.01 / 0.00005 = 200 kWh; against 0.5 %: 20 kWh.
    assert register_dose(0.01, 0.05, 0.1) == pytest.approx(200.0)
    assert register_dose(0.01, 0.5, 0.1) == pytest.approx(20.0)


def test_the_whole_digit_method_doses_the_meter_constant_at_imax_in_half_the_time_of_in():
    """200 kWh at Imax, PF 1: 3 x 220 V x 10 A = 6600 W, 200 x 3.6e6 / 6600 = 109 090.9 s
    (30.3 h); at In (3300 W) the same dose took 60.6 h."""
    item = next(i for i in PLAN.items if i.family == "meter_constant")
    assert item.method == "edge"  # the plan's; its dose: tests/rig/test_register_edge.py
    item = item.model_copy(update={"method": "whole-digit"})
    procedure = MeterConstant(item, RATING)
    assert item.energy_kwh is None and item.current == "Imax"
    assert procedure.energy_kwh() == pytest.approx(200.0)
    assert procedure.dose_s() == pytest.approx(109090.9, abs=0.1)
    # An item's own energy_kwh stands.
    assert MeterConstant(item.model_copy(update={"energy_kwh": 50.0}), RATING).energy_kwh() == 50


def test_the_whole_digit_method_doses_each_tariff_register_at_imax():
    """20 kWh at 6600 W: 20 x 3.6e6 / 6600 = 10 909.1 s (3.0 h) per tariff and direction."""
    item = next(i for i in PLAN.items if i.family == "register_dosage")
    procedure = RegisterDosage(item.model_copy(update={"method": "whole-digit"}), RATING,
                               "export", 3)
    assert procedure.energy_kwh() == pytest.approx(20.0)
    assert procedure.dose_s() == pytest.approx(10909.1, abs=0.1)
