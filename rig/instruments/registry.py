"""Driver lookup. A bench file's `driver:` is

1. the name of an entry point in the group `meter_test_rig.drivers`: the rig's own drivers are
   declared there in pyproject.toml exactly as a lab's own driver package declares its drivers
   (README "Instrument drivers"), so no list in the code names any driver; or
2. an import path "package.module:Class".

Both are loaded by rig.importpath, the one loader of such paths. A driver package names the
simulator dialect of each driver under the same name in the group `meter_test_rig.sim_dialects`
(rig.sim.dialects.dialect_for), so the simulated bench serves it.
"""

from __future__ import annotations

from rig.importpath import declared, import_object, load_declared

ENTRY_POINT_GROUP = "meter_test_rig.drivers"


def driver_class(name: str) -> type:
    """The driver class declared as `name` or imported from 'module:Class'; KeyError naming
    the reason (and the known drivers, for a name nobody declares) otherwise."""
    try:
        cls = load_declared(ENTRY_POINT_GROUP, name, "driver")
        if cls is None and ":" in name:
            cls = import_object(name, "driver")
    except ValueError as exc:
        raise KeyError(str(exc)) from exc
    if cls is not None:
        return cls
    known = known_drivers()
    if not known:  # the metadata comes from installing the package
        raise KeyError(
            f"unknown driver {name!r}: no drivers are declared in {ENTRY_POINT_GROUP} "
            "(is meter-test-rig installed, and reinstalled since its pyproject.toml changed? "
            "`python3 run.py lint` does both)"
        )
    raise KeyError(f"unknown driver {name!r}; known: {', '.join(known)}")


def known_drivers() -> list[str]:
    """Names of all drivers declared by entry points (the rig's and any installed package's)."""
    return sorted(declared(ENTRY_POINT_GROUP))
