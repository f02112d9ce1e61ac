"""Load points of the plan items for a meter position's ratings.

A plan gives currents as multiples of In and the power factor as a code ("1", "0.5L", ...). For
reactive items the code is sin(phi) instead (IEC 62053-23 speaks of sin phi), so "1" is a purely
inductive load. Powers seen by the meter (for pulse counts and dwell times) come from the same
load point the source is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rig.bench.config import Position
from rig.instruments.loadpoint import NORMAL_SEQUENCE, LoadPoint, PhaseSetting, normalise_angle

#: 3P3W meters have two measuring elements, 3P4W three (standards.md: m in the no-load formula).
ELEMENTS = {"3P4W": 3, "3P3W": 2}
#: Minimum current and starting current of transformer-operated classes, multiples of In:
#: the range starts at 0.01 In (standards.md 1.1 [H]); the meter starts at 0.001 In, PF 1
#: (standards.md 1.4 [H]).
IMIN_IN = {"0.2S": 0.01, "0.5S": 0.01}
IST_IN = {"0.2S": 0.001, "0.5S": 0.001}


@dataclass(frozen=True)
class Rating:
    """What the rig needs to know of the meters under test to build and time a load point."""

    un: float
    in_: float
    imax: float
    meter_constant: float
    reactive_constant: float
    wiring: str
    accuracy_class: str = "0.5S"

    @classmethod
    def of(cls, position: Position) -> Rating:
        return cls(
            un=position.un,
            in_=position.in_,
            imax=position.imax,
            meter_constant=position.meter_constant,
            reactive_constant=position.reactive_constant or position.meter_constant,
            wiring=position.wiring,
            accuracy_class=position.accuracy_class,
        )

    @property
    def elements(self) -> int:
        return ELEMENTS[self.wiring]

    def multiple(self, current: float | str) -> float:
        """A plan current (rig.plan.CurrentSpec) as a multiple of In for this rating."""
        if not isinstance(current, str):
            return float(current)
        if current.endswith("Imax"):
            factor = float(current[: -len("Imax")] or 1.0)
            return factor * self.imax / self.in_
        table = IMIN_IN if current == "Imin" else IST_IN
        if self.accuracy_class not in table:
            raise ValueError(
                f"{current} of a class {self.accuracy_class} meter is not known "
                f"(known for classes {', '.join(sorted(table))}): give the current in In"
            )
        return table[self.accuracy_class]

    def constant(self, energy: str) -> float:
        return self.meter_constant if energy == "active" else self.reactive_constant


def active_point(
    rating: Rating, x: float, pf: str, direction: str = "import", element: str = "balanced"
) -> LoadPoint:
    """x * In at power factor `pf`, import or export, balanced or on one element."""
    return LoadPoint.at(rating.un, rating.in_, x, pf, direction, element)  # type: ignore[arg-type]


def sin_phi_angle(code: str) -> float:
    """phi in degrees for a sin(phi) code: "1" -> 90, "0.5L" -> 30, "0.5C" -> -30."""
    text = code.strip().upper()
    sign = -1.0 if text.endswith("C") else 1.0
    value = float(text.rstrip("LC"))
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"sin phi {code!r}: must be within 0..1")
    return sign * math.degrees(math.asin(value))


def reactive_point(
    rating: Rating, x: float, sin_phi: str, direction: str = "import", element: str = "balanced"
) -> LoadPoint:
    """x * In at sin(phi) = `sin_phi`, reactive import (+Q, Q1+Q2) or export (-Q, Q3+Q4).

    sin phi 1 is phi = 90 deg (pure +Q); "0.5L" is phi = 30 deg (Q1); export turns the current
    by 180 deg (an inductive code then lands in Q3).
    """
    phi = sin_phi_angle(sin_phi) + (180.0 if direction == "export" else 0.0)
    current = x * rating.in_
    phases = tuple(
        PhaseSetting(rating.un, current, ua, normalise_angle(ua - phi)) for ua in NORMAL_SEQUENCE
    )
    point = LoadPoint(phases)  # type: ignore[arg-type]
    return point if element == "balanced" else point.single_element(int(element[1]))


def point_for(
    rating: Rating,
    energy: str,
    x: float | str,
    pf: str,
    direction: str = "import",
    element: str = "balanced",
) -> LoadPoint:
    """The load of a plan point; `x` a multiple of In or a rating current ("Imax", "Ist")."""
    x = rating.multiple(x)
    if energy == "active":
        return active_point(rating, x, pf, direction, element)
    return reactive_point(rating, x, pf, direction, element)


def metered_power(point: LoadPoint, energy: str, wiring: str) -> float:
    """|P| (W) or |Q| (var) the meter registers at `point` (the sum over phases is the same
    for two-element metering of a three-wire system)."""
    del wiring  # the total is independent of the number of elements for a balanced source
    value = point.active_power if energy == "active" else point.reactive_power
    return abs(value)


def pulse_period_s(power: float, constant: float) -> float:
    """Seconds between meter pulses at `power` W (or var) with `constant` imp/kWh."""
    if power <= 0:
        return math.inf
    return 3.6e6 / (constant * power)
