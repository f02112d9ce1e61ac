"""The rig's pytest plugin, run for real with pytester on the simulated bench."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reports.store import ResultsStore

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

PLAN = """plan: tiny
version: "0.1"
title: two accuracy points
meter_class: 0.5S
standards: [IEC 60687]
items:
  - id: acc.tiny
    family: accuracy
    clause: IEC 60687 Table 9
    pf: "1"
    measure: {settling_s: 1, repetitions: 2, target_s: 5}
    points:
      - {current: 0.1, limit: 0.5, confidence: H}
      - {current: 1.0, limit: 0.5, confidence: H}
"""


@pytest.fixture
def plan_dir(pytester: pytest.Pytester) -> Path:
    shutil.copy(ROOT / "testplans" / "test_accuracy.py", pytester.path / "test_accuracy.py")
    (pytester.path / "tiny.yaml").write_text(PLAN)
    return pytester.path


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "rig.pytest_plugin", "-p", "no:cacheprovider", *args)


def _measurements(runs: Path):
    with ResultsStore.in_runs_dir(runs) as store:
        run = store.list_runs()[-1]
        return run, store.measurements(run.run_id)


def test_options_are_in_one_group(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--help")
    result.stdout.fnmatch_lines(["*meter-test-rig*"])
    for option in ("--bench", "--plan", "--positions", "--meter-model", "--runs-dir",
                   "--resume", "--operator", "--decision-rule", "--defect", "--visa-library"):
        assert option in result.stdout.str()


def test_unknown_plan_is_a_usage_error(plan_dir: Path, pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--plan", "no-such-plan")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no such plan*"])


def test_plan_runs_records_every_point_and_writes_the_report(
    plan_dir: Path, pytester: pytest.Pytester
) -> None:
    runs = plan_dir / "runs"
    result = _run(pytester, "--plan", str(plan_dir / "tiny.yaml"), "--runs-dir", str(runs),
                  "--positions", "2", "--operator", "tester")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*estimated wall time on a real bench*", "*report:*report.html*"])
    run, rows = _measurements(runs)
    assert run.operator == "tester" and run.status == "completed"
    assert sorted((m.point["load"], m.position) for m in rows) == [
        (0.1, 1), (0.1, 2), (1.0, 1), (1.0, 2)]
    assert all(m.verdict == "pass" and abs(m.value) < 0.5 for m in rows)
    assert all(m.expanded_uncertainty and m.repetitions.n == 2 for m in rows)
    assert (runs / run.run_id / "report.html").exists()


def test_a_defective_meter_fails_only_its_region(plan_dir: Path, pytester: pytest.Pytester) -> None:
    runs = plan_dir / "runs"
    result = _run(pytester, "--plan", str(plan_dir / "tiny.yaml"), "--runs-dir", str(runs),
                  "--defect", "energy_gain_error:percent=1.5,i_min_in=0.05,i_max_in=0.2",
                  "--no-report")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*FAILED*acc.tiny-0.1In-import*"])
    result.stdout.fnmatch_lines(["*position 1 active energy error FAIL*"])


def test_lab_bench_refuses_simulator_options(plan_dir: Path, pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--plan", str(plan_dir / "tiny.yaml"),
                  "--bench", str(ROOT / "benches" / "fluke6105a-com5003.yaml"),
                  "--positions", "3", "--runs-dir", str(plan_dir / "runs"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--positions: for the simulated bench only*"])


def test_resume_keeps_completed_points(plan_dir: Path, pytester: pytest.Pytester) -> None:
    runs = plan_dir / "runs"
    _run(pytester, "--plan", str(plan_dir / "tiny.yaml"), "--runs-dir", str(runs),
         "--no-report").assert_outcomes(passed=2)
    run, first = _measurements(runs)
    result = _run(pytester, "--plan", str(plan_dir / "tiny.yaml"), "--runs-dir", str(runs),
                  "--resume", run.run_id, "--no-report")
    result.assert_outcomes(passed=2)
    _, again = _measurements(runs)
    # Nothing was measured again: the same rows, with the same ids and times.
    assert [(m.id, m.ended_at) for m in again] == [(m.id, m.ended_at) for m in first]


def test_sigkill_then_resume_has_every_measurement_once(plan_dir: Path) -> None:
    """A run killed with SIGKILL mid-plan, resumed: each point is in the store exactly once."""
    points = 60  # the plan's own point and 59 more
    runs = plan_dir / "runs"
    plan = plan_dir / "tiny.yaml"
    plan.write_text(PLAN.replace(
        "      - {current: 1.0, limit: 0.5, confidence: H}\n",
        # Many points: a point takes milliseconds on the simulated bench, and the kill must
        # land mid-plan however fast the machine.
        "".join(f"      - {{current: {0.2 + 0.02 * k:.2f}, limit: 1.0, confidence: H}}\n"
                for k in range(points - 1))))
    cmd = [sys.executable, "-m", "pytest", "-p", "rig.pytest_plugin", "-p", "no:cacheprovider",
           "-q", str(plan_dir / "test_accuracy.py"), "--plan", str(plan),
           "--runs-dir", str(runs), "--no-report"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=plan_dir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    store_file = runs / "results.sqlite"
    deadline = time.monotonic() + 120
    taken = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if store_file.exists():
                with sqlite3.connect(store_file) as db:
                    try:
                        taken = db.execute("SELECT COUNT(*) FROM measurement").fetchone()[0]
                    except sqlite3.OperationalError:
                        taken = 0
            if taken >= 3:
                break
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert 3 <= taken < points, f"the run was not killed mid-plan ({taken} measurements)"
    run, _ = _measurements(runs)
    resumed = subprocess.run([*cmd, "--resume", run.run_id], cwd=plan_dir, env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-2000:]
    _, rows = _measurements(runs)
    keys = [(m.test_id, m.position) for m in rows]
    assert len(keys) == points and len(set(keys)) == points


MODEL = '''
from meter.a1000 import A1000


class GainedMeter(A1000):
    """A firmware team's model: the A1000 with its own +2 % gain at every current."""

    def __init__(self, *args, defects=(), **kwargs):
        gain = {"name": "energy_gain_error", "percent": 2.0, "i_min_in": 0.0, "i_max_in": 100.0}
        super().__init__(*args, defects=[*defects, gain], **kwargs)
