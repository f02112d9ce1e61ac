"""The codec and the state machines do no I/O: check their imports (not just their code)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import meter.iec62056_21 as package

PACKAGE_DIR = Path(package.__file__).parent
SANS_IO = [
    "errors",
    "datasets",
    "obiscode",
    "messages",
    "framing",
    "timing",
    "state",
    "readings",
    "bank",
    "session",
]
FORBIDDEN = {
    "socket",
    "serial",
    "time",
    "threading",
    "select",
    "os",
    "asyncio",
    "subprocess",
    "tty",
    "termios",
    "pty",
    "selectors",
    "logging",
}
WRAPPERS = {"client", "server"}


def imports_of(module: str) -> set[str]:
    tree = ast.parse((PACKAGE_DIR / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: a sibling module
                names.add("." + (node.module or ""))
            else:
                names.add(node.module or "")
    return names


@pytest.mark.parametrize("module", SANS_IO)
def test_sans_io_module_imports_nothing_doing_io(module):
    for name in imports_of(module):
        top = name.lstrip(".").split(".")[0]
        if name.startswith("."):
            assert top in SANS_IO, f"{module} imports the I/O layer .{top}"
        else:
            assert top not in FORBIDDEN, f"{module} imports {name}"


def test_every_module_is_classified():
    modules = {p.stem for p in PACKAGE_DIR.glob("*.py")} - {"__init__"}
    assert modules == set(SANS_IO) | WRAPPERS
