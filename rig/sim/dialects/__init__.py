"""Command sets the simulated instruments speak: the same dialects the rig's drivers send
(docs/dialects.md; instruments.md 2.1, 2.3, 2.5). A dialect translates one command line
into world operations and reply lines; it owns no physics."""

from __future__ import annotations

from rig.sim.dialects.base import Dialect
from rig.sim.dialects.fluke import Fluke6105A
from rig.sim.dialects.mad import ZeraMad
from rig.sim.dialects.mte import MtePps4003
from rig.sim.dialects.zera import ZeraCom5003, ZeraMt310s2

# Driver name in the bench file -> (dialect class, role it can take).
DIALECTS: dict[str, type[Dialect]] = {
    "fluke6105a": Fluke6105A,
    "mte_pps4003": MtePps4003,
    "zera_com5003": ZeraCom5003,
    "zera_mt310s2": ZeraMt310s2,
    "zera_mad": ZeraMad,
}

__all__ = [
    "DIALECTS",
    "Dialect",
    "Fluke6105A",
    "MtePps4003",
    "ZeraCom5003",
    "ZeraMad",
    "ZeraMt310s2",
]
