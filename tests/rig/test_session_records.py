"""What a run stores of its bench, its room and its time, run for real with pytester: the
validated bench configuration (runs/<id>/bench.json and the store's bench_config event, read by
the report), the environment sensor's readings with their times, and the time reference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from reports.benchinfo import BENCH_CONFIG_EVENT
from reports.store import ResultsStore
from rig.bench.config import BenchConfig
from tests.rig.test_pytest_plugin import PLAN as TINY  # two accuracy points

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_stores_its_validated_bench_its_environment_readings_and_time_reference(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rig.session

    # The simulated bench with an environment sensor role: a Vaisala HMP155 (simulated probe:
    # 23.0 degC, 45.0 %RH), read at the start and every 10 minutes of the run's time.
    bench = yaml.safe_load((ROOT / "benches" / "sim.yaml").read_text(encoding="utf-8"))
    bench["instruments"]["environment"] = {"driver": "vaisala_hmp155", "resource": "sim:thermo"}
    bench["environment"] = {"read_by": "sensor", "interval_min": 10}
    path = pytester.path / "sim-sensor.yaml"
    path.write_text(yaml.safe_dump(bench), encoding="utf-8")
    monkeypatch.setattr(rig.session, "SIM_BENCH_FILE", path)
    shutil.copy(ROOT / "testplans" / "test_accuracy.py", pytester.path / "test_accuracy.py")
    (pytester.path / "tiny.yaml").write_text(TINY)
    runs = pytester.path / "runs"
    result = pytester.runpytest("-p", "rig.pytest_plugin", "-p", "no:cacheprovider", "--plan",
                                str(pytester.path / "tiny.yaml"), "--runs-dir", str(runs))
    result.assert_outcomes(passed=2)
    with ResultsStore.in_runs_dir(runs) as store:
        run = store.list_runs()[-1]
        events = store.events(run.run_id)

    # The validated configuration, as the run used it (the simulator's loopback addresses).
    stored = json.loads((runs / run.run_id / "bench.json").read_text(encoding="utf-8"))
    config = BenchConfig.model_validate(stored)
    assert config.instruments.environment is not None
    assert config.instruments.environment.driver == "vaisala_hmp155"
    assert config.instruments.source.resource.startswith("TCPIP::127.0.0.1::")
    assert config.positions[0].accuracy_class == "0.5S"
    (event,) = [e for e in events if e.kind == BENCH_CONFIG_EVENT]
    assert event.data == stored

    # The room at the start, with the run; each reading as an event with its time.
    env = run.environment
    assert (env["temperature_c"], env["humidity_pct"]) == (23.0, 45.0)
    assert env["environment_source"] == "sensor vaisala_hmp155"
    assert env["environment_interval_min"] == 10
    readings = [e.data for e in events if e.kind == "environment"]
    assert readings and readings[0]["temperature_c"] == 23.0
    assert all(r["at"] >= readings[0]["at"] for r in readings)
    assert env["time_reference"].startswith("simulated bench virtual time (synchronised")

    # The report's instrument table reads the stored configuration.
    report = (runs / run.run_id / "report.html").read_text(encoding="utf-8")
    assert "vaisala_hmp155" in report and "(zera_com5003 driver)" in report
