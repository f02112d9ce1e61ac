"""The simulated bench in a process of its own (`--sim-process yes`, rig.served.spawn): it
starts with everything the in-process one gets, the run is the simulated run, and the child
never outlives the rig: closed with the session, after a failed start, on Ctrl-C at the
terminal and when the rig is killed with SIGKILL."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

import rig.session
from rig.safety import StopRequest, StopRequested
from rig.served import ServedBenchError, spawn
from rig.session import SIM_BENCH_FILE, RigSession, SessionOptions
from tests.rig.stoprun import OFF_VERIFIED, plan_command, run_record

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

GONE_WITHIN_S = 60.0  # generous: the machine may be loaded many times over
SERVED_BY = re.compile(r"simulated bench served by process (\d+)")


def _gone(pid: int) -> bool:
    """The process has ended (absent, or a zombie nobody has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + GONE_WITHIN_S
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return _gone(pid)


def _started(opts: SessionOptions) -> RigSession:
    session = RigSession(opts)
    session.start()
    return session


def test_the_session_serves_the_simulated_bench_in_a_child_and_ends_it_on_close(
    tmp_path: Path,
) -> None:
    session = _started(SessionOptions(plan="smoke", runs_dir=tmp_path, positions=2,
                                      sim_process="yes"))
    try:
        pid = session.sim.pid
        assert pid is not None and pid != os.getpid() and not _gone(pid)
        # The rig drives the child's virtual time and reads its meters through the bench file
        # it printed: both positions identified themselves in the readout.
        before = session.timebase.now()
        session.timebase.dwell(30.0)
        assert session.timebase.now() == pytest.approx(before + 30.0)
        assert session.store is not None and session.run is not None
        positions = session.store.positions(session.run.run_id)
        assert [p.position for p in positions] == [1, 2]
        assert all(p.serial for p in positions), positions
        assert any(SERVED_BY.search(e.message) for e in session.store.events(session.run.run_id))
    finally:
        session.close()
    assert _gone(pid)  # reaped by the session: no zombie either


def test_no_serves_it_in_the_rig_process_and_auto_follows_the_positions_and_the_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(rig.session.SIM_PROCESS_ENV, raising=False)
    assert not SessionOptions(sim_process="no", positions=12).sim_in_child
    assert SessionOptions(sim_process="yes").sim_in_child
    monkeypatch.setattr(rig.session, "SIM_PROCESS_AUTO_POSITIONS", None)  # as measured: never
    assert not SessionOptions(positions=99).sim_in_child
    monkeypatch.setattr(rig.session, "SIM_PROCESS_AUTO_POSITIONS", 6)
    monkeypatch.setattr(rig.session, "spare_core", lambda: True)
    assert not SessionOptions(positions=5).sim_in_child
    assert SessionOptions(positions=6).sim_in_child
    assert not SessionOptions(positions=6, sim_process="no").sim_in_child
    monkeypatch.setattr(rig.session, "spare_core", lambda: False)  # a busy machine
    assert not SessionOptions(positions=6).sim_in_child
    assert SessionOptions(positions=6, sim_process="yes").sim_in_child


def test_the_environment_pins_auto_and_a_wrong_value_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rig.session, "spare_core", lambda: True)
    monkeypatch.setenv(rig.session.SIM_PROCESS_ENV, "no")
    assert not SessionOptions(positions=12).sim_in_child
    assert SessionOptions(positions=12, sim_process="yes").sim_in_child  # the option wins
    monkeypatch.setenv(rig.session.SIM_PROCESS_ENV, "yes")
    assert SessionOptions(positions=1).sim_in_child
    monkeypatch.setenv(rig.session.SIM_PROCESS_ENV, "maybe")
    with pytest.raises(rig.session.SessionError, match="METER_TEST_RIG_SIM_PROCESS='maybe'"):
        _ = SessionOptions(positions=1).sim_in_child


