"""The simulated bench (DESIGN.md "rig/sim"): one event-driven world with a virtual clock, a
three-phase source, a reference standard with per-position error calculators, energy dosage and
meter positions holding software meters; its instruments are servers on 127.0.0.1 speaking the
drivers' dialects, plus a simulator-control endpoint.

    from rig.sim import SimBench
    with SimBench("benches/sim.yaml", positions=3) as sim:
        ...   # sim.bench_file, sim.substitutions, sim.control (SimControl), sim.world
"""

from rig.sim.bench import SimBench, SimBenchError, Simulator
from rig.sim.control import ControlError, SimControl
from rig.sim.world import World, WorldConfig, WorldError

__all__ = [
    "ControlError",
    "SimBench",
    "SimBenchError",
    "SimControl",
    "Simulator",
    "World",
    "WorldConfig",
    "WorldError",
]
