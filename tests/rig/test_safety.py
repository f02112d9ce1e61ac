"""safe_off and the exit guard, including SIGTERM and interpreter exit in a real subprocess."""

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from rig.instruments.loadpoint import LoadPoint
from rig.safety import (
    SafetyError,
    StopRequest,
    StopRequested,
    ramp_currents_to_zero,
    safe_off,
)
from tests.rig.bench.fakes import FakeSource

ROOT = Path(__file__).resolve().parents[2]


def test_ramp_without_rate_is_one_step():
    source = FakeSource()
    ramp_currents_to_zero(source, LoadPoint.balanced(230, 5), None, lambda s: None)
    assert source.calls == [("apply", (0.0, 0.0, 0.0))]


def test_ramp_of_voltage_only_point_sends_nothing():
    source = FakeSource()
    ramp_currents_to_zero(source, LoadPoint.voltage_only(230), 1.0, lambda s: None)
    assert source.calls == []


def test_safe_off_switches_off_even_if_the_ramp_fails():
    source = FakeSource(fail_on={"apply"})
    source.on = True
    safe_off(source, LoadPoint.balanced(230, 5), None, lambda s: None)
    assert source.calls[-2:] == [("output_off",), ("is_on",)]


def test_safe_off_raises_if_output_stays_on():
    source = FakeSource(stays_on=True)
    source.on = True
    with pytest.raises(SafetyError, match="still ON"):
        safe_off(source, None, None, lambda s: None)


