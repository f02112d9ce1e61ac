"""The applied load, verified before anything is measured on it.

After the source has been set and has settled, the reference standard's readings are compared
with the set point, phase by phase: rms voltage and current (harmonics included: a harmonic the
source left out changes the rms), the voltage angles relative to the first live phase (a swapped
phase or a reversed sequence), each phase's U-I angle phi (a wrong current-angle convention), and
the frequency. Any difference beyond the bench file's `load_check` tolerances stops the point
with a message naming the phase and the quantity. Angles follow docs/conventions.md 1 on both
sides: the set point's, and the reference role's `PhaseReading` angles.
"""

from __future__ import annotations

from rig.bench.config import LoadCheck
from rig.instruments.loadpoint import LoadPoint, PhaseSetting, normalise_angle, total_rms
from rig.instruments.roles import PhaseReading, Readings


class LoadMismatch(RuntimeError):
    """The reference standard does not see the load that was set: nothing is measured on it."""


def _magnitude(
    name: str, unit: str, want: float, got: float, tol: LoadCheck, floor: float
) -> str | None:
    allowed = max(want * tol.magnitude_pct / 100.0, floor)
    if abs(got - want) <= allowed:
        return None
    return f"{name} {got:.6g} {unit}, set {want:.6g} {unit} (tolerance {allowed:.3g} {unit})"


def _angle(name: str, want: float, got: float, tol: LoadCheck) -> str | None:
    if abs(normalise_angle(got - want)) <= tol.angle_deg:
        return None
    return f"{name} {normalise_angle(got):.1f} deg, set {normalise_angle(want):.1f} deg " \
        f"(tolerance {tol.angle_deg:g} deg)"


def mismatches(point: LoadPoint, readings: Readings, tol: LoadCheck) -> list[str]:
    """Every difference between `point` and `readings` beyond `tol`, one line each."""
    found: list[str | None] = []
    pairs: list[tuple[int, PhaseSetting, PhaseReading]] = [
        (n, s, r) for n, (s, r) in enumerate(zip(point.phases, readings.phases, strict=True), 1)
    ]
    for n, s, r in pairs:
        found.append(_magnitude(
            f"L{n} voltage", "V", total_rms(s.voltage, s.voltage_harmonics), r.voltage, tol,
            tol.voltage_floor_v,
        ))
        found.append(_magnitude(
            f"L{n} current", "A", total_rms(s.current, s.current_harmonics), r.current, tol,
            tol.current_floor_a,
        ))
    live = [(n, s, r) for n, s, r in pairs if s.voltage > tol.voltage_floor_v]
    if live:
        _, s0, r0 = live[0]
        for n, s, r in live[1:]:
            found.append(_angle(
                f"L{n} voltage angle", s.voltage_angle - s0.voltage_angle,
                r.voltage_angle - r0.voltage_angle, tol,
            ))
        for n, s, r in live:
            if s.current > tol.current_floor_a:
                found.append(_angle(
                    f"L{n} U-I angle phi", s.voltage_angle - s.current_angle,
                    r.voltage_angle - r.current_angle, tol,
                ))
    if abs(readings.frequency - point.frequency) > tol.frequency_hz:
        found.append(
            f"frequency {readings.frequency:.6g} Hz, set {point.frequency:.6g} Hz "
            f"(tolerance {tol.frequency_hz:g} Hz)"
        )
    lines = [line for line in found if line is not None]
    if live and _reversed(live, readings):
        lines.append("phase sequence reversed (L2 and L3 swapped?)")
    return lines


def _reversed(live: list[tuple[int, PhaseSetting, PhaseReading]], readings: Readings) -> bool:
    """True when all three voltages are live and the reference sees the other sequence."""
    if len(live) != 3:
        return False
    want = normalise_angle(live[1][1].voltage_angle - live[0][1].voltage_angle)
    got = normalise_angle(live[1][2].voltage_angle - live[0][2].voltage_angle)
    return want * got < 0 and abs(abs(want) - 120.0) < 30.0 and abs(abs(got) - 120.0) < 30.0


def verify(point: LoadPoint, readings: Readings, tol: LoadCheck, source: str) -> None:
    """Raise LoadMismatch naming each phase and quantity that differs from `point`."""
    lines = mismatches(point, readings, tol)
    if lines:
        raise LoadMismatch(
            f"applied load does not match the set point ({source} -> reference standard): "
            + "; ".join(lines)
            + ". Nothing was measured on this load: check the source driver's angle "
            "convention, the wiring and the harmonic settings."
        )
