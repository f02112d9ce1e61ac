"""Stopping the full plan with real signals in real subprocesses (tests/rig/stoprun.py), then
resuming it; and stopping or killing a rig on a wall-clock served bench
(`python -m rig.sim serve --realtime`).

One try of each signal here, at a random moment of the full plan (the moment is printed on
failure); benchmarks/bench_stop.py makes 20 tries of each and reports the times. Time bounds
are generous (the machine running the suite is loaded); the benchmark measures.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rig.sim.control import SimControl
from tests.rig.stoprun import (
    OFF_VERIFIED,
    REPO,
    measurement_keys,
    plan_command,
    report_of,
    resume,
    run_record,
    stop_problems,
    stop_run,
)

GENEROUS_S = 10.0  # signal -> source verified off (the target is 2 s: benchmarked)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_at_a_random_moment_stops_the_plan_safely_and_resume_completes_it_once(
    tmp_path: Path, sig: signal.Signals
) -> None:
    runs = tmp_path / "runs"
    delay = random.uniform(0.0, 6.0)
    # SIGINT: the operator presses Ctrl-C twice; the second is reported, changes nothing.
    r = stop_run(runs, sig, delay, again_after_s=0.05 if sig == signal.SIGINT else None)
    if r.finished_first:  # the loaded machine ran the whole plan first: stop it earlier
        r = stop_run(runs, sig, 0.5)
    assert not stop_problems(r, GENEROUS_S), (
        f"{stop_problems(r, GENEROUS_S)}; signal {r.sent_after_s:.2f} s into the run; "
        f"output:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    if sig == signal.SIGINT:
        assert "SIGINT again while stopping" in r.stdout
    before = measurement_keys(runs, r.run_id)

    done = resume(runs, r.run_id)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    run_id, status, _ = run_record(runs)
    assert (run_id, status) == (r.run_id, "completed")
    after = measurement_keys(runs, r.run_id)
    assert set(before) <= set(after)
    assert all(n == 1 for n in after.values()), {k: n for k, n in after.items() if n != 1}
    doc, _ = report_of(runs, r.run_id)
    # Every point started has its result: nothing of the plan is missing after the resume.
    assert doc["incomplete"] is False, doc["incomplete_reasons"]


# --- a wall-clock served bench ------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path):
    """`python -m rig.sim serve --realtime` on benches/sim.yaml: (bench file, control)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig.sim", "serve", "--bench", "benches/sim.yaml", "--realtime"],
        cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if line.strip() == "ready":
                break
        described = dict(line.split(" = ", 1) for line in lines if " = " in line)
        with SimControl(described["control"]) as control:
            yield Path(described["bench file"]), control
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def start_and_wait_energised(bench_file: Path, control: SimControl, runs: Path
                             ) -> subprocess.Popen:
    proc = subprocess.Popen(plan_command(runs, "--bench", str(bench_file), "--plan", "smoke"),
                            cwd=REPO, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not control.output_on():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the rig never energised the served bench"
        time.sleep(0.05)  # polling the simulator for the rig's first energising
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_a_rig_on_a_wall_clock_served_bench_leaves_the_source_off(
    served, tmp_path: Path, sig: signal.Signals
) -> None:
    bench_file, control = served
    proc = start_and_wait_energised(bench_file, control, tmp_path / "runs")
    time.sleep(random.uniform(0.0, 1.0))
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, out[-3000:] + err[-2000:]
    state = control.source()
    assert not control.output_on()
    assert state["tripped"] is None, state  # switched off by the rig, not its watchdog
    _, status, events = run_record(tmp_path / "runs")
    assert status == "aborted"
    assert OFF_VERIFIED in [m for _, _, m in events]


def test_sigkill_of_a_rig_on_a_wall_clock_served_bench_trips_the_watchdog(
    served, tmp_path: Path
) -> None:
    bench_file, control = served
    watchdog_s = control.source()["watchdog"]["timeout_s"]
    assert watchdog_s > 0  # benches/sim.yaml arms it by default
    proc = start_and_wait_energised(bench_file, control, tmp_path / "runs")
    proc.kill()
    killed = time.monotonic()
    proc.communicate(timeout=60)
    while control.output_on():
        assert time.monotonic() - killed < watchdog_s + GENEROUS_S, "the source stayed on"
        time.sleep(0.05)  # polling the simulator until its watchdog trips
    assert control.source()["tripped"] == "watchdog"
