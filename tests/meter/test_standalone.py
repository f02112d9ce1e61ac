"""`python -m meter serve --control/--programming/--speed`: a head-end drives the standalone
meter over TCP and a pty with a real client session (sign-on, P1, W1 of the time, R1 back)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from meter.a1000.config import default_config
from meter.control import ControlError, MeterControl
from meter.iec62056_21.client import Client
from meter.iec62056_21.errors import MeterError
from meter.standalone import StandaloneMeter

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def _serve(state: Path, *args: str) -> Iterator[tuple[str, str]]:
    """The meter's port and control address (the first two lines of stdout)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "meter", "serve", "--state", str(state),
         "--control", "127.0.0.1:0", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        control = proc.stdout.readline().strip()
        assert control.startswith("control "), proc.stderr.read() if proc.stderr else ""
        yield port, control.split()[1]
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0  # SIGTERM: saved and exited cleanly
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "meter", "control", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _seconds(hhmmss: str) -> int:
    t = dt.datetime.strptime(hhmmss, "%H%M%S")
    return t.hour * 3600 + t.minute * 60 + t.second


def _write_time_and_read_back(url: str, speed: float) -> None:
    with Client(url) as c:
        c.program("00000000")  # sign-on, option select 1, P0, P1
        start = time.monotonic()
        c.write("0.9.1", "120000")
        back = c.read("0.9.1")[0].raw
        wall = time.monotonic() - start
    # The clock was set to 12:00:00 and ran on at `speed` x the wall clock until the R1.
    assert 0 <= _seconds(back) - _seconds("120000") <= wall * speed + 2


def test_tcp_head_end_session_with_programming_and_speed(tmp_path: Path) -> None:
    speed = 60.0
    with _serve(tmp_path, "--tcp", "127.0.0.1:0", "--programming", "--speed", str(speed)) \
            as (port, control):
        _write_time_and_read_back(f"socket://{port}", speed)
        with MeterControl(control) as c:
            t0, w0 = c.time(), time.time()
            time.sleep(1.0)
            t1, w1 = c.time(), time.time()
            # --speed 60: the meter's time runs 60 x the wall clock (generous bounds).
            assert 0.8 * speed <= (t1 - t0) / (w1 - w0) <= 1.2 * speed
            assert c.meter("in_programming") is True
        assert _cli(control, "press", "reset") == ""  # a press leaves programming
        assert '"in_programming": false' in _cli(control, "state")


def test_pty_head_end_enters_programming_through_the_control_cli(tmp_path: Path) -> None:
    with _serve(tmp_path, "--pty", "--speed", "10") as (port, control):
        assert port.startswith("/dev/")
        with Client(port) as c:
            c.program("00000000")
            with pytest.raises(MeterError, match="PROGRAMMING STATE"):
                c.write("0.9.1", "120000")  # seal closed, no button: refused
        _cli(control, "seal", "open")
        assert _cli(control, "press", "reset", "--hold", "8") == "true"
        assert "PRG" in _cli(control, "display")
        _write_time_and_read_back(port, 10.0)


def _standalone(tmp_path: Path, **kw: object) -> StandaloneMeter:
    return StandaloneMeter(default_config(), tmp_path, **kw)  # type: ignore[arg-type]


def test_control_operations_reach_the_meter(tmp_path: Path) -> None:
    s = _standalone(tmp_path, speed=1000.0)
    try:
        # One phase changed: L2 at 230 V, 5 A lagging 60 degrees; the others keep the load.
        got = s.call({"op": "inputs", "phase": 2, "u": 230.0, "i": 5.0, "i_angle": -180.0})
        assert got["phases"][1] == {"u": 230.0, "u_angle": -120.0, "i": 5.0, "i_angle": -180.0}
        m = s.meter
        assert m.measurements.phases[1].p == pytest.approx(230 * 5 * 0.5)
        s.call({"op": "inputs", "frequency": 49.5})
        assert m.measurements.frequency == 49.5
        s.call({"op": "meter", "action": "condition", "name": "spi"})
        assert s.call({"op": "meter", "action": "error_register"}) & 0x80
        time.sleep(0.2)  # 200 s of meter time at speed 1000
        pulses = s.call({"op": "pulses"})
        assert pulses["active_import"] > 0 and set(pulses) >= {"led_active", "reactive_q3q4"}
        assert "err2" in s.call({"op": "display"})  # the LCD shows the error (manual 2.1.2)
        names = s.call({"op": "meter", "action": "defect", "defects": ["fast_clock"]})
        assert names == ["fast_clock"] and s.meter is not m
        # The swapped-in meter carries the state over and the pulse counts go on from there.
        assert s.call({"op": "pulses"})["active_import"] >= pulses["active_import"]
        assert s.meter.inputs.frequency == 49.5
        for bad, why in (({"op": "nope"}, "unknown op"),
                         ({"op": "inputs", "u": float("nan")}, "finite"),
                         ({"op": "inputs", "phase": 4, "u": 1.0}, "phase"),
                         ({"op": "meter", "action": "condition", "name": "x"}, "known"),
                         ({"op": "meter", "position": 2, "action": "powered"}, "position")):
            with pytest.raises((ControlError, ValueError, KeyError), match=why):
                s.call(bad)
    finally:
        s.close()


def test_programming_option_starts_in_prg_and_ends_after_four_meter_minutes(
    tmp_path: Path,
) -> None:
    s = _standalone(tmp_path, speed=1.0, start=1_767_225_600.0, programming=True)
    m = s.meter
    assert m.programming.seal_open and m.in_programming()
    # Manual 2.1.1: 4 minutes without a button end it, counted from the start.
    m.advance_to(1_767_225_600.0 + 239.0)
    assert m.in_programming()
    m.advance_to(1_767_225_600.0 + 240.0)
    assert not m.in_programming()
