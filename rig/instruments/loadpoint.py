"""Load points: what the power source is asked to deliver.

Angles follow docs/conventions.md 1: absolute phasor angles in degrees, mathematical positive =
leading, phi = angle(U) - angle(I), P = U*I*cos(phi), Q = U*I*sin(phi) (Q > 0 inductive).
Normal phase sequence: L1 = 0, L2 = -120, L3 = +120.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

Direction = Literal["import", "export"]

NORMAL_SEQUENCE = (0.0, -120.0, 120.0)
REVERSED_SEQUENCE = (0.0, 120.0, -120.0)


def normalise_angle(deg: float) -> float:
    """Return the angle in (-180, 180]."""
    a = math.fmod(deg, 360.0)
    if a <= -180.0:
        a += 360.0
    elif a > 180.0:
        a -= 360.0
    return a + 0.0  # turns -0.0 into 0.0


def total_rms(fundamental: float, harmonics: tuple[Harmonic, ...]) -> float:
    """The rms of a channel: its fundamental's rms with its harmonics added."""
    return fundamental * math.sqrt(1.0 + sum(h.fraction**2 for h in harmonics))


def phi_for_pf(pf: str | float) -> float:
    """Return phi = angle(U) - angle(I) in degrees for a power factor: '0.5L', '0.8C', '1', 0.5.

    'L' (inductive, lagging current) gives phi > 0, 'C' (capacitive) phi < 0. A bare number
    is inductive.
    """
    text = str(pf).strip().upper()
    sign = 1.0
    if text.endswith("L"):
        text = text[:-1]
    elif text.endswith("C"):
        text, sign = text[:-1], -1.0
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"power factor {pf!r}: expected a number 0..1 with optional L or C"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"power factor {pf!r}: must be within 0..1")
    return sign * math.degrees(math.acos(value))


@dataclass(frozen=True)
class Harmonic:
    """One harmonic of a channel: order n >= 2, amplitude as a fraction of the fundamental rms,
    and its phase angle in degrees (of the harmonic, relative to the channel's fundamental)."""

    order: int
    fraction: float
    angle_deg: float = 0.0


@dataclass(frozen=True)
class PhaseSetting:
    """Setpoint of one phase: rms voltage (phase-to-neutral) and current, with absolute angles."""

    voltage: float
    current: float
    voltage_angle: float
    current_angle: float
    voltage_harmonics: tuple[Harmonic, ...] = ()
    current_harmonics: tuple[Harmonic, ...] = ()

    @property
    def phi(self) -> float:
        """phi = angle(U) - angle(I) in (-180, 180] degrees."""
        return normalise_angle(self.voltage_angle - self.current_angle)

    @property
    def active_power(self) -> float:
        """P of the fundamental in W."""
        return self.voltage * self.current * math.cos(math.radians(self.phi))

    @property
    def reactive_power(self) -> float:
        """Q of the fundamental in var (positive inductive)."""
        return self.voltage * self.current * math.sin(math.radians(self.phi))


