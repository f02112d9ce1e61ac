"""End to end through the rig's own drivers (PyVISA + pyvisa-py) and the IEC 62056-21 client
(pyserial on a pty): configure, energise, measure several positions at once, read the meters,
de-energise."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meter.iec62056_21 import Client
from rig.bench.bench import Bench
from rig.instruments.loadpoint import LoadPoint
from rig.instruments.roles import ECState, Quantity
from rig.sim import SimBench
from rig.timebase import VirtualTimebase
from tests.rig.sim.conftest import SIM_BENCH, flat_error

ERRORS = {1: 0.12, 2: -0.07, 3: 0.31}


def options(ref_error: float = 0.0) -> dict:
    return {"reference": {"error": ref_error, "constant": 5e8},
            "meter": flat_error(0.0),
            "positions": {p: flat_error(e) for p, e in ERRORS.items()}}


def measure_all(bench: Bench, tb: VirtualTimebase, pulses: int, quantity=Quantity.ACTIVE
                ) -> dict[int, object]:
    ecs = {p.id: bench.error_calculator(p.id) for p in bench.positions}
    for p in bench.positions:
        ecs[p.id].configure(p.meter_constant, pulses, quantity)
    for ec in ecs.values():
        ec.start()
    # 3 x 230 V x 5 A PF 1: 3.45 kW -> 1000 imp/kWh gives ~1 pulse/s.
    tb.wait_until(lambda: all(ec.status().state is ECState.READY for ec in ecs.values()),
                  expected_s=pulses + 2, timeout_s=600, poll_s=1.0, label="error measurement")
    return {pid: ec.status() for pid, ec in ecs.items()}


def test_fluke_and_zera_measure_three_positions_and_meters_read_out() -> None:
    with SimBench(SIM_BENCH, positions=3, sim_options=options()) as sim, \
            Bench.from_file(sim.bench_file) as bench:
        tb = VirtualTimebase(sim.control, keepalive=bench.keepalive)
        point = LoadPoint.at(230.0, 5.0, 1.0, "1")
        bench.energise(point)
        assert sim.control.output_on()
        readings = bench.reference.read()
        assert readings.p == pytest.approx(3 * 230 * 5, rel=1e-9)
        results = measure_all(bench, tb, pulses=10)
        for pid, st in results.items():
            resolution = 100.0 / st.reference_counts
            assert st.error == pytest.approx(ERRORS[pid], abs=resolution + 1e-9), pid
            assert st.target == 10 * 500_000_000 // 1000
        # PF 0.5 L, reactive pulses against the reactive reference mode.
        bench.energise(LoadPoint.at(230.0, 5.0, 1.0, "0.5L"))
        bench.reference.set_mode(bench.positions[0].wiring, Quantity.REACTIVE)
        results = measure_all(bench, tb, pulses=10, quantity=Quantity.REACTIVE)
        for st in results.values():
            assert st.error == pytest.approx(0.0, abs=100.0 / st.reference_counts + 1e-9)
        tb.dwell(3600.0)
        bench.de_energise()
        assert not sim.control.output_on()
        # The meters registered the delivered energy (with their error) and answer over
        # IEC 62056-21 on their ptys. Register resolution: 0.01 kWh (99999.99).
        with sim.world.access():
            delivered_kwh = sim.world.reference.energy[("3P4W", "P")]
        assert delivered_kwh > 1.7
        for pos in bench.positions:
            with Client(pos.link) as meter:
                rows = {r.address: r for r in meter.readout()}
            active = rows["1-1:1.8.0"].value
            assert isinstance(active, Decimal)
            expected = delivered_kwh * (1 + ERRORS[pos.id] / 100)
            assert abs(float(active) - expected) <= 0.01, pos.id
        # Voltage removed: every meter is powered down.
        for p in (1, 2, 3):
            assert sim.control.meter(p, "powered") is False


def test_mte_source_on_a_pty_through_visa_asrl() -> None:
    bench = {**__import__("yaml").safe_load(SIM_BENCH.read_text())}
    bench["instruments"]["source"] = {"driver": "mte_pps4003", "resource": "sim:source",
                                      "options": {"timeout_ms": 2000, "retries": 1}}
    with SimBench(bench=bench, positions=2, sim_options=options()) as sim:
        assert sim.substitutions["sim:source"].startswith("ASRL/dev/pts/")
        with Bench.from_file(sim.bench_file) as rig:
            tb = VirtualTimebase(sim.control, keepalive=rig.keepalive)
            rig.energise(LoadPoint.at(230.0, 5.0, 1.0, "0.8C"))
            src = sim.control.source()
            assert src["output_on"]
            # MTE angles: PH lagging positive, W = U-I angle; PF 0.8 C leads by 36.87 deg.
            assert src["phases"][1]["u_angle"] == pytest.approx(-120.0)
            assert src["phases"][0]["i_angle"] == pytest.approx(36.87, abs=0.01)
            results = measure_all(rig, tb, pulses=8)
            for pid, st in results.items():
                assert st.error == pytest.approx(ERRORS[pid], abs=100.0 / st.reference_counts)
        assert not sim.control.output_on()
