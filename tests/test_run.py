"""run.py: the first install shows its progress, a failed install says so, arguments pass."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[list[str]]]:
    """run.py with its venv in tmp_path (present but never installed) and subprocess.run
    recording each command instead of running it."""
    spec = importlib.util.spec_from_file_location("run_under_test", ROOT / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    venv = tmp_path / ".venv"
    monkeypatch.setattr(module, "VENV", venv)
    monkeypatch.setattr(module, "STAMP", venv / ".installed-from")
    module._python().parent.mkdir(parents=True)
    module._python().write_text("")
    commands: list[list[str]] = []

    def fake_run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess:
        commands.append(cmd)
        return subprocess.CompletedProcess(cmd, module.EXIT_CODE)

    module.EXIT_CODE = 0
    monkeypatch.setattr(module.subprocess, "run", fake_run)
    return module, commands


def test_first_install_shows_progress_then_passes_arguments_to_pytest(run_py, capsys) -> None:
    module, commands = run_py
    assert module.main(["typetest", "--positions", "3"]) == 0
    pip, pytest_cmd = commands
    assert pip[1:4] == ["-m", "pip", "install"] and "--quiet" not in pip
    assert "--progress-bar" in pip
    out = capsys.readouterr().out
    assert "installing meter-test-rig[dev] into .venv (the first time takes a few minutes" in out
    assert "run.py: installed in " in out
    assert pytest_cmd[1:] == ["-m", "pytest", "testplans", "--positions", "3"]
    assert module.STAMP.exists()  # the next call installs nothing
    commands.clear()
    module.main(["test", "-q"])
    assert commands == [[str(module._python()), "-m", "pytest", "-q"]]


def test_a_failed_install_is_one_line_and_no_stamp(run_py) -> None:
    module, _ = run_py
    module.EXIT_CODE = 1
    with pytest.raises(SystemExit, match=r"run.py: pip install failed \(exit status 1\)"):
        module.main(["typetest"])
    assert not module.STAMP.exists()
