"""Electrical inputs of a meter and the instantaneous quantities derived from them.

Conventions (docs/conventions.md section 1):

* a phasor is an rms magnitude and an absolute angle in degrees, mathematically positive
  (counter-clockwise) = leading;
* phi = angle(U) - angle(I); P = U*I*cos(phi); Q = U*I*sin(phi), so Q > 0 is inductive
  (lagging current). Balanced PF 0.5 L on L1: U at 0 deg, I at -60 deg;
* phase sequence L1 = 0 deg, L2 = -120 deg, L3 = +120 deg;
* IEC quadrants (standards.md 2.1): Q1 = +P,+Q; Q2 = -P,+Q; Q3 = -P,-Q; Q4 = +P,-Q.

Wiring: 3P4W uses three elements (phase-to-neutral voltage with its own phase current);
3P3W (Aron) uses two elements, U12 with I1 and U32 with I3; L2 current is not measured.

Harmonics: each phase may carry harmonic components given relative to its fundamental.
Active power is the true power (fundamental plus every harmonic, U_h I_h cos phi_h);
reactive power is the Budeanu sum of U_h I_h sin phi_h; rms values include the harmonics.
For 3P3W the harmonic content of L1 and L3 is applied to the two elements (a
simplification: the line voltage harmonics are taken to be those of the phase).
"""

from __future__ import annotations

import cmath
import functools
import math
import operator
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Wiring(StrEnum):
    """Connection of the meter (A1000 manual Appendix C)."""

    THREE_PHASE_FOUR_WIRE = "3P4W"
    THREE_PHASE_THREE_WIRE = "3P3W"

    @property
    def elements(self) -> int:
        return 3 if self is Wiring.THREE_PHASE_FOUR_WIRE else 2


@dataclass(frozen=True)
class Phasor:
    """rms magnitude and absolute angle in degrees (positive = leading)."""

    rms: float
    angle_deg: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.rms) or self.rms < 0:
            raise ValueError(f"phasor rms must be finite and >= 0, got {self.rms!r}")
        if not math.isfinite(self.angle_deg):
            raise ValueError(f"phasor angle must be finite, got {self.angle_deg!r}")

    @property
    def complex(self) -> complex:
        return cmath.rect(self.rms, math.radians(self.angle_deg))

    @classmethod
    def from_complex(cls, z: complex) -> Phasor:
        return cls(abs(z), math.degrees(_phase(z)) if z != 0 else 0.0)


@dataclass(frozen=True)
class Harmonic:
    """One harmonic component of a phase, relative to that phase's fundamental.

    ``angle_deg`` is the displacement angle of this harmonic, angle(U_h) - angle(I_h),
    with the same sign convention as the fundamental.
    """

    order: int
    voltage_fraction: float
    current_fraction: float
    angle_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.order < 2:
            raise ValueError(f"harmonic order must be >= 2, got {self.order}")
        for name in ("voltage_fraction", "current_fraction"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"harmonic {name} must be finite and >= 0, got {v!r}")


@dataclass(frozen=True)
class PhaseInput:
    voltage: Phasor  # phase-to-neutral voltage
    current: Phasor
    harmonics: tuple[Harmonic, ...] = ()


@dataclass(frozen=True)
class ElectricalInputs:
    phases: tuple[PhaseInput, PhaseInput, PhaseInput]  # L1, L2, L3
    frequency: float = 50.0

    def __post_init__(self) -> None:
        if len(self.phases) != 3:
            raise ValueError(f"ElectricalInputs needs 3 phases, got {len(self.phases)}")
        if not math.isfinite(self.frequency) or self.frequency <= 0:
            raise ValueError(f"frequency must be > 0, got {self.frequency!r}")

    @classmethod
    def balanced(
        cls,
        voltage: float,
        current: float,
        phi_deg: float = 0.0,
        frequency: float = 50.0,
        harmonics: tuple[Harmonic, ...] = (),
    ) -> ElectricalInputs:
        """Symmetrical three-phase inputs: phase voltage, current, displacement angle phi.

        phi = 60 is PF 0.5 inductive import (Q1); phi = 180 is pure export; phi = -90 is
        pure capacitive reactive (Q4/Q3 boundary).
        """
        phases = []
        for base in (0.0, -120.0, 120.0):
            phases.append(
                PhaseInput(Phasor(voltage, base), Phasor(current, base - phi_deg), harmonics)
            )
        return cls((phases[0], phases[1], phases[2]), frequency)

    @classmethod
    def no_load(cls, voltage: float, frequency: float = 50.0) -> ElectricalInputs:
        return cls.balanced(voltage, 0.0, 0.0, frequency)

    @classmethod
    def dead(cls, frequency: float = 50.0) -> ElectricalInputs:
        """All voltages and currents gone (power cut)."""
        return cls.balanced(0.0, 0.0, 0.0, frequency)


@dataclass(frozen=True)
class ElementMeasurement:
    """What one measuring element sees (3P4W: one phase; 3P3W: a line voltage + a current)."""

    voltage: float  # V rms including harmonics
    current: float  # A rms including harmonics
    p: float  # W, signed (+ import)
    q: float  # var, signed (+ inductive)
    s: float  # VA, U*I (rms product)
    pf: float  # P/S, signed; 1.0 when S == 0
    phi_deg: float  # fundamental displacement angle(U) - angle(I), (-180, 180]
    thd_u: float  # voltage total harmonic distortion (fraction)
    thd_i: float  # current total harmonic distortion (fraction)