def test_safe_off_raises_if_state_cannot_be_read_back():
    source = FakeSource(fail_on={"is_on"})
    with pytest.raises(SafetyError, match="cannot read back"):
        safe_off(source, None, None, lambda s: None)


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from rig.bench import Bench, load_bench_file
    from rig.instruments.loadpoint import LoadPoint
    from rig.timebase import WallTimebase
    from tests.rig.bench.fakes import FakeEC, FakeReference, FakeSource

    config = load_bench_file(Path({root!r}) / "benches" / "sim.yaml")
    source = FakeSource(record_file={record!r})
    bench = Bench(config, source, FakeReference(), {{1: FakeEC(1)}}, sleep=lambda s: None)
    mode = sys.argv[1]
    if mode == "atexit":
        bench.energise(LoadPoint.balanced(230, 5))
        print("ready", flush=True)
        sys.exit(0)  # no with-block: only the atexit hook can de-energise
    with bench:
        bench.energise(LoadPoint.balanced(230, 5))
        print("ready", flush=True)
        WallTimebase(progress=False, stop=bench.stop).dwell(20)
    """)


def run_child(tmp_path, mode, signal_to_send=None):
    record = tmp_path / "calls.txt"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(root=str(ROOT), record=str(record)))
    proc = subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        if signal_to_send is not None:
            proc.send_signal(signal_to_send)
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, record.read_text().splitlines()


@pytest.mark.parametrize("sig_name", ["SIGTERM", "SIGINT"])
def test_signal_to_own_process_de_energises(tmp_path, sig_name):
    import signal

    sig = getattr(signal, sig_name)
    start = time.monotonic()
    code, calls = run_child(tmp_path, "with", sig)
    assert time.monotonic() - start < 20  # did not wait for the child's own deadline
    assert calls[:2] == ["('apply', (5.0, 5.0, 5.0))", "('output_on',)"]
    assert calls[-3:] == ["('apply', (0.0, 0.0, 0.0))", "('output_off',)", "('is_on',)"]
    assert code != 0


def test_interpreter_exit_without_with_block_de_energises(tmp_path):
    code, calls = run_child(tmp_path, "atexit")
    assert code == 0
    assert calls[-3:] == ["('apply', (0.0, 0.0, 0.0))", "('output_off',)", "('is_on',)"]


def test_interrupted_ramp_down_still_switches_off_then_reraises():
    source = FakeSource()
    source.on = True

    def interrupted_sleep(seconds):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        safe_off(source, LoadPoint.balanced(230, 5), 1.0, interrupted_sleep)
    assert source.calls == [("output_off",), ("is_on",)]
    assert source.on is False


# --- the stop request -------------------------------------------------------------------------


def test_a_signal_sets_the_stop_request_and_raises_nothing():
    import os
    import signal

    # What was there before (SIG_IGN when the suite runs in the background, e.g. under nohup).
    before = signal.getsignal(signal.SIGINT)
    stop = StopRequest()
    seen = []
    stop.listeners.append(seen.append)
    assert stop.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # handled between bytecodes: no exception here
        time.sleep(0.01)
        assert stop.requested and stop.signal == signal.SIGTERM
        assert seen == ["SIGTERM received"]
        os.kill(os.getpid(), signal.SIGINT)  # a second signal is recorded, changes nothing
        time.sleep(0.01)
        assert stop.reason == "SIGTERM received"
        assert [name for name, _ in stop.repeated] == ["SIGINT"]
        with pytest.raises(StopRequested, match="SIGTERM received"):
            stop.check()
    finally:
        stop.uninstall()
    assert signal.getsignal(signal.SIGINT) is before


def test_stop_wait_wakes_at_once():
    stop = StopRequest()
    threading.Timer(0.05, stop.request, args=("operator",)).start()
    start = time.monotonic()
    with pytest.raises(StopRequested):
        stop.wait(3600.0)
    assert time.monotonic() - start < 10  # not the hour asked (generous: loaded machine)


def test_bench_energises_nothing_after_a_stop_request():
    source = FakeSource()
    bench = _fake_bench(source)
    bench.stop.request("operator")
    with pytest.raises(StopRequested):
        bench.energise(LoadPoint.balanced(230, 5))
    assert source.calls == []


def test_stop_during_ramp_up_ramps_down_from_where_it_stood_and_verifies_off():
    source = FakeSource()
    bench = _fake_bench(source, current_ramp_rate=1.0)
    steps = []

    def sleep(seconds):
        steps.append(seconds)
        if len(steps) == 3:
            bench.stop.request("SIGINT received")

    bench.sleep = sleep
    with pytest.raises(StopRequested):
        bench.energise(LoadPoint.balanced(230, 5), ramp=True)
    applied = [c[1][0] for c in source.calls if c[0] == "apply"]
    # 0 A, then two of ten steps up (0.5 A, 1 A) before the stop; back down from 1 A.
    assert applied[:3] == [0.0, 0.5, 1.0]
    assert applied[-1] == 0.0 and max(applied) == 1.0
    assert source.calls[-2:] == [("output_off",), ("is_on",)]
    assert not bench.energised


def _fake_bench(source, current_ramp_rate=None):
    from rig.bench import Bench, load_bench_file
    from tests.rig.bench.fakes import FakeEC, FakeReference

    config = load_bench_file(ROOT / "benches" / "sim.yaml")
    safety = config.safety.model_copy(update={"current_ramp_rate": current_ramp_rate})
    config = config.model_copy(update={"safety": safety})
    return Bench(config, source, FakeReference(), {1: FakeEC(1)}, sleep=lambda s: None)


def test_a_second_signal_while_de_energising_is_recorded_and_the_verification_still_runs():
    import os
    import signal

    class SignalledSource(FakeSource):
        def output_off(self):
            os.kill(os.getpid(), signal.SIGINT)  # the operator presses Ctrl-C again here
            time.sleep(0.01)
            super().output_off()

    before = signal.getsignal(signal.SIGINT)  # restored at the end, whatever it was
    source = SignalledSource()
    bench = _fake_bench(source)
    bench.energise(LoadPoint.balanced(230, 5))  # installs the stop request's handlers
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.01)
    assert bench.stop.reason == "SIGINT received"
    bench.de_energise()  # raises nothing: the second Ctrl-C interrupts nothing
    assert source.calls[-2:] == [("output_off",), ("is_on",)]
    assert [name for name, _ in bench.stop.repeated] == ["SIGINT"]
    assert signal.getsignal(signal.SIGINT) is before  # restored
