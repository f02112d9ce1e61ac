"""Three-phase quantities of the simulated bench: pure functions of phasors.

Conventions are those of docs/conventions.md section 1: angles in degrees, mathematical positive
(leading); phi = angle(U) - angle(I); P = U*I*cos(phi), Q = U*I*sin(phi) (Q > 0 inductive).
"""

from __future__ import annotations

import cmath
import functools
import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass


def _added(values: Iterable[float]) -> float:
    """Left to right, each sum rounded: the same last bit on every Python (sum() compensates
    float rounding from 3.12 on), so a run's reference energies do not depend on the Python."""
    return functools.reduce(operator.add, values, 0.0)


WIRINGS = ("3P4W", "3P3W")


@dataclass(frozen=True)
class HarmonicSetting:
    """One harmonic of a channel: amplitude as a fraction of the fundamental, own phase (deg)."""

    order: int
    fraction: float
    angle: float = 0.0


@dataclass(frozen=True)
class PhaseSetting:
    """One phase of the source: fundamental rms magnitudes and absolute angles (degrees), and
    the harmonics of the voltage and of the current channel."""

    u_rms: float = 0.0
    u_angle: float = 0.0
    i_rms: float = 0.0
    i_angle: float = 0.0
    u_harmonics: tuple[HarmonicSetting, ...] = ()
    i_harmonics: tuple[HarmonicSetting, ...] = ()

    @property
    def u_total_rms(self) -> float:
        """Voltage rms including the harmonics."""
        return self.u_rms * math.sqrt(1 + _added(h.fraction ** 2 for h in self.u_harmonics))

    @property
    def i_total_rms(self) -> float:
        """Current rms including the harmonics."""
        return self.i_rms * math.sqrt(1 + _added(h.fraction ** 2 for h in self.i_harmonics))

    def harmonic_pairs(self) -> list[tuple[int, float, float, float]]:
        """(order, u fraction, i fraction, displacement angle U_h - I_h) for every order that
        either channel carries."""
        u = {h.order: h for h in self.u_harmonics}
        i = {h.order: h for h in self.i_harmonics}
        out = []
        for n in sorted(set(u) | set(i)):
            hu, hi = u.get(n), i.get(n)
            out.append(
                (
                    n,
                    hu.fraction if hu else 0.0,
                    hi.fraction if hi else 0.0,
                    (hu.angle if hu else 0.0) - (hi.angle if hi else 0.0),
                )
            )
        return out


def wrap_degrees(deg: float) -> float:
    """`deg` brought into (-180, 180] (the sim's own helper: it shares no code with the drivers)."""
    wrapped = deg - 360.0 * math.floor((deg + 180.0) / 360.0)  # in [-180, 180)
    return 180.0 if wrapped == -180.0 else wrapped + 0.0


def phasor(rms: float, angle_deg: float) -> complex:
    return cmath.rect(rms, math.radians(angle_deg))


@dataclass(frozen=True)
class Powers:
    """Totals of one metering arrangement (W, var, VA) and the per-element values behind them."""

    p: float
    q: float
    s: float
    p_elements: tuple[float, ...]
    q_elements: tuple[float, ...]
    s_elements: tuple[float, ...]

    def quantity(self, name: str) -> float:
        """'P', 'Q' or 'S' total."""
        try:
            return {"P": self.p, "Q": self.q, "S": self.s}[name]
        except KeyError:
            raise ValueError(f"unknown power quantity {name!r} (expected P, Q or S)") from None


def element_powers(u: complex, i: complex, setting: PhaseSetting) -> tuple[float, float, float]:
    """P, Q, S of one measuring element: U * conj(I) = P + jQ for the fundamental, plus each
    harmonic's U_h I_h cos/sin(displacement); S = U_rms * I_rms. The harmonic content of the
    element is that of `setting` (for 3P3W the phase's own, as meter/electrical.py does)."""
    z = u * i.conjugate()
    p, q = z.real, z.imag
    su = si = 0.0
    for _, fu, fi, angle in setting.harmonic_pairs():
        uh, ih = abs(u) * fu, abs(i) * fi
        p += uh * ih * math.cos(math.radians(angle))
        q += uh * ih * math.sin(math.radians(angle))
        su, si = su + fu * fu, si + fi * fi
    return p, q, abs(u) * math.sqrt(1 + su) * abs(i) * math.sqrt(1 + si)


def powers(phases: tuple[PhaseSetting, PhaseSetting, PhaseSetting], wiring: str) -> Powers:
    """Power seen by a meter (or reference) connected in `wiring`.

    3P4W: three elements, each phase-to-neutral voltage times its line current.
    3P3W: two elements (Aron connection, L2 common): U12 with I1 and U32 with I3, so the L2
    current is not measured at all. For a three-wire load (I1 + I2 + I3 = 0) both give the same
    total power; that identity is what the 3P3W tests check.
    """
    us = [phasor(p.u_rms, p.u_angle) for p in phases]
    is_ = [phasor(p.i_rms, p.i_angle) for p in phases]
    if wiring == "3P4W":
        pairs = [(us[k], is_[k], phases[k]) for k in range(3)]
    elif wiring == "3P3W":
        pairs = [(us[0] - us[1], is_[0], phases[0]), (us[2] - us[1], is_[2], phases[2])]
    else:
        raise ValueError(f"unknown wiring {wiring!r} (expected one of {', '.join(WIRINGS)})")
    elements = [element_powers(u, i, ph) for u, i, ph in pairs]
    p_el = tuple(e[0] for e in elements)
    q_el = tuple(e[1] for e in elements)
    s_el = tuple(e[2] for e in elements)
    return Powers(_added(p_el), _added(q_el), _added(s_el), p_el, q_el, s_el)


def power_factor(p: float, s: float) -> float:
    """Signed lambda = P/S (1.0 when there is no apparent power)."""
    return p / s if s > 0 else 1.0
