"""One run per bench: the flock(2) bench lock, its holder record and its release."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rig.bench.config import load_bench_file
from rig.benchlock import BenchBusy, FileBenchLock, Holder, bench_names, lab_bench_lock

ROOT = Path(__file__).resolve().parents[2]
FLUKE = ROOT / "benches" / "fluke6105a-com5003.yaml"
MTE = ROOT / "benches" / "mte-pps4003-com5003.yaml"


def test_a_bench_is_known_by_its_resources_and_links() -> None:
    assert bench_names(load_bench_file(MTE)) == [
        "link /dev/ttyUSB2",  # two positions on one RS485 bus: one name
        "resource ASRL/dev/ttyS0::INSTR",
        "resource TCPIP::192.168.10.21::6320::SOCKET",
    ]


def test_second_run_is_refused_naming_the_holder_then_allowed_after_release(
    tmp_path: Path,
) -> None:
    config = load_bench_file(FLUKE)
    first = lab_bench_lock(config, tmp_path, "plan smoke")
    first.acquire()
    holder = Holder()
    with pytest.raises(BenchBusy) as refused:
        lab_bench_lock(config, tmp_path, "plan other").acquire()
    text = str(refused.value)
    # Who (user, host, pid), since when, and what it runs.
    assert f"{holder.user}@{holder.host} pid {os.getpid()} since 20" in text
    assert "(plan smoke)" in text and "bench in use" in text
    first.release()
    assert not list(tmp_path.glob("*.lock"))  # a finished run leaves no lock files
    with lab_bench_lock(config, tmp_path, "plan other"):
        pass


def test_a_bench_sharing_one_instrument_is_refused(tmp_path: Path) -> None:
    fluke, mte = load_bench_file(FLUKE), load_bench_file(MTE)
    shared = mte.model_copy(update={"instruments": mte.instruments.model_copy(
        update={"reference": fluke.instruments.reference})})
    with lab_bench_lock(fluke, tmp_path, "a"), pytest.raises(
        BenchBusy, match=r"resource TCPIP::192\.168\.10\.20::6320::SOCKET is held by"
    ):
        lab_bench_lock(shared, tmp_path, "b").acquire()


def test_a_refused_lock_keeps_none_of_the_names_it_took(tmp_path: Path) -> None:
    holder = FileBenchLock(["m"], tmp_path, Holder(what="first"))
    holder.acquire()
    second = FileBenchLock(["a", "m", "z"], tmp_path, Holder(what="second"))
    with pytest.raises(BenchBusy):
        second.acquire()
    # "a" was taken before "m" was refused, and given back: a third run can take it.
    with FileBenchLock(["a"], tmp_path, Holder()):
        pass
    holder.release()


HOLD = """
import sys, time
from pathlib import Path
from rig.benchlock import FileBenchLock, Holder
lock = FileBenchLock(["bench"], Path(sys.argv[1]), Holder(what="killed run"))
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_a_killed_run_leaves_no_stale_lock(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(BenchBusy, match=rf"pid {proc.pid} .*\(killed run\)"):
            FileBenchLock(["bench"], tmp_path, Holder()).acquire()
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 30
    while True:  # the kernel drops the flock with the process
        try:
            with FileBenchLock(["bench"], tmp_path, Holder()):
                break
        except BenchBusy:
            assert time.monotonic() < deadline
            time.sleep(0.05)
