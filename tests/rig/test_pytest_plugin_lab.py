"""The plugin on a lab bench, run for real with pytester: time limits of long items, the bench
lock, overdue calibrations, JUnit properties, the run log file and the dormant plugin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reports.store import ResultsStore
from rig.bench.config import load_bench_file
from rig.benchlock import lab_bench_lock
from tests.rig.test_pytest_plugin import PLAN as TINY  # two accuracy points

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
SIM_YAML = ROOT / "benches" / "sim.yaml"



def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "rig.pytest_plugin", "-p", "no:cacheprovider", *args)


@pytest.fixture
def tiny(pytester: pytest.Pytester) -> Path:
    shutil.copy(ROOT / "testplans" / "test_accuracy.py", pytester.path / "test_accuracy.py")
    (pytester.path / "tiny.yaml").write_text(TINY)
    return pytester.path / "tiny.yaml"


LONG_PLAN = """plan: long
version: "0.1"
title: one clock item of two hours
meter_class: 0.5S
standards: [IEC 60687]
items:
  - id: clock.2h
    family: clock
    clause: A1000 manual 3.2.3
    duration_h: 2
    limit_s_per_day: 0.5
"""

LONG_TESTS = '''
import time

import pytest

from rig.procedures.clock import ClockDrift
from rig.timebase import WallTimebase


class FakeWall:
    """A wall clock whose sleep passes 1800 times faster: 2 h of bench time in 4 s."""

    def __init__(self):
        self.t = 0.0

    def time(self):
        return self.t

    def sleep(self, seconds):
        time.sleep(seconds / 1800)
        self.t += seconds


def dwell_two_hours():
    clock = FakeWall()
    WallTimebase(sleep=clock.sleep, clock=clock.time, step_s=60.0).dwell(7200.0, "clock")
    return clock.t


@pytest.mark.family("clock")
@pytest.mark.procedure.with_args(ClockDrift)
def test_plan_item(plan_item):
    assert plan_item.duration_h == 2
    assert dwell_two_hours() == 7200.0


def test_not_a_plan_item():
    dwell_two_hours()
'''


def test_a_two_hour_item_is_not_killed_by_the_tests_time_limit(
    pytester: pytest.Pytester,
) -> None:
    """The ini `timeout` (2 s here, 300 s in the project) kills an ordinary test; a plan item
    runs under its own limit from its planned time (2 h of clock test: 1.5 x 7244.52 s + 900 s)."""
    pytester.makeini("[pytest]\ntimeout = 2\n")
    (pytester.path / "long.yaml").write_text(LONG_PLAN)
    pytester.makepyfile(test_long=LONG_TESTS)
    result = _run(pytester, "--plan", str(pytester.path / "long.yaml"), "-v")
    result.assert_outcomes(passed=1, failed=1)
    # Verbose: the progress line stands between the test's name and its outcome.
    result.stdout.fnmatch_lines(["*test_plan_item[[]clock.2h[]]*", "[[]1/1[]] clock.2h *",
                                 "PASSED*"])
    result.stdout.fnmatch_lines(["FAILED test_long.py::test_not_a_plan_item - Failed: Timeout "
                                 "(>2.0s)*"])
    # The plan item's own limit from ClockDrift's planned time: settling 5 s, 2 h, and two
    # vernier clock readings to 0.025 s, each a sign-on (1.7 s) and 2 + 40 R1 exchanges of
    # 0.43 s (rig.linetime) = 19.76 s: 7244.52 s, x 1.5 + 900 s.
    items, _ = pytester.inline_genitems("-p", "rig.pytest_plugin", "--plan",
                                        str(pytester.path / "long.yaml"))
    limits = {i.name: m.args[0] for i in items if (m := i.get_closest_marker("timeout"))}
    assert limits == {"test_plan_item[clock.2h]": pytest.approx(7244.52 * 1.5 + 900)}


def _overdue_sim_bench(tmp_path: Path) -> Path:
    """The simulated bench file with a reference whose calibration ran out in 2021."""
    text = SIM_YAML.read_text().replace(
        '    resource: "sim:reference"\n',
        '    resource: "sim:reference"\n    serial: "R-1"\n    calibration_date: 2020-03-01\n'
        '    calibration_due: 2021-03-01\n    certificate: "C-2020"\n'
        '    uncertainty: {value: 0.03, unit: "%", k: 3}\n',
    )
    path = tmp_path / "sim-overdue.yaml"
    path.write_text(text)
    return path


def test_overdue_calibration_is_refused_then_allowed_with_the_flag_and_stated(
    pytester: pytest.Pytester, tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rig.session

    monkeypatch.setattr(rig.session, "SIM_BENCH_FILE", _overdue_sim_bench(pytester.path))
    runs = pytester.path / "runs"
    refused = _run(pytester, "--plan", str(tiny), "--runs-dir", str(runs))
    assert refused.ret != 0
    out = refused.stdout.str() + refused.stderr.str()
    assert "calibration overdue" in out and "instruments.reference" in out
    assert "calibration due 2021-03-01" in out and "--allow-overdue" in out

    allowed = _run(pytester, "--plan", str(tiny), "--runs-dir", str(runs), "--allow-overdue",
                   "--junitxml", str(pytester.path / "j.xml"))
    allowed.assert_outcomes(passed=2)
    with ResultsStore.in_runs_dir(runs) as store:
        run = store.list_runs()[-1]
        rows = store.measurements(run.run_id)
    stated = run.environment["calibration_overdue"]
    assert stated == ["instruments.reference (zera_com5003 serial R-1): calibration due "
                      "2021-03-01 (overdue, run allowed by --allow-overdue)"]
    report = (runs / run.run_id / "report.html").read_text()
    assert "calibration_overdue" in report and "allowed by --allow-overdue" in report
    # The run log file, timestamped, says it too.
    log = (runs / run.run_id / "run.log").read_text()
    assert "WARNING instruments.reference (zera_com5003 serial R-1)" in log
    assert "INFO    run started: plan tiny" in log and "INFO    run completed" in log
    # The budget took k = 3 from the certificate: the reference's standard uncertainty is
    # 0.03 % / 3 = 0.01 %.
    ref = rows[0].uncertainty_budget["components"][0]
    assert ref["standard_uncertainty"] == pytest.approx(0.01)
    # JUnit XML: each measurement's value, limits, uncertainty and verdict as properties.
    case = next(ET.parse(pytester.path / "j.xml").iter("testcase"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    first = next(m for m in rows if m.test_id.endswith(case.get("name")))
    assert props["measurement.1.value"] == str(first.value)
    assert (props["measurement.1.limit_low"], props["measurement.1.limit_high"]) == ("-0.5",
                                                                                     "0.5")
    assert props["measurement.1.expanded_uncertainty"] == str(first.expanded_uncertainty)
    assert props["measurement.1.verdict"] == "pass"
    assert props["measurement.1.unit"] == "%"
    # The point as the store's text of it (JSON, keys sorted).
    assert json.loads(props["measurement.1.point"]) == first.point
    assert props["measurement.1.point"] == json.dumps(first.point, sort_keys=True)


def test_a_second_run_on_a_locked_lab_bench_is_refused_naming_the_holder(
    pytester: pytest.Pytester, tiny: Path
) -> None:
    # The lab bench file with meter ports that exist (the bad-input check refuses a missing
    # port before the lock is asked for); nothing is opened: the lock refuses first.
    text = (ROOT / "benches" / "fluke6105a-com5003.yaml").read_text(encoding="utf-8")
    for port in ("ttyUSB0", "ttyUSB1"):
        (pytester.path / port).write_text("")
        text = text.replace(f"/dev/{port}", str(pytester.path / port))
    bench = pytester.path / "fluke6105a-com5003.yaml"
    bench.write_text(text, encoding="utf-8")
    locks = pytester.path / "locks"
    with lab_bench_lock(load_bench_file(bench), locks, "plan held by the test"):
        result = _run(pytester, "--plan", str(tiny), "--bench", str(bench),
                      "--runs-dir", str(pytester.path / "runs"), "--lock-dir", str(locks))
    assert result.ret != 0
    out = result.stdout.str() + result.stderr.str()
    assert "bench in use" in out and f"pid {os.getpid()} since " in out
    assert "(plan held by the test)" in out
    # Refused before any instrument was opened: no VISA error, no run in the store (the store
    # itself is opened first, to check a --resume against it).
    assert "VisaIOError" not in out
    if (pytester.path / "runs").exists():
        with ResultsStore.in_runs_dir(pytester.path / "runs") as store:
            assert store.list_runs() == []


def test_xdist_workers_one_lab_bench_refused_simulated_benches_allowed(
    tiny: Path, tmp_path: Path
) -> None:
    """Two pytest-xdist workers each run the whole plan (--dist each): on one lab bench (a
    simulated bench served on loopback, driven as a lab bench) one is refused; on the
    simulated bench each worker has its own simulator, and both run."""
    from rig.sim.bench import SimBench

    plan_dir = tiny.parent
    cmd = [sys.executable, "-m", "pytest", "-p", "rig.pytest_plugin", "-p", "no:cacheprovider",
           "-n", "2", "--dist", "each", str(plan_dir / "test_accuracy.py"), "--plan", str(tiny),
           "--runs-dir", str(tmp_path / "runs"), "--lock-dir", str(tmp_path / "locks"),
           "--no-report", "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sim = subprocess.run(cmd, cwd=plan_dir, env=env, capture_output=True, text=True,
                         timeout=600)
    assert sim.returncode == 0, sim.stdout[-3000:]
    assert "4 passed" in sim.stdout

    # In real time a point costs its pulses: two points at high load, few pulses.
    fast = tmp_path / "fast.yaml"
    fast.write_text(TINY.replace("{settling_s: 1, repetitions: 2, target_s: 5}",
                                 "{settling_s: 0.2, repetitions: 1, target_s: 1, min_pulses: 1}")
                    .replace("current: 0.1,", "current: 1.2,"))
    plan_at = cmd.index("--plan") + 1
    with SimBench(SIM_YAML, realtime=True) as served:
        lab = subprocess.run([*cmd[:plan_at], str(fast), *cmd[plan_at + 1:], "--bench",
                              str(served.bench_file)], cwd=plan_dir, env=env,
                             capture_output=True, text=True, timeout=600)
    out = lab.stdout + lab.stderr
    assert lab.returncode != 0, out[-3000:]
    assert "bench in use" in out and "held by" in out, out[-3000:]
    # One worker ran both points; the other was refused at its first.
    assert "2 passed" in lab.stdout, out[-3000:]


def test_the_plugin_is_dormant_in_an_unrelated_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Installed, the plugin is loaded into every pytest run: one that uses neither its
    options nor the plans is not affected, even where no plan can be found."""
    import rig.plan

    monkeypatch.setattr(rig.plan, "PLANS_DIR", tmp_path / "no-plans-here")
    pytester.makepyfile(test_unrelated="def test_one():\n    assert 1 + 1 == 2\n")
    result = _run(pytester)
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    out = result.stdout.str()
    assert "meter-test-rig:" not in out and "estimated wall time" not in out
    # Asking for a plan still checks it up front.
    assert _run(pytester, "--plan", "no-such-plan").ret == pytest.ExitCode.USAGE_ERROR


