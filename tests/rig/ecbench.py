"""A bench of modelled error calculators for rig.measure's tests: a virtual clock, the
reference standard's mode, and an ECGroup whose calculators all belong to one instrument
(`calculators`, a test's model of what its gates see), so the group drives them as a batch.

The point both measure tests take (the plan's default Measure at it: rig.plan.pulses_for):
3 x 230 V, 5 A, PF 1 on a 230 V / 5 A, 1000 imp/kWh (and kvarh) meter."""

from __future__ import annotations

from typing import Any

from rig.instruments.ecgroup import ECGroup
from rig.instruments.loadpoint import LoadPoint
from rig.loads import Rating

RATING = Rating(un=230.0, in_=5.0, imax=60.0, meter_constant=1000.0, reactive_constant=1000.0,
                wiring="3P4W")
POINT = LoadPoint.at(230.0, 5.0, 1.0, "1")


class Clock:
    """The virtual timebase's clock: it moves only when the timebase advances it."""

    def __init__(self) -> None:
        self.t = 0.0

    def time(self) -> float:
        return self.t

    def advance(self, dt: float) -> float:
        self.t += dt
        return self.t


class EC:
    """One position's calculator of the instrument `parent`; it chains repetitions where the
    instrument's model says so (`parent.chains`, rig.measure.chains_repetitions)."""

    def __init__(self, parent: Any, position: int) -> None:
        self.parent = parent
        self.position = position
        self.chains_repetitions = getattr(parent, "chains", False)


class Reference:
    """The reference standard: the modes it was set to, in order."""

    def __init__(self) -> None:
        self.modes: list[tuple[str, str]] = []

    def set_mode(self, wiring, quantity) -> None:
        self.modes.append((wiring, str(quantity)))


class Bench:
    """What rig.measure asks of a bench: its reference standard and an ECGroup of positions."""

    def __init__(self, calculators: Any) -> None:
        self.reference = Reference()
        self.calculators = calculators

    def ec_group(self, positions):
        return ECGroup({p: EC(self.calculators, p) for p in positions})
