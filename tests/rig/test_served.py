"""`pytest testplans --bench FILE` on a bench served by `python -m rig.sim serve` in virtual
time: the rig drives the simulator's clock through its control endpoint and the plan runs
(it used to wait for a clock nothing moved until the timeout)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from rig.served import ready_facts
from tests.processes import stop
from tests.rig.test_pytest_plugin import PLAN

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served() -> Iterator[dict[str, str]]:
    """`python -m rig.sim serve` running; the `name = value` lines it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig.sim", "serve", "--bench", str(ROOT / "benches" / "sim.yaml"),
         "--positions", "2"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        values = ready_facts(proc.stdout)
        if values is None:
            pytest.fail(f"serve ended early: {proc.stderr.read()}")
        yield values
    finally:
        stop(proc)


def test_the_served_bench_file_says_where_to_drive_it(served: dict[str, str]) -> None:
    bench = yaml.safe_load(Path(served["bench file"]).read_text(encoding="utf-8"))
    assert bench["sim"] == {"control": served["control"], "realtime": False}


def test_a_plan_on_a_served_virtual_time_bench_runs_to_the_end(
    served: dict[str, str], tmp_path: Path
) -> None:
    shutil.copy(ROOT / "testplans" / "test_accuracy.py", tmp_path / "test_accuracy.py")
    (tmp_path / "tiny.yaml").write_text(PLAN, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "rig.pytest_plugin", "-p", "no:cacheprovider",
         str(tmp_path / "test_accuracy.py"), "--plan", str(tmp_path / "tiny.yaml"),
         "--bench", served["bench file"], "--runs-dir", str(tmp_path / "runs"), "--no-report",
         "--rootdir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    # The plan's 1 s settling and 5 s gates at two points on two meters: on an undriven
    # clock this waited for the time-out; driven, it is virtual time and passes at once.
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"\b2 passed\b", proc.stdout)


def test_ready_facts_are_the_name_value_lines_before_ready_and_none_without_it() -> None:
    # What `python -m rig.sim serve` prints (rig/sim/__main__.py): name = value lines, then
    # "ready"; a value may hold " = " itself, a line without one is no fact.
    lines = iter(["starting\n", "control = 127.0.0.1:4000\n", "sim:source = TCPIP::a = b\n",
                  "ready\n", "after = ready\n"])
    assert ready_facts(lines) == {"control": "127.0.0.1:4000", "sim:source": "TCPIP::a = b"}
    assert next(lines) == "after = ready\n"  # read no further than "ready"
    assert ready_facts(["control = 127.0.0.1:4000\n"]) is None  # ended before it was ready
