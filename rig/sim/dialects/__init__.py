"""Command sets the simulated instruments speak: the same dialects the rig's drivers send
(docs/dialects.md; instruments.md 2.1, 2.3, 2.5). A dialect translates one command line
into world operations and reply lines; it owns no physics."""

from __future__ import annotations

from importlib import metadata

from rig.sim.dialects.base import Dialect
from rig.sim.dialects.fluke import Fluke6105A
from rig.sim.dialects.mad import ZeraMad
from rig.sim.dialects.mte import MtePps4003
from rig.sim.dialects.vaisala import VaisalaHmp155
from rig.sim.dialects.zera import ZeraCom5003, ZeraMt310s2

# Driver name in the bench file -> (dialect class, role it can take).
DIALECTS: dict[str, type[Dialect]] = {
    "fluke6105a": Fluke6105A,
    "fluke6100a": Fluke6105A,
    "mte_pps4003": MtePps4003,
    "zera_com5003": ZeraCom5003,
    "zera_mt310s2": ZeraMt310s2,
    "zera_mad": ZeraMad,
    "vaisala_hmp155": VaisalaHmp155,
}

#: Entry-point group in which a driver package names the dialect of each of its drivers, under
#: the driver's own name (the driver itself is in `meter_test_rig.drivers`).
ENTRY_POINT_GROUP = "meter_test_rig.sim_dialects"


def dialect_for(driver: str) -> type[Dialect] | None:
    """The dialect that simulates bench-file driver `driver`: ours, or one a driver package
    declares in ENTRY_POINT_GROUP; None when there is none."""
    if driver in DIALECTS:
        return DIALECTS[driver]
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP, name=driver):
        return ep.load()
    return None


def simulated_drivers() -> list[str]:
    """Driver names the simulated bench can serve."""
    declared = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(set(DIALECTS) | declared)


__all__ = [
    "DIALECTS",
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
