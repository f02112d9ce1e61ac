"""SimBench as a whole: resolved bench file, plug-in meter model, RS485 bus, realtime mode,
3P3W positions through the drivers, and `python -m rig.sim serve`."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import pyvisa
import yaml

from meter.iec62056_21 import Client
from rig.bench.bench import Bench
from rig.instruments.loadpoint import LoadPoint
from rig.instruments.roles import ECState, Quantity
from rig.served import ready_facts
from rig.sim import SimBench, SimBenchError, SimControl
from rig.sim.bench import expand_positions
from rig.sim.meters import MeterBuildError
from rig.timebase import VirtualTimebase
from tests.rig.sim.conftest import REPO, SIM_BENCH, flat_error


def test_resolved_bench_file_has_real_addresses_and_no_placeholders() -> None:
    with SimBench(SIM_BENCH, positions=4) as sim:
        resolved = yaml.safe_load(sim.bench_file.read_text())
        # Its sim options give way to where to drive it (rig/served.py).
        assert resolved["sim"] == {"control": sim.control_address, "realtime": False}
        assert [p["id"] for p in resolved["positions"]] == [1, 2, 3, 4]
        assert resolved["instruments"]["source"]["resource"].startswith("TCPIP::127.0.0.1::")
        assert resolved["instruments"]["source"]["resource"].endswith("::SOCKET")
        links = [p["link"] for p in resolved["positions"]]
        assert all(link.startswith("/dev/pts/") for link in links) and len(set(links)) == 4
        assert sim.control.resources() == sim.substitutions
        assert re.search(r"sim:\w", sim.bench_file.read_text()) is None  # no placeholder left


def test_plug_in_meter_model_by_import_path() -> None:
    options = {"meter": {"model": "tests.rig.sim.meter_double:PluggedMeter",
                         "config_factory": "tests.rig.sim.meter_double:plugged_config",
                         **flat_error(0.25)}}
    with SimBench(SIM_BENCH, sim_options=options) as sim, \
            Bench.from_file(sim.bench_file) as bench:
        assert sim.control.positions()[0]["model"].endswith("meter_double.PluggedMeter")
        bench.energise(LoadPoint.at(230.0, 5.0, 1.0, "1"))
        ec = bench.error_calculator(1)
        ec.configure(1000, 5, Quantity.ACTIVE)
        ec.start()
        VirtualTimebase(sim.control).wait_until(lambda: ec.status().state is ECState.READY,
                                                expected_s=6, timeout_s=60)
        st = ec.status()
        assert st.error == pytest.approx(0.25, abs=100.0 / st.reference_counts)


def test_bad_model_path_names_the_position() -> None:
    with pytest.raises(MeterBuildError, match=r"position 1: .*no 'Nope'"):
        SimBench(SIM_BENCH, sim_options={"meter": {"model": "meter.a1000:Nope"}}).__enter__()


def test_meter_config_refusal_names_the_position() -> None:
    bench = yaml.safe_load(SIM_BENCH.read_text())
    bench["positions"][0]["meter_constant"] = 100000      # 80 ms pulses cannot fit
    with pytest.raises(MeterBuildError, match=r"position 1: .*active_imp_per_kwh"):
        SimBench(bench=bench).__enter__()


def test_unknown_driver_is_refused() -> None:
    bench = yaml.safe_load(SIM_BENCH.read_text())
    bench["instruments"]["source"]["driver"] = "chroma61845"
    # The simulator serves the validated configuration: the schema names the key.
    with pytest.raises(SimBenchError,
                       match=r"instruments.source.driver: unknown driver 'chroma61845'"):
        SimBench(bench=bench).__enter__()


def test_rs485_bus_several_meters_on_one_pty() -> None:
    bench = expand_positions(yaml.safe_load(SIM_BENCH.read_text()), 3)  # one EC each
    for k, pos in enumerate(bench["positions"], start=1):
        pos["address"] = f"10{k}"
    with SimBench(bench=bench, sim_options={"bus": True}) as sim:
        links = {sim.substitutions[f"sim:meter{k}"] for k in (1, 2, 3)}
        assert len(links) == 1
        (link,) = links
        for k in (3, 1):
            with Client(link, device_address=f"10{k}") as meter:
                rows = {r.address: r.value for r in meter.readout()}
            assert int(rows["C.1.0"]) == k          # meter number = position (bench build)


def test_every_meter_line_is_served_by_the_simulators_serving_loop() -> None:
    # 12 positions, 12 ports: no thread per meter (a MeterServer's own is named
    # "iec62056-21 <port>"); each answers its own meter through the one loop.
    before = {t.ident for t in threading.enumerate()}
    with SimBench(SIM_BENCH, positions=12) as sim:
        assert sim.simulator is not None and len(sim.simulator.meter_servers) == 12
        new = [t.name for t in threading.enumerate() if t.ident not in before]
        assert not [name for name in new if name.startswith("iec62056-21")], new
        for k in (12, 1):
            with Client(sim.substitutions[f"sim:meter{k}"]) as meter:
                rows = {r.address: r.value for r in meter.readout()}
            assert int(rows["C.1.0"]) == k  # meter number = position (bench build)


def test_meter_links_over_tcp() -> None:
    # `sim.link: tcp`: a listening port per position, one connection served at a time.
    with SimBench(SIM_BENCH, positions=2, sim_options={"link": "tcp"}) as sim:
        urls = [sim.substitutions[f"sim:meter{k}"] for k in (1, 2)]
        assert all(url.startswith("socket://127.0.0.1:") for url in urls)
        for k, url in enumerate(urls, start=1):
            with Client(url) as meter:
                meter.program()
                assert int(meter.read("C.1.0")[0].value) == k
                meter.sign_off()
        assert [s.sessions for s in sim.simulator.meter_servers] == [1, 1]


def test_meter_links_over_tcp_from_the_bench_file() -> None:
    # The bench file's `sim: link: tcp` (benches/sim.yaml documents it); the sessions
    # follow each other on one port, each in a connection of its own (as the rig reads).
    bench = yaml.safe_load(SIM_BENCH.read_text())
    bench["sim"]["link"] = "tcp"
    with SimBench(bench=bench, positions=2) as sim:
        url = sim.substitutions["sim:meter2"]
        assert url.startswith("socket://127.0.0.1:")
        for _ in range(2):
            with Client(url) as meter:
                rows = {r.address: r.value for r in meter.readout()}
            assert int(rows["C.1.0"]) == 2  # meter number = position (bench build)
        assert sim.simulator.meter_servers[1].sessions == 2


def test_a_meter_link_other_than_pty_or_tcp_is_refused() -> None:
    bench = yaml.safe_load(SIM_BENCH.read_text())
    bench["sim"]["link"] = "usb"
    with pytest.raises(SimBenchError, match=r"sim\.link: 'usb' is not pty or tcp"):
        SimBench(bench=bench).__enter__()


def test_bus_needs_distinct_addresses() -> None:
    with pytest.raises(SimBenchError, match=r"sim\.bus"):
        SimBench(SIM_BENCH, positions=2, sim_options={"bus": True}).__enter__()


def test_three_wire_position_through_the_drivers() -> None:
    bench = yaml.safe_load(SIM_BENCH.read_text())
    bench["positions"][0]["wiring"] = "3P3W"
    with SimBench(bench=bench, sim_options={"meter": flat_error(0.2)}) as sim, \
            Bench.from_file(sim.bench_file) as rig:
        rig.reference.set_mode("3P3W", Quantity.ACTIVE)
        rig.energise(LoadPoint.at(220.0, 5.0, 1.0, "0.5L"))
        assert rig.reference.read().p == pytest.approx(3 * 220 * 5 * 0.5, rel=1e-9)
        ec = rig.error_calculator(1)
        ec.configure(1000, 5, Quantity.ACTIVE)
        ec.start()
        VirtualTimebase(sim.control).wait_until(lambda: ec.status().state is ECState.READY,
                                                expected_s=12, timeout_s=120)
        st = ec.status()
        assert st.error == pytest.approx(0.2, abs=100.0 / st.reference_counts)


def test_realtime_mode_follows_the_wall_clock() -> None:
    with SimBench(SIM_BENCH, realtime=True) as sim:
        t0 = sim.control.time()
        assert abs(t0 - time.time()) < 60               # starts at the true time of day
        deadline = time.monotonic() + 5
        while sim.control.time() < t0 + 0.05:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        from rig.sim import ControlError
        with pytest.raises(ControlError, match="realtime"):
            sim.control.advance(10)


def test_serve_command_prints_resources_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "rig.sim", "serve", "--bench",
                             str(SIM_BENCH), "--positions", "2"], cwd=str(REPO),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        values = ready_facts(proc.stdout)
        assert values is not None, (
            f"serve ended early: {proc.stderr.read() if proc.stderr else ''}")
        assert values["sim:source"].startswith("TCPIP::127.0.0.1::")
        assert values["sim:meter2"].startswith("/dev/pts/")
        with SimControl(values["control"]) as ctl:
            t0 = ctl.time()
            assert ctl.advance(60) == t0 + 60
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for s in (proc.stdout, proc.stderr):
            if s is not None:
                s.close()


def test_serve_command_reports_a_bad_bench_file(tmp_path) -> None:
    bad = tmp_path / "bench.yaml"
    bad.write_text("lab: x\npositions: []\n")
    r = subprocess.run([sys.executable, "-m", "rig.sim", "serve", "--bench", str(bad)],
                       cwd=str(REPO), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "positions" in r.stderr


def test_mte_source_can_be_served_over_tcp_and_refuses_out_of_range(monkeypatch) -> None:
    # The unit's busy time after SET is 50 ms of wall time; on a loaded machine the next query
    # can come later than that, so the test lengthens it to see BSY=1 for sure.
    monkeypatch.setattr("rig.sim.dialects.mte.BUSY_S", 1.0)
    bench = yaml.safe_load(SIM_BENCH.read_text())
    bench["instruments"]["source"] = {"driver": "mte_pps4003", "resource": "sim:source"}
    with SimBench(bench=bench, sim_options={"mte_transport": "tcp"}) as sim:
        res = sim.substitutions["sim:source"]
        assert res.startswith("TCPIP::127.0.0.1::")
        mte = pyvisa.ResourceManager("@py").open_resource(
            res, read_termination="\r", write_termination="\r", timeout=2000)
        assert mte.query("MODE1") == "MODE1=O"
        assert mte.query("U1,301.000") == "U1=E"          # MTE range: U <= 300 V
        assert mte.query("U1,230.000") == "U1=O"
        assert mte.query("FRQ50.000") == "FRQ=O"
        assert mte.query("OWU1,7,12.00,0.00") == "OWU1=E"   # > 10 % above order 6
        assert mte.query("SET") == "SET=O"
        assert mte.query("BSY") == "BSY=1"                  # taking the setpoints
        deadline = time.monotonic() + 10
        while mte.query("BSY") != "BSY=0" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert mte.query("ON1") == "ON1=O"
        mte.write("STATU")
        assert [mte.read() for _ in range(3)] == ["STATU1=1", "STATU2=1", "STATU3=1"]
        assert mte.query("?2").startswith("?2=EA,230.000,")  # V3.07 form
        sim.control.overload(1)
        assert mte.query("SE") == "SE=E10S00000"
        mte.write("STATI")
        assert [mte.read() for _ in range(3)] == ["STATI1=3", "STATI2=0", "STATI3=0"]
        assert mte.query("XYZ") == "XYZ=E"
        mte.close()


def test_meter_memory_in_files_only_with_a_state_dir(tmp_path) -> None:
    with SimBench(SIM_BENCH, positions=2, state_dir=tmp_path / "nv") as sim:
        assert sim.control is not None
        sim.control.advance(120.0)  # past the 60 s save interval
        assert (tmp_path / "nv" / "meter2" / "state.json").is_file()
    with SimBench(SIM_BENCH, positions=2) as sim:
        assert sim.control is not None and sim._tmp is not None
        sim.control.advance(120.0)
        written = [p.name for p in Path(sim._tmp.name).rglob("*.json")]
        assert written == []  # in RAM: nothing to sync to disk every save interval
