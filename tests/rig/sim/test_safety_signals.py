"""Safety measured on the simulated source: a controller mid-dwell is interrupted (SIGINT),
terminated (SIGTERM) or killed (SIGKILL with the source watchdog armed). One run each here;
benchmarks/bench_sim.py repeats each 10 times."""

from __future__ import annotations

import signal
import sys

import pytest

from rig.sim import SimBench
from rig.sim.safetycheck import run_once
from tests.rig.sim.conftest import REPO, SIM_BENCH

CHILD = [sys.executable, "-m", "tests.rig.sim.controller_child"]
WATCHDOG_S = 1.0
GENEROUS_S = 10.0  # a loaded machine; the figure is benchmarks/bench_stop.py's


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_dwell_switches_the_source_off_within_1s(sig: signal.Signals) -> None:
    with SimBench(SIM_BENCH) as sim:
        r = run_once(sim, [*CHILD, str(sim.bench_file)], sig, cwd=str(REPO))
        assert r.off_after_s < 1.0, r
        assert r.why != "watchdog"             # the controller itself switched it off
        assert not sim.control.output_on()
        assert r.child_exit != 0               # interrupted, not a normal end


def test_sigkill_with_watchdog_armed_switches_off_within_the_watchdog_time() -> None:
    with SimBench(SIM_BENCH, sim_options={"source": {"watchdog_s": WATCHDOG_S}}) as sim:
        r = run_once(sim, [*CHILD, str(sim.bench_file)], signal.SIGKILL, cwd=str(REPO))
        assert r.why == "watchdog"
        # The watchdog counts from the last command the source RECEIVED; a query the child
        # wrote just before it died may be read a few ms after the kill. Allow that, no more.
        assert r.off_after_s <= WATCHDOG_S + 0.05, r
        assert r.child_exit == -signal.SIGKILL
        assert sim.control.source()["tripped"] == "watchdog"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_controller_computes_switches_off_through_the_stop_watcher(
    sig: signal.Signals,
) -> None:
    # The child computes for a minute after energising and looks at nothing: only the stop
    # watcher's thread can switch off before then. It is still computing when the source goes
    # off, so run_once kills it after waiting GENEROUS_S for its exit.
    with SimBench(SIM_BENCH) as sim:
        r = run_once(sim, [*CHILD, str(sim.bench_file), "compute"], sig, cwd=str(REPO),
                     off_timeout_s=GENEROUS_S)
        assert r.why != "watchdog", r  # the rig switched it off, not the 5 s watchdog
        assert r.off_after_s < GENEROUS_S, r
        assert not sim.control.output_on()
        assert r.child_exit == -signal.SIGKILL, r  # still computing: not the main thread's stop