@dataclass(frozen=True)
class Measurements:
    """Instantaneous values: per phase (index 0..2 = L1..L3) and totals.

    For 3P3W, index 0 holds element 1 (U12, I1), index 2 element 2 (U32, I3) and index 1
    is an all-zero placeholder (no element on L2).
    """

    wiring: Wiring
    phases: tuple[ElementMeasurement, ElementMeasurement, ElementMeasurement]
    frequency: float
    p: float  # W total (sum of elements)
    q: float  # var total
    s: float  # VA total, vectorial sqrt(P^2 + Q^2) of the totals
    pf: float  # P/S of the totals; 1.0 when S == 0
    phase_voltages: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))

    @property
    def quadrant(self) -> int:
        """IEC quadrant 1..4 of the total (P, Q); P >= 0 and Q >= 0 counts as Q1."""
        return quadrant(self.p, self.q)

    @property
    def active_direction(self) -> str:
        """'+' import, '-' export (direction indicator of manual 2.1.2 3.4)."""
        return "-" if self.p < 0 else "+"

    @property
    def reactive_direction(self) -> str:
        return "-" if self.q < 0 else "+"

    @property
    def max_voltage(self) -> float:
        return max(e.voltage for e in self.phases)


def quadrant(p: float, q: float) -> int:
    """IEC quadrant (standards.md 2.1): Q1 +P+Q, Q2 -P+Q, Q3 -P-Q, Q4 +P-Q."""
    if p >= 0:
        return 1 if q >= 0 else 4
    return 2 if q >= 0 else 3


def _phase(z: complex) -> float:
    """Angle of z in radians. cmath.phase raises OverflowError when the result underflows (a
    subnormal imaginary part, e.g. 6 - 1.5e-323j); math.atan2 gives the (zero) angle."""
    return math.atan2(z.imag, z.real)


_ZERO = ElementMeasurement(0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)


def _element(u: complex, i: complex, harmonics: tuple[Harmonic, ...]) -> ElementMeasurement:
    u1, i1 = abs(u), abs(i)
    phi = math.degrees(_phase(u)) - math.degrees(_phase(i)) if u1 and i1 else 0.0
    phi = round((phi + 180.0) % 360.0 - 180.0, 9)  # angles to 1e-9 degree
    if phi == -180.0:
        phi = 180.0
    p = u1 * i1 * math.cos(math.radians(phi))
    q = u1 * i1 * math.sin(math.radians(phi))
    su = si = 0.0
    for h in harmonics:
        uh, ih = u1 * h.voltage_fraction, i1 * h.current_fraction
        p += uh * ih * math.cos(math.radians(h.angle_deg))
        q += uh * ih * math.sin(math.radians(h.angle_deg))
        su += h.voltage_fraction**2
        si += h.current_fraction**2
    urms, irms = u1 * math.sqrt(1.0 + su), i1 * math.sqrt(1.0 + si)
    s = urms * irms
    # cos/sin of exact right angles leave ~1e-16 residues; they must not pick a quadrant.
    if abs(p) < 1e-12 * s:
        p = 0.0
    if abs(q) < 1e-12 * s:
        q = 0.0
    pf = p / s if s > 0 else 1.0
    return ElementMeasurement(urms, irms, p, q, s, pf, phi, math.sqrt(su), math.sqrt(si))


def measure(inputs: ElectricalInputs, wiring: Wiring) -> Measurements:
    """Instantaneous quantities of ``inputs`` as seen by a meter wired as ``wiring``.

    Inputs and results are immutable, so repeats come from a small cache: on a bench every meter
    of one wiring sees the same terminals at each source change."""
    return _measure_cached(inputs, Wiring(wiring))


def _left_to_right(values: Iterable[float]) -> float:
    return functools.reduce(operator.add, values, 0.0)


#: The floats added left to right, each sum rounded, as sum() added them before Python 3.12.
#: From 3.12 on, sum() compensates the rounding of float sums (What's New in Python 3.12:
#: Neumaier summation), so the same inputs give another last bit there, and the model's
#: powers, demand averages and registers would differ between the Pythons the project runs
#: on. Before 3.12, sum() itself, which takes a third of the time (the demand sums are on
#: the fast-forward's path).
add_up: Callable[[Iterable[float]], float] = (
    _left_to_right if sys.version_info >= (3, 12) else sum)


def _measure(inputs: ElectricalInputs, wiring: Wiring) -> Measurements:
    ph = inputs.phases
    if wiring is Wiring.THREE_PHASE_FOUR_WIRE:
        elements = tuple(
            _element(x.voltage.complex, x.current.complex, x.harmonics) for x in ph
        )
    else:
        u12 = ph[0].voltage.complex - ph[1].voltage.complex
        u32 = ph[2].voltage.complex - ph[1].voltage.complex
        elements = (
            _element(u12, ph[0].current.complex, ph[0].harmonics),
            _ZERO,
            _element(u32, ph[2].current.complex, ph[2].harmonics),
        )
    p = add_up(e.p for e in elements)
    q = add_up(e.q for e in elements)
    scale = add_up(e.s for e in elements)
    if abs(p) < 1e-12 * scale:
        p = 0.0
    if abs(q) < 1e-12 * scale:
        q = 0.0
    s = math.hypot(p, q)
    return Measurements(
        wiring=wiring,
        phases=(elements[0], elements[1], elements[2]),
        frequency=inputs.frequency,
        p=p,
        q=q,
        s=s,
        pf=p / s if s > 0 else 1.0,
        phase_voltages=(ph[0].voltage.rms, ph[1].voltage.rms, ph[2].voltage.rms),
    )


_measure_cached = functools.lru_cache(maxsize=64)(_measure)
