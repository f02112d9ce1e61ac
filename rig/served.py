"""A bench served by `python -m rig.sim serve`, driven by the rig through its control endpoint.

The served simulator writes its control address into the resolved bench file (`sim.control`,
with `sim.realtime`). In virtual time nothing moves its clock but that endpoint, so a run on
such a bench file advances it there, as on the in-process simulated bench; in wall-clock time
(`--realtime`) it is a lab bench in all but name and the rig treats it as one.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

from rig.bench.config import BenchConfig
from rig.sim.control import SimControl


class ServedBenchError(RuntimeError):
    """The bench file names a served simulator the rig cannot reach."""


@dataclass(frozen=True)
class ServedSim:
    """What the session needs of a simulator it did not start: its control endpoint."""

    control: SimControl
    address: str


def attach(config: BenchConfig, stack: ExitStack) -> ServedSim | None:
    """The served virtual-time simulator behind `config`, connected (closed with `stack`);
    None for a lab bench or a wall-clock simulator."""
    info = config.sim or {}
    address = info.get("control")
    if not address or info.get("realtime"):
        return None
    where = config.source_file or "bench file"
    try:
        control = SimControl(str(address))
    except (OSError, ValueError) as exc:
        raise ServedBenchError(
            f"{where}: sim.control {address}: the served simulator does not answer ({exc}); "
            "is `python -m rig.sim serve` still running?"
        ) from None
    stack.callback(control.close)
    return ServedSim(control, str(address))
