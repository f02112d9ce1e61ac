"""The one loader for "package.module:Name" import paths: drivers in bench files, meter models
(`--meter-model`, `sim.meter.model`), simulator dialects. Its errors name what was asked for."""

from __future__ import annotations

import importlib
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
