"""`python -m meter serve` as a real process: pty and TCP, SIGTERM, SIGKILL and restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import yaml

from meter.a1000.config import DEFAULT_CONFIG_PATH
from meter.a1000.store import CURRENT, StateStore
from meter.iec62056_21.client import Client

ROOT = Path(__file__).resolve().parents[3]
TICK_S = 1.0  # meter.standalone.TICK_S


def _poll(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def _serve(state: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "meter", "serve", "--state", str(state), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()  # the first line is the address
        assert address, proc.stderr.read() if proc.stderr else "no address"
        yield proc, address
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _saved(state: Path) -> dict | None:
    loaded = StateStore(state).load()
    return loaded.payload


def test_serve_pty_readout_and_clean_sigterm(tmp_path: Path) -> None:
    with _serve(tmp_path, "--pty") as (proc, address):
        assert address.startswith("/dev/")
        with Client(address) as c:
            by = {r.address: r for r in c.readout()}
        assert by["C.1.0"].raw == "000000000001"
        assert by["F.F"].raw == "00000000"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    payload = _saved(tmp_path)
    assert payload is not None and payload["energy"]["import"][0] != "0"


def test_sigkill_then_restart_keeps_registers_within_one_save_interval(tmp_path: Path) -> None:
    cfg = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    cfg["persistence"] = {"save_interval_s": 1.0}
    cfg["load"]["current_in"] = 2.0
    config = tmp_path / "meter.yaml"
    config.write_text(yaml.safe_dump(cfg))
    state = tmp_path / "state"
    with _serve(state, "--config", str(config), "--tcp", "127.0.0.1:0") as (proc, address):
        host, port = address.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        first = _poll(lambda: _saved(state), 10, "a first save")
        _poll(lambda: (s := _saved(state)) and s["saved_at"] > first["saved_at"], 10,
              "a periodic save")
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.time()
        proc.wait(timeout=10)
    loaded = StateStore(state).load()
    assert not loaded.damaged and loaded.payload is not None  # never a corrupt file
    last = loaded.payload
    kw = 3 * 57.7 * 1.0 * (3**0.5 / 2) / 1000  # 2 In = 1 A at 30 degrees
    lost_kwh = kw * (killed_at - last["saved_at"]) / 3600
    bound_kwh = kw * (1.0 + TICK_S + 0.5) / 3600  # save interval + server tick + slack
    assert lost_kwh <= bound_kwh
    # Restart on the same state: registers continue from the last save, no EEPROM error.
    with _serve(state, "--config", str(config), "--tcp", "127.0.0.1:0") as (proc, address):
        with Client(f"socket://{address}") as c:
            by = {r.address: r for r in c.readout()}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert by["F.F.2"].raw == "00000000"
    saved_kwh = float(Fraction(last["energy"]["import"][0]))
    assert float(by["1-1:1.8.0"].value) >= round(saved_kwh, 2) - 0.01
    assert json.loads((state / CURRENT).read_text())["payload"]["saved_at"] > last["saved_at"]
