"""The stop watcher (rig.stopwatch) on a bench of fake instruments: it switches the source off
while the main thread is busy, waits for an exchange in progress, and nothing energises after
it. Time bounds are generous (a loaded machine); the figure is benchmarks/bench_stop.py's."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from rig.instruments.loadpoint import LoadPoint
from rig.safety import SafetyError, StopRequest, StopRequested
from rig.stopwatch import StopWatcher
from tests.rig.bench.fakes import FakeEC, FakeReference, FakeSource

ROOT = Path(__file__).resolve().parents[2]
GENEROUS_S = 10.0
POINT = LoadPoint.balanced(230, 5)


class LockedSource(FakeSource):
    """A FakeSource with an instrument's lock (rig.instruments.base.Instrument.lock) held by
    every call, and the thread of each call recorded."""

    def __init__(self, apply_s: float = 0.0, **kw) -> None:
        super().__init__(**kw)
        self.lock = threading.RLock()
        self.apply_s = apply_s  # how long an apply's exchange takes
        self.threads: list[tuple[str, str]] = []  # (call, thread name)

    def _record(self, *call):
        with self.lock:
            self.threads.append((call[0], threading.current_thread().name))
            super()._record(*call)

    def apply(self, point):
        with self.lock:
            self.threads.append(("apply begins", threading.current_thread().name))
            time.sleep(self.apply_s)  # an exchange in progress: its reply not yet read
            super().apply(point)


@pytest.fixture
def make_bench():
    """Benches of fake instruments; each is de-energised at the end of the test, so its
    signal handlers and exit hook never outlive it, and its watcher is ended."""
    from rig.bench import Bench, load_bench_file

    made = []

    def make(source):
        config = load_bench_file(ROOT / "benches" / "sim.yaml")
        bench = Bench(config, source, FakeReference(), {1: FakeEC(1)}, sleep=lambda s: None)
        made.append(bench)
        return bench

    yield make
    for bench in made:
        bench.stop_outcome()
        with contextlib.suppress(SafetyError):
            bench.de_energise()


def busy_until(done, seconds: float) -> float:
    """Compute (no wait, no stop check) until `done()` or `seconds` pass; the time it took."""
    start = time.monotonic()
    n = 0
    while not done() and time.monotonic() - start < seconds:
        n = (n * 31 + 7) % 1_000_003
    return time.monotonic() - start


def test_a_signal_while_the_main_thread_computes_switches_off_from_the_watcher(make_bench):
    before = signal.getsignal(signal.SIGINT)  # restored at the end, whatever it was
    source = LockedSource()
    bench = make_bench(source)
    bench.energise(POINT)  # installs the stop request's handlers (ExitGuard)
    watcher = bench.watch_stop()
    try:
        os.kill(os.getpid(), signal.SIGINT)  # handled in this thread, which goes on computing
        took = busy_until(lambda: watcher.outcome is not None, GENEROUS_S)
        assert took < GENEROUS_S  # off while this thread never looked at the stop request
        assert bench.stop.reason == "SIGINT received"
        outcome = bench.stop_outcome()
        assert outcome is not None and outcome.verified_off, outcome
        assert bench.stop.at <= outcome.started_at <= outcome.ended_at
        assert not source.on and not bench.energised
        # Ramped to zero, switched off and read back, all by the watcher's thread.
        assert source.calls[-3:] == [("apply", (0.0, 0.0, 0.0)), ("output_off",), ("is_on",)]
        assert {t for c, t in source.threads[-3:]} == {"rig-stop-watcher"}
        assert not watcher.running
    finally:
        bench.de_energise()  # restores the handlers
    assert signal.getsignal(signal.SIGINT) is before


def test_the_watcher_waits_for_an_exchange_in_progress_then_nothing_energises(make_bench):
    source = LockedSource(apply_s=0.3)
    bench = make_bench(source)
    bench.energise(POINT)
    bench.watch_stop()
    errors: list[BaseException] = []

    def main_thread_work():  # a new load point going out when the stop comes
        try:
            bench.energise(LoadPoint.balanced(230, 2))
            bench.energise(LoadPoint.balanced(230, 1))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=main_thread_work, name="plan")
    worker.start()
    deadline = time.monotonic() + GENEROUS_S
    while ("apply begins", "plan") not in source.threads and time.monotonic() < deadline:
        time.sleep(0.001)  # until the plan's exchange has begun
    bench.stop.request("SIGTERM received")
    worker.join(GENEROUS_S)
    outcome = bench.stop_outcome()
    assert outcome is not None and outcome.verified_off
    threads = [t for _, t in source.threads]
    first = threads.index("rig-stop-watcher")
    # The exchange in progress ended (its reply read) before the switch-off began ...
    assert source.threads[first - 2:first] == [("apply begins", "plan"), ("apply", "plan")]
    assert [c for c, _ in source.threads[first:]] == [
        "apply begins", "apply", "output_off", "is_on"]  # currents to zero, off, read back
    # ... and the second load point was never sent: energise refused after the stop.
    assert len(errors) == 1 and isinstance(errors[0], StopRequested)
    assert threads[first:] == ["rig-stop-watcher"] * 4
    assert not source.on


def test_energise_after_the_watcher_switched_off_sends_nothing(make_bench):
    source = LockedSource()
    bench = make_bench(source)
    bench.energise(POINT)
    bench.watch_stop()
    bench.stop.request("SIGINT received")
    outcome = bench.stop_outcome()
    assert outcome is not None and outcome.verified_off
    sent = list(source.calls)
    with pytest.raises(StopRequested):
        bench.energise(POINT)
    assert source.calls == sent  # refused before anything is sent
    assert not source.on


def test_a_source_that_stays_on_is_an_outcome_with_the_reason(make_bench):
    source = LockedSource(stays_on=True)
    bench = make_bench(source)
    bench.energise(POINT)
    bench.watch_stop()
    bench.stop.request("SIGTERM received")
    outcome = bench.stop_outcome()
    assert outcome is not None and not outcome.verified_off
    assert "output still ON" in outcome.error


def test_a_second_signal_during_the_switch_off_is_recorded_and_the_verification_runs(
    make_bench,
):
    class SlowOff(LockedSource):
        def output_off(self):
            with self.lock:
                time.sleep(0.3)  # the second Ctrl-C comes while the switch-off runs
                super().output_off()

    source = SlowOff()
    bench = make_bench(source)
    bench.energise(POINT)
    watcher = bench.watch_stop()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + GENEROUS_S
        while ("apply", "rig-stop-watcher") not in source.threads:  # switch-off under way
            assert time.monotonic() < deadline
            time.sleep(0.001)
        os.kill(os.getpid(), signal.SIGINT)
        busy_until(lambda: watcher.outcome is not None, GENEROUS_S)
        outcome = bench.stop_outcome()
    finally:
        bench.de_energise()
    assert outcome is not None and outcome.verified_off
    assert [name for name, _ in bench.stop.repeated] == ["SIGINT"]
    assert ("is_on", "rig-stop-watcher") in source.threads


def test_without_a_stop_finish_ends_the_watcher_and_reports_nothing():
    stop = StopRequest()
    switched: list[str] = []
    watcher = StopWatcher(stop, lambda: switched.append("off")).start()
    assert watcher.running
    assert watcher.finish() is None
    assert not watcher.running and switched == []
    stop.request("late")  # after finish: the watcher is gone, nothing happens
    assert switched == [] and stop.listeners == []


def test_a_stop_requested_before_the_watcher_starts_is_acted_on():
    stop = StopRequest()
    stop.request("SIGTERM received")
    switched: list[str] = []
    watcher = StopWatcher(stop, lambda: switched.append("off")).start()
    outcome = watcher.finish()
    assert switched == ["off"]
    assert outcome is not None and outcome.verified_off and outcome.reason == "SIGTERM received"
