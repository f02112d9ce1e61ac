"""The wheel as a user gets it: built from this repository, installed into a fresh venv.

Slow (a wheel build, a venv, every dependency installed: about 3 minutes on a loaded 2-core
machine), so marked `slow`: not in the default run, run by `.ci/run` as its own step
(`python3 run.py test -m slow`). The install uses the machine's pip configuration (an offline
index works).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH or venv of ours leaks into the fresh install.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200,
                          **kw)


def test_wheel_installs_runs_the_typetest_and_leaves_other_pytest_runs_alone(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist),
                  str(ROOT)], tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("meter_test_rig-*.whl")
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], tmp_path).returncode == 0
    bin_dir = venv / "bin"
    installed = _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)],
                     tmp_path)
    assert installed.returncode == 0, installed.stderr[-3000:]

    work = tmp_path / "work"  # a user's directory: no repository around it
    work.mkdir()
    paths = _run([str(bin_dir / "meter-test-rig"), "paths"], work)
    assert str(venv) in paths.stdout and "testplans" in paths.stdout  # the shipped plans
    checked = _run([str(bin_dir / "meter-test-rig"), "check-bench", paths.stdout.split()[-1]
                    + "/fluke6105a-com5003.yaml", "--on", "2026-06-01"], work)
    assert checked.returncode == 0 and "valid bench file" in checked.stdout, checked.stderr

    typetest = _run([str(bin_dir / "meter-test-rig"), "typetest", "--plan", "smoke"], work)
    assert typetest.returncode == 0, typetest.stdout[-3000:] + typetest.stderr[-2000:]
    # The smoke plan's 7 items are 8 tests: its clock item runs as a start and an end.
    assert "8 passed" in typetest.stdout and "report.html" in typetest.stdout
    assert list((work / "runs").glob("*/report.html")) and list((work / "runs").glob("*/run.log"))

    # An unrelated project's tests in the same environment: the installed plugin is dormant.
    other = tmp_path / "other"
    other.mkdir()
    (other / "test_other.py").write_text("def test_sum():\n    assert sum([1, 2]) == 3\n")
    unrelated = _run([str(bin_dir / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                     other)
    assert unrelated.returncode == 0, unrelated.stdout[-2000:]
    assert "1 passed" in unrelated.stdout and "meter-test-rig:" not in unrelated.stdout
    assert not (other / "runs").exists()
