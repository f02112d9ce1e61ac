"""The simulated three-phase meter-test source (a phantom-load source: U and I set per phase).

It owns its setpoints, output state, setting error, stability, protection state (overload trip,
interlock) and the communication watchdog. It knows nothing of time: the world tells it the
virtual time of each change and the wall time used by the watchdog.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from rig.sim.physics import PhaseSetting


class SourceError(Exception):
    """A command the source refuses (the dialect turns it into the instrument's error reply)."""


@dataclass(frozen=True)
class SourceSpec:
    """Non-ideal behaviour of the source.

    setting_error: each channel's magnitude error is drawn once (seeded) uniformly in
      +-setting_error (relative); angle errors in +-angle_error_deg.
    stability: relative amplitude wander; a new factor in +-stability every stability_interval_s
      of virtual time (0 = perfectly stable; no events are scheduled then).
    """

    setting_error: float = 0.0
    angle_error_deg: float = 0.0
    stability: float = 0.0
    stability_interval_s: float = 10.0
    seed: int = 1
    max_voltage: float = 1008.0
    max_current: float = 120.0


@dataclass
class Watchdog:
    """Communication watchdog: armed and no command for timeout_s of WALL time -> output off."""

    timeout_s: float = 0.0
    armed: bool = False
    last_feed_wall: float = 0.0

    def deadline(self) -> float | None:
        """Wall time at which the output goes off unless a command arrives first."""
        if not self.armed or self.timeout_s <= 0:
            return None
        return self.last_feed_wall + self.timeout_s

    def expired(self, wall_now: float) -> bool:
        d = self.deadline()
        return d is not None and wall_now >= d

    def discount(self, busy_from: float, busy_to: float) -> None:
        """The simulator computed from busy_from to busy_to (wall) between two commands (the
        meters' catch-up): that time is not the controller's silence; the deadline moves on
        by it."""
        if busy_to > busy_from:
            self.last_feed_wall += busy_to - busy_from


@dataclass
class SourceState:
    phases: tuple[PhaseSetting, PhaseSetting, PhaseSetting] = (
        PhaseSetting(),
        PhaseSetting(),
        PhaseSetting(),
    )
    frequency: float = 50.0
    u_enabled: list[bool] = field(default_factory=lambda: [True, True, True])
    i_enabled: list[bool] = field(default_factory=lambda: [True, True, True])
    output_on: bool = False
    interlock_open: bool = False
    tripped: str | None = None  # reason the output was switched off by protection
    tripped_phase: int | None = None  # 1..3 for an overload trip


class SimSource:
    """Setpoints and state; `actual_phases()` is what the terminals carry at this moment."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.state = SourceState()
        self.watchdog = Watchdog()
        rng = random.Random(spec.seed)
        self._u_gain = [1 + rng.uniform(-1, 1) * spec.setting_error for _ in range(3)]
        self._i_gain = [1 + rng.uniform(-1, 1) * spec.setting_error for _ in range(3)]
        self._u_dphi = [rng.uniform(-1, 1) * spec.angle_error_deg for _ in range(3)]
        self._i_dphi = [rng.uniform(-1, 1) * spec.angle_error_deg for _ in range(3)]
        self._stab_rng = random.Random(spec.seed + 1)
        self._stab_factor = 1.0
        # Wall time of every output on/off transition, for the safety tests: (wall, on, why).
        self.transitions: list[tuple[float, bool, str]] = []

    # -- setpoints ---------------------------------------------------------------------------
    def set_phase(self, index: int, setting: PhaseSetting) -> None:
        if not 0 <= index < 3:
            raise SourceError(f"phase index {index} out of range 0..2")
        if not 0 <= setting.u_rms <= self.spec.max_voltage:
            raise SourceError(f"voltage {setting.u_rms} V outside 0..{self.spec.max_voltage} V")
        if not 0 <= setting.i_rms <= self.spec.max_current:
            raise SourceError(f"current {setting.i_rms} A outside 0..{self.spec.max_current} A")
        phases = list(self.state.phases)
        phases[index] = setting
        self.state.phases = (phases[0], phases[1], phases[2])

    def update_phase(self, index: int, **changes: float) -> None:
        self.set_phase(index, replace(self.state.phases[index], **changes))

    def set_frequency(self, hz: float) -> None:
        if not 1.0 <= hz <= 1000.0:
            raise SourceError(f"frequency {hz} Hz outside 1..1000 Hz")
        self.state.frequency = hz

    def reset(self, wall_now: float) -> None:
        """*RST: output off, setpoints and harmonics zero, channels enabled, 50 Hz."""
        self.set_output(False, wall_now, "reset")
        self.state.phases = (PhaseSetting(), PhaseSetting(), PhaseSetting())
        self.state.frequency = 50.0
        self.state.u_enabled = [True, True, True]
        self.state.i_enabled = [True, True, True]

    def set_output(self, on: bool, wall_now: float, why: str) -> None:
        if on and self.state.interlock_open:
            raise SourceError("interlock open")
        if on and self.state.tripped:
            self.state.tripped = None
            self.state.tripped_phase = None
        if on != self.state.output_on:
            self.transitions.append((wall_now, on, why))
        self.state.output_on = on

    # -- protection --------------------------------------------------------------------------
    def trip(self, reason: str, wall_now: float, phase: int | None = None) -> None:
        self.state.tripped = reason
        self.state.tripped_phase = phase
        if self.state.output_on:
            self.transitions.append((wall_now, False, reason))
        self.state.output_on = False

    def set_interlock(self, open_: bool, wall_now: float) -> None:
        self.state.interlock_open = open_
        if open_:
            self.trip("interlock", wall_now)

    def feed(self, wall_now: float) -> None:
        self.watchdog.last_feed_wall = wall_now

    def arm_watchdog(self, timeout_s: float, wall_now: float) -> None:
        if timeout_s < 0:
            raise SourceError(f"watchdog timeout {timeout_s} s is negative")
        self.watchdog.timeout_s = timeout_s
        self.watchdog.armed = timeout_s > 0
        self.watchdog.last_feed_wall = wall_now

    # -- stability ---------------------------------------------------------------------------
    def next_stability_step(self, now: float) -> float | None:
        if self.spec.stability <= 0 or not self.state.output_on:
            return None
        step = self.spec.stability_interval_s
        return (int(now / step) + 1) * step

    def stability_step(self) -> None:
        self._stab_factor = 1 + self._stab_rng.uniform(-1, 1) * self.spec.stability

    # -- what the terminals carry -------------------------------------------------------------
    def actual_phases(self) -> tuple[PhaseSetting, PhaseSetting, PhaseSetting]:
        s = self.state
        out = []
        for k, ph in enumerate(s.phases):
            u_on = s.output_on and s.u_enabled[k]
            i_on = s.output_on and s.i_enabled[k]
            # Harmonics are fractions of the fundamental: they follow its gain.
            out.append(
                replace(
                    ph,
                    u_rms=ph.u_rms * self._u_gain[k] * self._stab_factor if u_on else 0.0,
                    u_angle=ph.u_angle + self._u_dphi[k],
                    i_rms=ph.i_rms * self._i_gain[k] * self._stab_factor if i_on else 0.0,
                    i_angle=ph.i_angle + self._i_dphi[k],
                )
            )
        return (out[0], out[1], out[2])

    def describe(self) -> dict:
        s = self.state
        return {
            "output_on": s.output_on,
            "phases": [vars(p) for p in s.phases],
            "frequency": s.frequency,
            "u_enabled": list(s.u_enabled),
            "i_enabled": list(s.i_enabled),
            "interlock_open": s.interlock_open,
            "tripped": s.tripped,
            "tripped_phase": s.tripped_phase,
            "watchdog": {"armed": self.watchdog.armed, "timeout_s": self.watchdog.timeout_s},
            "transitions": [list(t) for t in self.transitions],
        }