CAPACITY_PLAN = """plan: capacity
version: "0.1"
title: the register capacity and one dosage
meter_class: 0.5S
standards: [IEC 62052-11]
items:
  - id: registers.capacity
    family: register_capacity
    clause: IEC 62052-11 register capacity
    current: Imax
    hours: 1500
    limit: 0.5
    simulated_only: the range read from the display format against 1500 h at Imax
"""


def test_a_simulated_only_item_is_skipped_on_a_lab_bench_naming_the_labs_method(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    """A 1500 h dose (62.5 days) is virtual time only: on the simulated bench it is planned
    (the estimate counts its 1500 h and more), on a lab bench it is skipped with what the lab
    does instead, and its hours stay out of the estimate."""
    from rig.sim.bench import SimBench

    shutil.copy(ROOT / "testplans" / "test_registers.py", pytester.path / "test_registers.py")
    plan = pytester.path / "capacity.yaml"
    plan.write_text(CAPACITY_PLAN)
    common = ("--plan", str(plan), "--runs-dir", str(tmp_path / "runs"), "--no-report")

    simulated = _run(pytester, *common, "--collect-only", "-q")
    lines = [ln for ln in simulated.outlines if ln.strip().startswith("register_capacity")]
    assert lines, simulated.stdout.str()[-3000:]
    hours = int(lines[0].split()[1])  # "register_capacity  1500 h 00 min"
    assert hours >= 1500, lines[0]

    with SimBench(SIM_YAML) as served:
        lab = _run(pytester, *common, "--bench", str(served.bench_file),
                   "--lock-dir", str(tmp_path / "locks"), "-rs")
    out = lab.stdout.str()
    lab.assert_outcomes(skipped=1)
    assert ("registers.capacity: simulated bench only (virtual time); on a lab bench: the "
            "range read from the display format") in out, out[-3000:]
    assert not [ln for ln in lab.outlines if ln.strip().startswith("register_capacity")], out
