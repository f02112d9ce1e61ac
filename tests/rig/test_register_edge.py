"""The edge method of register doses (rig.register_edge) against the whole-digit method: the
dose it needs, and on the simulated bench the same verdicts with errors agreeing within the two
methods' stated resolutions, for the healthy meter and for register and constant defects."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.store import ResultsStore
from rig.linetime import EXCHANGE_S
from rig.loads import Rating
from rig.plan import load_plan, register_dose
from rig.procedures.meter_constant import MeterConstant
from rig.procedures.registers import RegisterDosage
from rig.register_edge import Edge, edge_budget, poll_kwh, reading_kwh

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
# The simulated bench's meters (benches/sim.yaml): 3x220 V, In 5 A, Imax 10 A.
RATING = Rating(un=220.0, in_=5.0, imax=10.0, meter_constant=1000.0, reactive_constant=1000.0,
                wiring="3P4W")
PLAN = load_plan("iec60687-class0.5S")


def test_an_edge_is_known_to_one_poll_of_energy_and_the_dose_shrinks_by_digit_over_it():
    """At Imax, PF 1: P = 3 x 220 V x 10 A = 6600 W; one poll (EXCHANGE_S = 0.43 s) passes
    6600 x 0.43 / 3.6e6 = 7.883e-4 kWh, 12.7 times less than the 0.01 kWh digit. For the
    0.05 % constant limit at a tenth: 7.883e-4 / (0.1 x 0.05 %) = 15.77 kWh (200 kWh by the
    whole digit), which takes 15.77 x 3.6e6 / 6600 = 8600 s (2.4 h; 30.3 h by the digit)."""
    assert EXCHANGE_S == 0.43
    assert poll_kwh(6600.0) == pytest.approx(7.8833e-4, rel=1e-4)
    assert reading_kwh("whole-digit", 0.01, 6600.0) == 0.01
    edge = reading_kwh("edge", 0.01, 6600.0)
    assert register_dose(edge, 0.05, 0.1) == pytest.approx(15.767, rel=1e-3)
    item = next(i for i in PLAN.items if i.id == "meter-constant")
    procedure = MeterConstant(item.model_copy(update={"method": "edge"}), RATING)
    assert procedure.energy_kwh() == pytest.approx(15.767, rel=1e-3)
    assert procedure.dose_s() == pytest.approx(8600.0, rel=1e-6)
    whole = MeterConstant(item.model_copy(update={"method": "whole-digit"}), RATING)
    assert whole.planned_seconds() - procedure.planned_seconds() > 100_000


def test_the_edge_method_refuses_a_power_whose_poll_passes_a_whole_digit():
    # 0.01 kWh in 0.43 s is 83.7 kW: the edge would be no finer than the digit.
    with pytest.raises(ValueError, match="use method whole-digit"):
        reading_kwh("edge", 0.01, 84_000.0)


def test_the_register_dosage_dose_by_edge_is_the_same_time_at_any_current():
    """The dose time P x dt / (r x limit) / P = dt / (r x limit) = 0.43 / (0.1 x 0.5 %) = 860 s
    for the 0.5 % dosage limit, at Imax as at In."""
    item = next(i for i in PLAN.items if i.family == "register_dosage")
    for current in ("Imax", 1.0):
        edge = item.model_copy(update={"method": "edge", "current": current})
        assert RegisterDosage(edge, RATING, "import", 2).dose_s() == pytest.approx(860.0)


def test_an_edge_without_a_step_carries_one_digit_in_the_budget():
    stepped = Edge(meter=10.02, meter_half=0.0, reference=1.0, reference_half=0.0004, polls=5,
                   stepped=True, at=0.0)
    still = Edge(meter=10.025, meter_half=0.005, reference=2.0, reference_half=0.0, polls=9,
                 stepped=False, at=1.0)
    start, end = edge_budget(stepped, still, 1.0, "kWh")
    # Rectangular: u = a / sqrt(3), a in % of the 1 kWh between the edges.
    assert start.standard_uncertainty == pytest.approx(0.04 / 3 ** 0.5)
    assert end.standard_uncertainty == pytest.approx(0.5 / 3 ** 0.5)


# --- both methods on the simulated bench ------------------------------------------------------

BOTH = """plan: both-methods
version: "0.1"
title: register doses by the whole digit and at the edge
meter_class: 0.5S
standards: [IEC 60687]
items:
  - {id: mc.whole, family: meter_constant, clause: "8.4", current: Imax, limit: 0.05}
  - {id: mc.edge, family: meter_constant, clause: "8.4", current: Imax, limit: 0.05, method: edge}
  - {id: mcr.whole, family: meter_constant, clause: "8.4", energy: reactive, current: Imax,
     limit: 0.2}
  - {id: mcr.edge, family: meter_constant, clause: "8.4", energy: reactive, current: Imax,
     limit: 0.2, method: edge}
  - {id: q.whole, family: register, clause: "2.1", current: Imax, limit: 2.0}
  - {id: q.edge, family: register, clause: "2.1", current: Imax, limit: 2.0, method: edge}
  - {id: rd.whole, family: register_dosage, clause: "8.4", current: Imax, limit: 0.5,
     tariffs: [1, 2]}
  - {id: rd.edge, family: register_dosage, clause: "8.4", current: Imax, limit: 0.5,
     tariffs: [1, 2], method: edge}
