"""The README's Quick start runs pytest from the venv: that command, as written, works."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]


def test_the_venv_pytest_command_of_the_quick_start_runs_the_plan(tmp_path: Path) -> None:
    command = next(c for c in _quick_start_commands() if c.startswith(".venv/bin/pytest"))
    argv = shlex.split(command)
    venv_pytest = ROOT / argv[0]
    # Where the project's own venv is not the one running the tests (tox, CI), the same
    # pytest with the same arguments.
    runner = [str(venv_pytest)] if venv_pytest.exists() else [sys.executable, "-m", "pytest"]
    proc = subprocess.run(
        [*runner, *argv[1:], "-p", "no:cacheprovider", "--no-report",
         "--runs-dir", str(tmp_path / "runs")],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"\d+ passed", proc.stdout)


def test_every_run_py_command_of_the_quick_start_is_one_run_py_knows() -> None:
    for command in _quick_start_commands():
        if command.startswith("python3 run.py"):
            assert shlex.split(command)[2] in {"test", "typetest", "lint"}, command
