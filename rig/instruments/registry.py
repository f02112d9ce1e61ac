"""Driver registry: a bench file's `driver:` names a driver class, found in this order:

1. the rig's own drivers, registered under their names by `register_driver`;
2. an installed package's entry point in the group `meter_test_rig.drivers` (a lab's own driver
   package plugs in without editing any list here; see README "Instrument drivers");
3. an import path "package.module:Class" (rig.importpath, the one loader of such paths).

A driver package names the simulator dialect of each driver under the same name in the group
`meter_test_rig.sim_dialects` (rig.sim.dialects.dialect_for), so the simulated bench serves it.
"""

from __future__ import annotations

import importlib
from importlib import metadata

from rig.importpath import import_object

ENTRY_POINT_GROUP = "meter_test_rig.drivers"

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


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def driver_class(name: str) -> type:
    """Return the driver class registered as `name`, declared by an entry point, or imported
    from 'module:Class'; KeyError naming the known drivers otherwise."""
    _load_builtin()
    if name in _DRIVERS:
        return _DRIVERS[name]
    declared = _entry_points().get(name)
    if declared is not None:
        try:
            return declared.load()
        except (ImportError, AttributeError) as exc:
            raise KeyError(
                f"driver {name!r} (entry point {declared.value!r} of "
                f"{ENTRY_POINT_GROUP}) cannot be imported: {exc}"
            ) from exc
    if ":" in name:
        try:
            return import_object(name, "driver")
        except ValueError as exc:
            raise KeyError(str(exc)) from exc
    raise KeyError(f"unknown driver {name!r}; known: {', '.join(known_drivers())}")


def known_drivers() -> list[str]:
    """Names of all registered and entry-point drivers."""
    _load_builtin()
    return sorted(set(_DRIVERS) | set(_entry_points()))


def _load_builtin() -> None:
    # Importing the modules registers them; done lazily so the registry has no import cycle.
    for module in ("fluke6105a", "mte_pps4003", "zera_com5003", "zera_mad", "vaisala_hmp155"):
        importlib.import_module(f"rig.instruments.{module}")