@dataclass(frozen=True)
class LoadPoint:
    """Three phase setpoints and the frequency; build with the constructors, vary with modifiers."""

    phases: tuple[PhaseSetting, PhaseSetting, PhaseSetting]
    frequency: float = 50.0

    def __post_init__(self) -> None:
        if len(self.phases) != 3:
            raise ValueError(f"a load point has 3 phases, got {len(self.phases)}")
        if not self.frequency > 0:
            raise ValueError(f"frequency {self.frequency} Hz must be positive")
        for n, ph in enumerate(self.phases, start=1):
            if ph.voltage < 0 or ph.current < 0:
                raise ValueError(f"L{n}: rms voltage and current must not be negative")
            for h in ph.voltage_harmonics + ph.current_harmonics:
                if h.order < 2 or h.fraction < 0:
                    raise ValueError(
                        f"L{n}: harmonic order must be >= 2 and fraction >= 0, got {h}"
                    )

    # --- constructors -------------------------------------------------------------------------
    @classmethod
    def balanced(
        cls,
        voltage: float,
        current: float,
        pf: str | float = "1",
        direction: Direction = "import",
        frequency: float = 50.0,
    ) -> LoadPoint:
        """Balanced three-phase point, normal sequence: e.g. balanced(230, 0.1 * In, '0.5L')."""
        phi = phi_for_pf(pf)
        if direction == "export":
            phi += 180.0
        elif direction != "import":
            raise ValueError(f"direction {direction!r}: expected 'import' or 'export'")
        l1, l2, l3 = (
            PhaseSetting(voltage, current, ua, normalise_angle(ua - phi)) for ua in NORMAL_SEQUENCE
        )
        return cls((l1, l2, l3), frequency)

    @classmethod
    def at(
        cls,
        un: float,
        in_: float,
        x: float,
        pf: str | float = "1",
        direction: Direction = "import",
        element: str = "balanced",
        frequency: float = 50.0,
    ) -> LoadPoint:
        """The usual test point: Un, x * In, pf, direction, element ('balanced', 'L1'..)."""
        point = cls.balanced(un, x * in_, pf, direction, frequency)
        if element == "balanced":
            return point
        if element in ("L1", "L2", "L3"):
            return point.single_element(int(element[1]))
        raise ValueError(f"element {element!r}: expected 'balanced', 'L1', 'L2' or 'L3'")

    @classmethod
    def voltage_only(cls, voltage: float, frequency: float = 50.0) -> LoadPoint:
        """Voltage on all phases, current circuits at zero (creep / no-load test)."""
        return cls.balanced(voltage, 0.0, "1", "import", frequency)

    # --- modifiers ----------------------------------------------------------------------------
    def single_element(self, phase: int) -> LoadPoint:
        """Keep all voltages, keep current only in `phase` (1..3)."""
        if phase not in (1, 2, 3):
            raise ValueError(f"phase {phase}: expected 1, 2 or 3")
        return self._map(lambda n, p: p if n == phase else replace(p, current=0.0))

    def reversed_sequence(self) -> LoadPoint:
        """Swap L2 and L3 angles (sequence L1, L3, L2), keeping each phase's phi."""

        def swap(n: int, p: PhaseSetting) -> PhaseSetting:
            ua = REVERSED_SEQUENCE[n - 1] + (p.voltage_angle - NORMAL_SEQUENCE[n - 1])
            return replace(
                p, voltage_angle=normalise_angle(ua), current_angle=normalise_angle(ua - p.phi)
            )

        return self._map(swap)

    def scaled_voltage(self, factor: float) -> LoadPoint:
        """All voltages times factor (1.1 = Un + 10 %)."""
        return self._map(lambda n, p: replace(p, voltage=p.voltage * factor))

    def scaled_current(self, factor: float) -> LoadPoint:
        """All currents times factor (0 for a current-free point)."""
        return self._map(lambda n, p: replace(p, current=p.current * factor))

    def scaled_frequency(self, factor: float) -> LoadPoint:
        """Frequency times factor (0.98 = f - 2 %)."""
        return replace(self, frequency=self.frequency * factor)

    def with_currents(self, i1: float, i2: float, i3: float) -> LoadPoint:
        """Unbalanced currents, same angles."""
        currents = (i1, i2, i3)
        return self._map(lambda n, p: replace(p, current=currents[n - 1]))

    def with_voltages(self, u1: float, u2: float, u3: float) -> LoadPoint:
        """Unbalanced voltages, same angles."""
        voltages = (u1, u2, u3)
        return self._map(lambda n, p: replace(p, voltage=voltages[n - 1]))

    def with_harmonics(
        self, voltage: tuple[Harmonic, ...] = (), current: tuple[Harmonic, ...] = ()
    ) -> LoadPoint:
        """The same harmonics on every phase."""
        return self._map(
            lambda n, p: replace(
                p, voltage_harmonics=tuple(voltage), current_harmonics=tuple(current)
            )
        )

    # --- views --------------------------------------------------------------------------------
    @property
    def active_power(self) -> float:
        """Total P of the fundamentals in W."""
        return sum(p.active_power for p in self.phases)

    @property
    def reactive_power(self) -> float:
        """Total Q of the fundamentals in var."""
        return sum(p.reactive_power for p in self.phases)

    @property
    def max_current(self) -> float:
        """Largest phase current in A."""
        return max(p.current for p in self.phases)

    def _map(self, f) -> LoadPoint:
        return replace(self, phases=tuple(f(n, p) for n, p in enumerate(self.phases, start=1)))
