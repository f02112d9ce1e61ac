"""Command sets the simulated instruments speak: the same dialects the rig's drivers send
(docs/dialects.md; instruments.md 2.1, 2.3, 2.5). A dialect translates one command line
into world operations and reply lines; it owns no physics."""

from __future__ import annotations

from rig.importpath import declared, load_declared
from rig.sim.dialects.base import Dialect
from rig.sim.dialects.fluke import Fluke6105A
from rig.sim.dialects.mad import ZeraMad
from rig.sim.dialects.mte import MtePps4003
from rig.sim.dialects.vaisala import VaisalaHmp155
from rig.sim.dialects.zera import ZeraCom5003, ZeraMt310s2

#: Entry-point group in which a driver package names the dialect of each of its drivers, under
#: the driver's own name (the driver itself is in `meter_test_rig.drivers`). The rig's own
#: dialects are declared there in pyproject.toml, as a lab's package declares its own.
ENTRY_POINT_GROUP = "meter_test_rig.sim_dialects"


def dialect_for(driver: str) -> type[Dialect] | None:
    """The dialect that simulates bench-file driver `driver` (declared in ENTRY_POINT_GROUP under
    its name); None when there is none."""
    return load_declared(ENTRY_POINT_GROUP, driver, "simulator dialect")


def simulated_drivers() -> list[str]:
    """Driver names the simulated bench can serve."""
    return sorted(declared(ENTRY_POINT_GROUP))


__all__ = [
    "Dialect",
    "Fluke6105A",
    "MtePps4003",
    "VaisalaHmp155",
    "ZeraCom5003",
    "ZeraMad",
    "ZeraMt310s2",
    "dialect_for",
    "simulated_drivers",
]