def test_a_core_is_spare_when_about_one_was_idle_just_now(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert rig.session.spare_core(idle=0.9, cpus=2)  # the rig busy on one of two cores
    assert not rig.session.spare_core(idle=0.3, cpus=2)  # other work on the machine
    assert not rig.session.spare_core(idle=1.0, cpus=1)  # one core: nothing runs beside
    monkeypatch.setattr(rig.session, "idle_cores", lambda: None)  # no /proc/stat
    assert not rig.session.spare_core(cpus=2)  # unknown: not free
    monkeypatch.undo()
    measured = rig.session.idle_cores(0.05)
    if measured is not None:  # Linux: a share of the machine's cores
        assert 0.0 <= measured <= (os.cpu_count() or 1) + 1e-9


def test_a_lab_bench_refuses_the_option() -> None:
    problem = rig.session.simulator_only_problem(SessionOptions(bench="lab.yaml",
                                                                sim_process="yes"))
    assert problem.startswith("--sim-process: for the simulated bench only")


def test_a_failure_in_start_after_the_child_started_ends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("instrument cable pulled")

    monkeypatch.setattr(rig.session.Bench, "open", broken)
    session = RigSession(SessionOptions(plan="smoke", runs_dir=tmp_path, sim_process="yes"))
    with pytest.raises(OSError, match="cable pulled"):
        session.start()
    assert session.sim is not None and session.sim.pid is not None
    assert _gone(session.sim.pid)


def test_a_child_that_cannot_build_its_meters_fails_the_start_with_its_reason(
    tmp_path: Path,
) -> None:
    session = RigSession(SessionOptions(plan="smoke", runs_dir=tmp_path, sim_process="yes",
                                        meter_model="no_such_package.meters:Meter"))
    with pytest.raises(ServedBenchError, match=r"exit status 2: .*no_such_package"):
        session.start()


def test_a_child_silent_past_the_time_out_is_ended() -> None:
    with ExitStack() as stack, pytest.raises(ServedBenchError) as caught:
        spawn(SIM_BENCH_FILE, stack, timeout_s=0.0)
    assert "did not say 'ready' within 0 s" in str(caught.value)
    pid = int(re.search(r"pid (\d+)", str(caught.value)).group(1))
    assert _gone(pid)  # the stack has closed: ended and reaped


def test_a_stop_while_the_child_starts_ends_it() -> None:
    stop = StopRequest()
    stop.request("operator pressed Ctrl-C")
    with ExitStack() as stack, pytest.raises(StopRequested):
        spawn(SIM_BENCH_FILE, stack, stop=stop, timeout_s=60.0)


def test_a_plan_with_defects_runs_as_on_the_in_process_bench(pytester: pytest.Pytester) -> None:
    """The child gets the meters' defects (here on position 2 only) and a plugged meter model
    (imported there by the import path given here): the results are the in-process run's."""
    from tests.rig.test_pytest_plugin import PLAN

    shutil.copy(ROOT / "testplans" / "test_accuracy.py", pytester.path / "test_accuracy.py")
    (pytester.path / "tiny.yaml").write_text(PLAN)
    args = ["-p", "rig.pytest_plugin", "-p", "no:cacheprovider", "--plan",
            str(pytester.path / "tiny.yaml"), "--positions", "2", "--no-report",
            "--defect", "2=energy_gain_error:percent=1.5,i_min_in=0.05,i_max_in=0.2"]
    outcomes = {}
    for mode in ("yes", "no"):
        result = pytester.runpytest(*args, "--runs-dir", str(pytester.path / mode),
                                    "--sim-process", mode)
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(["*position 2 active energy error FAIL*"])
        outcomes[mode] = [line for line in result.outlines if "FAIL" in line]
    assert outcomes["yes"] == outcomes["no"]


def _served_pid(runs_dir: Path, proc: subprocess.Popen) -> int:
    """The child's pid from the run log, once the run has started."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        _, _, events = run_record(runs_dir) if (runs_dir / "results.sqlite").exists() else (
            None, None, [])
        for _, _, message in events:
            found = SERVED_BY.search(message)
            if found:
                return int(found.group(1))
        time.sleep(0.1)
    out, err = proc.communicate(timeout=60)
    pytest.fail(f"the run did not log its simulated bench's process: {out[-2000:]} {err[-2000:]}")


def _plan(runs_dir: Path) -> subprocess.Popen:
    """The smoke plan on 2 positions in a child process, in a session of its own (its process
    group stands for a terminal's foreground job)."""
    return subprocess.Popen(plan_command(runs_dir, "--plan", "smoke", "--positions", "2",
                                         "--sim-process", "yes", "--no-report"),
                            cwd=ROOT, text=True, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_ctrl_c_at_the_terminal_switches_the_source_off_through_the_child_then_ends_it(
    tmp_path: Path,
) -> None:
    proc = _plan(tmp_path)
    try:
        pid = _served_pid(tmp_path, proc)
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does: the whole foreground job
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    _, status, events = run_record(tmp_path)
    messages = [m for _, _, m in events]
    if status == "completed":
        pytest.skip("the plan ended before the signal came")
    # The child was not in the job: it served the switch-off the stop needs, then ended.
    assert proc.returncode == 2, out[-3000:] + err[-3000:]
    assert status == "aborted"
    assert OFF_VERIFIED in messages, messages
    assert _wait_gone(pid)


def test_sigkill_of_the_rig_ends_the_child(tmp_path: Path) -> None:
    proc = _plan(tmp_path)
    try:
        pid = _served_pid(tmp_path, proc)
        assert not _gone(pid)
        proc.kill()
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # Its standard input's other end died with the rig: it stops serving and exits.
    assert _wait_gone(pid), f"the simulated bench's process {pid} outlived the rig"
