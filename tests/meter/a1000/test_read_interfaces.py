"""The parts of meter/a1000 read each other through narrow public interfaces.

Two checks over the package's modules (mutations.py excepted: a fault injector reaches into
what it breaks by design):
- ruff's SLF001: no module reads another object's private (`_name`) members;
- what one part takes from a component (`meter.component("x")`, the display's `_comp("x")`)
  is a method or property of that component's class, and a property is not reached through
  (`events.monitor.logs[...]` was; `events.log(key)` is the interface).
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path
from types import FunctionType

import meter.a1000
from meter.a1000.meter import A1000

from .helpers import T0, make_config

PACKAGE = Path(meter.a1000.__file__).parent
MODULES = sorted(p for p in PACKAGE.glob("*.py") if p.name != "mutations.py")
LOOKUPS = ("component", "_comp")  # the meter's component(name); the display's own helper


def _component_classes() -> dict[str, type]:
    meter = A1000(make_config(), start_time=T0)
    return {c.name: type(c) for c in meter.components}


def _component_name(node: ast.AST) -> str | None:
    """'x' for a call `<...>.component("x")` / `<...>._comp("x")`, else None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOOKUPS and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


def component_reads(tree: ast.AST) -> list[tuple[str, str, int, bool]]:
    """(component name, attribute, line, reached through) for every attribute taken from a
    component: chained on the lookup, or on a local name the lookup was assigned to."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []

    def note(name: str, attr: ast.Attribute) -> None:
        through = isinstance(parents.get(attr), ast.Attribute)
        found.append((name, attr.attr, attr.lineno, through))

    for scope in ast.walk(tree):
        if not isinstance(scope, ast.FunctionDef | ast.Lambda | ast.Module):
            continue
        bound: dict[str, str] = {}
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(
                    node.targets[0], ast.Name) and (name := _component_name(node.value)):
                bound[node.targets[0].id] = name
        for node in ast.walk(scope):
            if not isinstance(node, ast.Attribute):
                continue
            if name := _component_name(node.value):
                note(name, node)
            elif isinstance(node.value, ast.Name) and node.value.id in bound:
                note(bound[node.value.id], node)
    return sorted(set(found))


def test_no_module_reads_private_members_of_another_object() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "SLF001", "--no-cache",
         *map(str, MODULES)],
        capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_components_are_read_through_methods_and_properties() -> None:
    classes = _component_classes()
    seen = set()
    bad = []
    for path in MODULES:
        for name, attr, line, through in component_reads(ast.parse(path.read_text())):
            cls = classes[name]
            member = inspect.getattr_static(cls, attr, None)
            where = f"{path.name}:{line} {name}.{attr}"
            seen.add(f"{name}.{attr}")
            if attr.startswith("_") or not isinstance(member, FunctionType | property):
                bad.append(f"{where}: not a method or property of {cls.__name__}")
            elif isinstance(member, property) and through:
                bad.append(f"{where}: reached through (a property's own attributes)")
    assert not bad, "\n".join(bad)
    # The check sees the reads it is about (a broken walker would pass on nothing).
    assert {"events.log", "demand.maximum", "billing.historical_value",
            "billing.history_value", "demand.registers"} <= seen


def test_the_walker_flags_a_reach_through() -> None:
    tree = ast.parse(
        "def f(m):\n"
        "    ev = m.component('events')\n"
        "    return ev.monitor.logs, m.component('billing')._hist('1.8.0', 101)\n")
    assert component_reads(tree) == [("billing", "_hist", 3, False),
                                     ("events", "monitor", 3, True)]
