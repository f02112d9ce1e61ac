"""The one loader for "package.module:Name" import paths: drivers in bench files, meter models
(`--meter-model`, `sim.meter.model`), simulator dialects, and the entry points that name any of
them (`meter_test_rig.drivers`, `meter_test_rig.sim_dialects`: the rig's own in pyproject.toml,
a lab's in its own package). Its errors name what was asked for."""

from __future__ import annotations

import functools
import importlib
import sys
from importlib import metadata
from typing import Any


def import_object(path: str, what: str = "object") -> Any:
    """'package.module:Name' (or 'package.module.Name') -> the object; ValueError naming `what`,
    the path and the reason otherwise."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"{what} {path!r}: expected 'package.module:Name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"{what} {path!r}: cannot import {module_name!r} ({exc})") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"{what} {path!r}: module {module_name!r} has no {attr!r}") from None


def declared(group: str) -> dict[str, str]:
    """Name -> import path of every entry point in `group` of the installed distributions.
    ValueError when two distributions declare one name as different objects (which one a bench
    file meant cannot be told)."""
    return dict(_declared(group, tuple(sys.path)))


@functools.lru_cache(maxsize=16)
def _declared(group: str, path: tuple[str, ...]) -> dict[str, str]:
    # Reading every installed distribution's metadata takes tens of ms, and a bench file looks
    # its drivers up several times (validation, calculators, opening): remembered per sys.path
    # (what importlib.metadata searches), so a package put on the path is seen.
    found: dict[str, tuple[str, str]] = {}
    for ep in metadata.entry_points(group=group):
        owner = ep.dist.name if ep.dist is not None else "?"
        if ep.name in found and found[ep.name][0] != ep.value:
            raise ValueError(
                f"entry point {ep.name!r} of {group} is declared twice: {found[ep.name][0]!r} "
                f"({found[ep.name][1]}) and {ep.value!r} ({owner})"
            )
        found[ep.name] = (ep.value, owner)
    return {name: value for name, (value, _) in found.items()}


def load_declared(group: str, name: str, what: str) -> Any:
    """The object entry point `name` of `group` names (None when no distribution declares it),
    loaded by `import_object`; ValueError naming the entry point when it cannot be imported."""
    path = declared(group).get(name)
    if path is None:
        return None
    return import_object(path, f"{what} {name!r} (entry point of {group})")
