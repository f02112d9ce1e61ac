#!/usr/bin/env python3
"""One entry point for a fresh machine: needs only Python 3.11+.

    python3 run.py test        the project's own tests (what CI runs)
    python3 run.py typetest    the IEC 60687 type test on the simulated bench
    python3 run.py lint        ruff

It creates `.venv/` beside this file on first use, installs the project
with its development extras into it (showing pip's progress), then runs
pytest (or ruff) from there. Extra arguments are passed through, e.g.

    python3 run.py typetest --positions 3 --plan smoke
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed-from"


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _ensure_env() -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py runs under any python3 a user has
        sys.exit(f"run.py: Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    if not _python().exists():
        print(f"run.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    # Reinstall when pyproject.toml changed since the last install.
    wanted = str((ROOT / "pyproject.toml").stat().st_mtime_ns)
    if not STAMP.exists() or STAMP.read_text() != wanted:
        _install()
        STAMP.write_text(wanted)
    return _python()


def _install() -> None:
    """pip install with its progress shown: the first install takes minutes."""
    print(
        "run.py: installing meter-test-rig[dev] into .venv (the first time takes a few "
        "minutes; pip reports each package as it goes)",
        flush=True,
    )
    started = time.monotonic()
    done = subprocess.run(
        [str(_python()), "-m", "pip", "install", "--progress-bar", "on", "-e", f"{ROOT}[dev]"]
    )
    if done.returncode != 0:
        sys.exit(f"run.py: pip install failed (exit status {done.returncode}); see above")
    print(f"run.py: installed in {time.monotonic() - started:.0f} s", flush=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"test", "typetest", "lint"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    python = str(_ensure_env())
    if command == "test":
        cmd = [python, "-m", "pytest", *rest]
    elif command == "typetest":
        cmd = [python, "-m", "pytest", "testplans", *rest]
    else:
        cmd = [python, "-m", "ruff", "check", str(ROOT), *rest]
    return subprocess.run(cmd, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