"""

#: One meter per position: the healthy one, then register and constant defects.
DEFECTS = {
    1: None,
    2: "wrong_pulse_constant",  # the active LED off its constant (meter/a1000/defects.py)
    3: "mutant:id=output.led_reactive.constant",  # the reactive LED at 1.01 x its constant
    4: "mutant:id=register.import-t0.booking",  # 1.8.0 shows export's register
    5: "mutant:id=register.import-t2.booking",  # 1.8.2 shows export's tariff 2
    6: "mutant:id=register.export-t1.booking",  # 2.8.1 shows import's tariff 1
    7: "mutant:id=tariff.t1.booking",  # tariff 1's energy booked in tariff 2's registers
    8: "reactive_quadrant_mixup",  # Q1 <-> Q2 and Q3 <-> Q4 booked in each other's register
    9: "mutant:id=register.q3-t0.booking",  # 7.8.0 shows Q4's register
}


def _resolution_pct(raw: dict) -> float:
    """What a stored error is known to by its method: the two edges' brackets, or one digit
    (0.01 kWh) in the reference energy; 0 for counts."""
    if "edge_start" in raw:
        halves = (raw["edge_start"]["meter_half"] + raw["edge_start"]["reference_half"]
                  + raw["edge_end"]["meter_half"] + raw["edge_end"]["reference_half"])
        return 100.0 * halves / (raw.get("reference_kwh") or raw["reference_kvarh"])
    reference = raw.get("reference_kwh") or raw.get("reference_kvarh")
    return 100.0 * 0.01 / reference if reference else 0.0


@pytest.mark.slow
def test_both_methods_give_the_same_verdicts_and_errors_within_their_resolutions(
        pytester: pytest.Pytester) -> None:
    (pytester.path / "plan.yaml").write_text(BOTH)
    defects = [f"{n}={d}" for n, d in DEFECTS.items() if d]
    args = [a for d in defects for a in ("--defect", d)]
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--rootdir", str(ROOT), "--plan",
        str(pytester.path / "plan.yaml"), "--no-report", "--runs-dir",
        str(pytester.path / "runs"), "--positions", str(len(DEFECTS)), *args,
        str(ROOT / "testplans" / "test_meter_constant.py"),
        str(ROOT / "testplans" / "test_registers.py"), "-k", "constant or dosage or quadrant",
        timeout=900)
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    with ResultsStore.in_runs_dir(pytester.path / "runs") as store:
        (run,) = store.list_runs()
        rows = store.measurements(run.run_id)
    by_key = {(m.test_id, m.position, m.quantity): m for m in rows}
    compared = failed = 0
    for (test_id, position, quantity), whole in by_key.items():
        if ".whole" not in test_id:
            continue
        edge = by_key[(test_id.replace(".whole", ".edge"), position, quantity)]
        assert edge.raw.get("method") in (None, "edge")
        what = f"{test_id} position {position} ({DEFECTS[position]}) {quantity}"
        assert str(edge.verdict) == str(whole.verdict), (
            f"{what}: whole-digit {whole.value} {whole.verdict}, edge {edge.value} "
            f"{edge.verdict}: {edge.message}")
        # The meter-constant error subtracts a pulse error measured again for each method: the
        # two agree to the reference's count quantisation, 1e-3 % is ample.
        tolerance = _resolution_pct(dict(whole.raw)) + _resolution_pct(dict(edge.raw)) + 1e-3
        assert edge.value == pytest.approx(whole.value, abs=tolerance), what
        compared += 1
        failed += str(whole.verdict) == "fail"
    # 2 items x 2 checks (constant) + 4 quadrants + 2 directions x 2 tariffs x 3 checks
    # (dosage), on every meter.
    assert compared == (2 * 2 + 4 + 2 * 2 * 3) * len(DEFECTS)
    # Every defect is caught by both (the healthy meter passes everything).
    failing = {m.position for m in rows if str(m.verdict) == "fail"}
    assert failing == set(DEFECTS) - {1}, failing
    assert failed > 0
