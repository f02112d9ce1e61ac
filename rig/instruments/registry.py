"""Driver registry: bench files name a driver; adding a family is adding a module that registers.

`driver: fluke6105a` finds a registered class; `driver: "mypkg.mymodule:MyDriver"` imports one.
"""

from __future__ import annotations

import importlib

_DRIVERS: dict[str, type] = {}


def register_driver(*names: str):
    """Class decorator: make the driver available under each of `names`."""

    def decorate(cls: type) -> type:
        for name in names:
            # The same class imported again (a fresh import of its module) keeps the name.
            if name in _DRIVERS and _qualified(_DRIVERS[name]) != _qualified(cls):
                raise ValueError(
                    f"driver name {name!r} is already taken by {_DRIVERS[name].__name__}"
                )
            _DRIVERS[name] = cls
        return cls

    return decorate


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def driver_class(name: str) -> type:
    """Return the driver class registered as `name` (or imported from 'module:Class')."""
    _load_builtin()
    if name in _DRIVERS:
        return _DRIVERS[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise KeyError(f"driver {name!r} cannot be imported: {exc}") from exc
    raise KeyError(f"unknown driver {name!r}; known: {', '.join(sorted(_DRIVERS))}")


def known_drivers() -> list[str]:
    """Names of all registered drivers."""
    _load_builtin()
    return sorted(_DRIVERS)


def _load_builtin() -> None:
    # Importing the modules registers them; done lazily so the registry has no import cycle.
    for module in ("fluke6105a", "mte_pps4003", "zera_com5003", "zera_mad"):
        importlib.import_module(f"rig.instruments.{module}")
