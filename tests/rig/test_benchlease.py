"""Bench reservations in a shared PostgreSQL store: a second run refused naming the holder, a
killed holder's reservation gone, and `meter-test-rig benches` listing them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rig.benchlease import DatabaseBenchLease, database_benches
from rig.benchlock import BenchBusy, Holder
from rig.cli import main as cli_main

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]


def test_a_second_reservation_is_refused_naming_the_holder(pg_url):
    first = DatabaseBenchLease(pg_url, "lab A @ pc1: bench1.yaml", Holder(what="plan smoke"))
    with first:
        first.note_run("20261205T000000Z-abcdef")
        with pytest.raises(BenchBusy) as err:
            DatabaseBenchLease(pg_url, "lab A @ pc1: bench1.yaml", Holder()).acquire()
        text = str(err.value)
        assert f"pid {os.getpid()} since " in text and "(plan smoke)" in text
        assert "run 20261205T000000Z-abcdef" in text and "bench1.yaml" in text
        # Another bench of the lab is free.
        with DatabaseBenchLease(pg_url, "lab A @ pc1: bench2.yaml", Holder()):
            states = {b.bench: b for b in database_benches(pg_url)}
            assert set(states) == {"lab A @ pc1: bench1.yaml", "lab A @ pc1: bench2.yaml"}
            assert all(b.held for b in states.values())
    assert database_benches(pg_url) == []
    with DatabaseBenchLease(pg_url, "lab A @ pc1: bench1.yaml", Holder()):
        pass


def test_a_killed_holders_reservation_expires(pg_url):
    child = textwrap.dedent(f"""
        import time
        from rig.benchlease import DatabaseBenchLease
        from rig.benchlock import Holder
        lease = DatabaseBenchLease({pg_url!r}, "bench K", Holder(what="killed run"))
        lease.acquire()
        print("held", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(BenchBusy, match="killed run"):
            DatabaseBenchLease(pg_url, "bench K", Holder()).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    # The server ends the dead session when it reads the closed socket: at once, but give a
    # loaded machine time.
    deadline = time.monotonic() + 30
    while True:
        (state,) = database_benches(pg_url)
        if not state.held or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not state.held and "killed run" in state.holder
    with DatabaseBenchLease(pg_url, "bench K", Holder(what="next run")):
        (state,) = database_benches(pg_url)
        assert state.held and "next run" in state.holder


def test_benches_command_lists_holder_and_since(pg_url, capsys):
    with DatabaseBenchLease(pg_url, "lab B @ pc2: b.yaml", Holder(what="plan full")) as lease:
        lease.note_run("R1")
        assert cli_main(["benches", "--store", pg_url]) == 0
    out = capsys.readouterr().out
    assert "lab B @ pc2: b.yaml" in out
    assert f"held by {Holder().user}@" in out and " since 20" in out
    assert "(plan full), run R1" in out
    assert cli_main(["benches", "--store", pg_url]) == 0
    assert "no bench is reserved" in capsys.readouterr().out


def test_a_run_on_a_bench_reserved_in_the_store_is_refused(pg_url, tmp_path):
    """The plugin on a lab bench with --store: refused before any instrument is opened, naming
    the holder of the reservation (the lab bench file with meter ports that exist)."""
    from rig.bench.config import load_bench_file
    from rig.benchlease import bench_id

    text = (ROOT / "benches" / "fluke6105a-com5003.yaml").read_text(encoding="utf-8")
    for port in ("ttyUSB0", "ttyUSB1"):
        (tmp_path / port).write_text("")
        text = text.replace(f"/dev/{port}", str(tmp_path / port))
    bench = tmp_path / "bench.yaml"
    bench.write_text(text, encoding="utf-8")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
           str(ROOT / "testplans" / "test_accuracy.py"), "--plan", "smoke", "--bench",
           str(bench), "--store", pg_url, "--runs-dir", str(tmp_path / "runs"),
           "--lock-dir", str(tmp_path / "locks"), "--allow-overdue"]
    name = bench_id(load_bench_file(bench), bench)
    with DatabaseBenchLease(pg_url, name, Holder(what="the first run")):
        done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "bench in use" in out and "reserved by" in out and "(the first run)" in out, out
    assert "VisaIOError" not in out