'''


def test_meter_model_option_plugs_in_another_model(
    plan_dir: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (plan_dir / "team_meter.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(plan_dir))
    result = _run(pytester, "--plan", str(plan_dir / "tiny.yaml"), "--runs-dir",
                  str(plan_dir / "runs"), "--meter-model", "team_meter:GainedMeter",
                  "--no-report")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*active energy error FAIL: 2.0*"])


LATE_SIGNAL_CONFTEST = '''
import os
import signal
import time

import reports.build


def _late(build):
    def build_report(*args, **kwargs):
        # The plan ran and the run was stored; the operator presses Ctrl-C now, while the
        # report is built (the plugin imports build_report when it builds).
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # Python runs the handler at its next bytecode
        return build(*args, **kwargs)
    return build_report


reports.build.build_report = _late(reports.build.build_report)
'''


def test_a_ctrl_c_after_the_run_was_stored_as_completed_stops_nothing(
    plan_dir: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A late SIGINT (the run stored as completed, the report being built) leaves the run
    completed, the report built and the exit status the run's own (0): not "run aborted" and
    exit 2, which told a lab's script the run had been stopped when it had not."""
    runs = plan_dir / "runs"
    (plan_dir / "conftest.py").write_text(LATE_SIGNAL_CONFTEST)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # this checkout's code in the subprocess
    result = pytester.runpytest_subprocess(
        "-p", "rig.pytest_plugin", "-p", "no:cacheprovider", "--plan",
        str(plan_dir / "tiny.yaml"), "--runs-dir", str(runs), "--positions", "1", "--no-pdf")
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.OK, out
    result.assert_outcomes(passed=2)
    assert "SIGINT received after the run was stored as completed: nothing was stopped" in out
    assert "run aborted" not in out
    run, rows = _measurements(runs)
    assert run.status == "completed" and len(rows) == 2
    assert (runs / run.run_id / "report.html").is_file()
