"""The simulated bench's world: one virtual clock, the source, the reference standard with its
error calculators, energy dosage and the meter positions (DESIGN.md decision 2).

Event-driven: between two events every input is constant, so the reference energy is integrated
exactly and error-calculator gates are found from the meter's computed pulse edges. Events that
change the inputs are: commands (always at the current virtual time), the end of a dosage and a
source-stability step. Virtual time only moves through `advance_to` (or, in realtime mode, from
the wall clock at each access).

Thread safety: every access goes through `with world.access():` (one re-entrant lock), so the
meter models are never entered from two threads.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from meter.electrical import ElectricalInputs
from rig.sim.physics import PhaseSetting
from rig.sim.positions import Position, electrical_inputs
from rig.sim.reference import COUNTING, ErrorCalculator, ReferenceSpec, ReferenceStandard
from rig.sim.source import SimSource, SourceError, SourceSpec


class WorldError(Exception):
    """A request the world cannot carry out (bad argument, wrong state)."""


# The meters' date is read as 0.9.2(YYMMDD) (standards.md, IEC 62056-21 readout): two-digit
# years, 2000..2099. Virtual time past the end of that century is out of range; asked for, a
# meter would have millennia to catch up on and the simulator would stop answering.
CALENDAR_END = 4102444800.0  # 2100-01-01T00:00:00Z


def finite(value: float, what: str) -> float:
    """`value` if it is a finite number; a NaN or an infinity would stop virtual time."""
    if not math.isfinite(value):
        raise WorldError(f"{what} must be a finite number, got {value}")
    return value


def _non_finite_setting(source: SimSource) -> str | None:
    """The first setting of the source that is not a finite number, named; None if all are."""
    state = source.state
    if not math.isfinite(state.frequency):
        return f"frequency {state.frequency}"
    for n, p in enumerate(state.phases, start=1):
        values = {"U": p.u_rms, "U angle": p.u_angle, "I": p.i_rms, "I angle": p.i_angle}
        for ch, harmonics in (("U", p.u_harmonics), ("I", p.i_harmonics)):
            for h in harmonics:
                values[f"{ch} harmonic {h.order}"] = h.fraction
                values[f"{ch} harmonic {h.order} angle"] = h.angle
        for name, v in values.items():
            if not math.isfinite(v):
                return f"L{n} {name} {v}"
    return None


@dataclass
class Dosage:
    """Deliver an exact energy (register tests): the currents are switched off when the reference
    has measured `target_kwh` of its current quantity since the start."""

    target_kwh: float = 0.0
    running: bool = False
    done: bool = False
    start_energy: float = 0.0
    key: tuple[str, str] = ("3P4W", "P")
    t_start: float = 0.0
    t_end: float | None = None


@dataclass
class EnergyMeasurement:
    """The reference's energy between START 1 and START 0 (ZERA EM module)."""

    running: bool = False
    key: tuple[str, str] = ("3P4W", "P")
    start_energy: float = 0.0
    energy_kwh: float = 0.0
    measured: bool = False
    t_stop: float | None = None  # stops by itself here (ZERA EM01 MODE 1: after MTIME)


@dataclass
class WorldConfig:
    start_time: float = 1767225600.0  # 2026-01-01T00:00:00Z
    source: SourceSpec = field(default_factory=SourceSpec)
    reference: ReferenceSpec = field(default_factory=ReferenceSpec)
    watchdog_s: float = 0.0
    # Step every meter with time (a meter saving its memory to files every interval needs
    # time to pass through it); False: a meter is brought up to now when looked at.
    step_meters: bool = True


class World:
    def __init__(
        self,
        config: WorldConfig,
        positions: list[Position],
        wall_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        numbers = [p.number for p in positions]
        if len(set(numbers)) != len(numbers):
            raise WorldError(f"duplicate position numbers in {numbers}")
        self.config = config
        self.lock = threading.RLock()
        self.wall = wall_clock
        self.t = config.start_time
        self.source = SimSource(config.source)
        self.reference = ReferenceStandard(config.reference)
        self.positions = {p.number: p for p in positions}
        self.ecs = {
            p.number: ErrorCalculator(p.number, ref_constant=self.reference.constant)
            for p in positions
        }
        self.dosage = Dosage()
        self.energy = EnergyMeasurement()
        self._currents_blocked = False  # set when a dosage has delivered its energy
        self._realtime: tuple[float, float] | None = None  # (wall origin, virtual origin)
        self._depth = 0  # nesting of access() in the thread holding the lock
        # Simulated meter lines (rig.sim.line): the instant the rig has got to, from which a
        # message it sends starts, and the time its lines' exchanges are owed up to.
        self.line_epoch = self.t
        self._line_owed = self.t
        # Source inputs not yet handed to the meters (see _inputs_changed).
        self._pending_inputs: tuple[tuple[PhaseSetting, ...], float] | None = None
        if config.watchdog_s > 0:
            self.source.arm_watchdog(config.watchdog_s, self.wall())
        for p in positions:
            p.attach(self.t)
        self._inputs_changed()

    # -- access ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def access(self, line: bool = False) -> Iterator[World]:
        """Serialise every access; in realtime mode bring virtual time up to the wall clock.
        An access inside another (a command that calls a world method) only holds the lock:
        the outer one has done the rest at this same instant.

        `line`: a meter answering on its simulated line (rig.sim.line), which keeps its own
        time. Any other access first lets the time the lines are owed pass (the rig has
        waited for its answers) and marks the instant the rig has got to (`line_epoch`)."""
        with self.lock:
            self._depth += 1
            try:
                if self._depth == 1:
                    self.check_watchdog()
                    if self._realtime is not None:
                        wall0, t0 = self._realtime
                        target = t0 + (self.wall() - wall0)
                        if target > self.t:
                            self._advance(target)
                    elif not line and self._line_owed > self.t:
                        self._advance(self._line_owed)
                yield self
            finally:
                if self._depth == 1 and not line:
                    self.line_epoch = self.t  # what the rig did ended here
                self._depth -= 1

    def set_realtime(self, on: bool) -> None:
        with self.lock:
            self._realtime = (self.wall(), self.t) if on else None

    @property
    def realtime(self) -> bool:
        return self._realtime is not None

    # -- time --------------------------------------------------------------------------------
    def advance_to(self, t: float) -> None:
        finite(t, "time")
        with self.access():
            if self._realtime is not None:
                raise WorldError("virtual time follows the wall clock (realtime mode)")
            if t < self.t:
                raise WorldError(f"cannot go back in time: {t} < now {self.t}")
            if t >= CALENDAR_END:
                raise WorldError(
                    f"time {t} is past 2099-12-31T23:59:59Z, the end of the meters' calendar "
                    "(two-digit years)"
                )
            self._advance(t)
            if not self.config.step_meters:
                self._meters_to_now()

    def _meters_to_now(self) -> None:
        """Every meter brought up to now with the latest inputs, in the request that moved
        time: its caller waits for it with no wall-clock limit. Left to the next look at each
        meter, the catch-up would fall into the meter lines' answers, which the rig awaits for
        tr max + slack (1.8 s of wall time, IEC 62056-21, standards.md 6.6), one line after
        another under this lock: on a loaded machine the last of 12 misses it."""
        self.flush_inputs()
        busy_from = self.wall()
        for pos in self.positions.values():
            if pos.meter.now < self.t:
                pos.advance_to(self.t)
        self.source.watchdog.discount(busy_from, self.wall())  # as in flush_inputs

    def catch_up(self, t: float) -> None:
        """Advance to t because something in the world took time (e.g. a button held), in
        virtual and realtime mode alike."""
        with self.lock:
            if t > self.t:
                self._advance(t)
                if self._realtime is not None:  # carry on from here with the wall clock
                    self._realtime = (self.wall(), self.t)

    def owe_time(self, t: float) -> None:
        """A meter line is busy until t: the world gets there at the next access that is not
        a line's (`access`), not before (parallel lines must not push each other on)."""
        with self.lock:
            self._line_owed = max(self._line_owed, t)

    def advance(self, dt: float) -> None:
        finite(dt, "time step")
        if dt < 0:
            raise WorldError(f"cannot advance by a negative time {dt} s")
        with self.access():  # from now, after any time owed to the meter lines
            self.advance_to(self.t + dt)

    def _advance(self, target: float) -> None:
        while True:
            t_event, action = self._next_event()
            if t_event is None or t_event > target:
                self._run_segment(target)
                return
            self._run_segment(t_event)
            action()
            self._inputs_changed()

    def _next_event(self) -> tuple[float | None, Callable[[], None]]:
        candidates: list[tuple[float, Callable[[], None]]] = []
        if self.dosage.running and self.dosage.t_end is not None:
            candidates.append((self.dosage.t_end, self._finish_dosage))
        if self.energy.running and self.energy.t_stop is not None:
            candidates.append((self.energy.t_stop, self._stop_energy))
        t_stab = self.source.next_stability_step(self.t)
        if t_stab is not None:
            candidates.append((t_stab, self.source.stability_step))
        if not candidates:
            return None, lambda: None
        return min(candidates, key=lambda c: c[0])

    def _run_segment(self, t1: float) -> None:
        """Move from self.t to t1 with the inputs constant."""
        self.flush_inputs()  # at the instant the inputs changed, before time moves on
        t0 = self.t
        if t1 <= t0:
            return
        for ec in self.ecs.values():
            if ec.status in COUNTING:
                pos = self.positions[ec.input_position]
                count = self.reference.count_function(ec.ref_key, ec.ref_constant, t0)
                ec.advance(
                    t1,
                    lambda after, p=pos, o=ec.output: p.next_pulse(o, after),
                    count,
                    lambda a, b, p=pos, o=ec.output: p.pulse_count(o, a, b),
                    (lambda after, n, p=pos, o=ec.output: p.nth_pulse(o, after, n))
                    if pos.finds_nth
                    else None,
                )
        self.reference.accumulate(t1 - t0)
        if self.config.step_meters:
            for pos in self.positions.values():
                pos.advance_to(t1)
        # Else the meters are not stepped: a meter's pulse rates change only with its inputs
        # (set_inputs brings it to that instant first), so the error calculators read its
        # edges at any time, and whoever looks at a meter brings it up to now (`position`).
        # A segment then costs nothing per meter.
        self.t = t1

    # -- inputs ------------------------------------------------------------------------------
    def _inputs_changed(self) -> None:
        phases = self.source.actual_phases()
        if self._currents_blocked:
            phases = tuple(PhaseSetting(p.u_rms, p.u_angle, 0.0, p.i_angle) for p in phases)
        freq = self.source.state.frequency
        self.reference.observe(phases, freq)
        # The meters get the inputs when something next looks at them (flush_inputs) or time
        # moves on, at this same instant: a load point is some twenty source commands at one
        # instant, and handing each to every meter would cost as many meter updates.
        self._pending_inputs = (phases, freq)
        if self.dosage.running:
            self._schedule_dosage_end()

    def flush_inputs(self) -> None:
        """Hand the source's latest inputs to the meters now (call with the lock held)."""
        if self._pending_inputs is None:
            return
        phases, freq = self._pending_inputs
        self._pending_inputs = None
        terminals: dict[str, ElectricalInputs] = {}  # meters of one wiring see the same ones
        busy_from = self.wall()
        for pos in self.positions.values():
            if pos.wiring not in terminals:
                terminals[pos.wiring] = electrical_inputs(phases, freq, pos.wiring)
            pos.set_inputs(self.t, terminals[pos.wiring])
        # Catching the meters up to now (after a long dwell, at many positions) takes wall time
        # the controller waits through: not silence for the source's watchdog.
        self.source.watchdog.discount(busy_from, self.wall())

    def change_source(self, change: Callable[[SimSource], None]) -> None:
        """Apply a source command now; the meters and the reference see it at this instant."""
        with self.access():
            was_on = self.source.state.output_on
            self.source.feed(self.wall())
            before = (self.source.state.phases, self.source.state.frequency)
            change(self.source)
            bad = _non_finite_setting(self.source)
            if bad is not None:  # refused as a whole: the source keeps its last settings
                self.source.state.phases, self.source.state.frequency = before
                raise SourceError(f"{bad}: not a finite number")
            if self.source.state.output_on and not was_on:
                self._currents_blocked = False
            self._inputs_changed()

    def feed_watchdog(self) -> None:
        with self.lock:
            self.source.feed(self.wall())

    def arm_watchdog(self, timeout_s: float) -> None:
        finite(timeout_s, "watchdog timeout")
        with self.access():
            self.source.arm_watchdog(timeout_s, self.wall())

    def check_watchdog(self) -> bool:
        """Switch the output off if the armed watchdog has expired; True if it tripped now."""
        with self.lock:
            wall = self.wall()
            if self.source.state.output_on and self.source.watchdog.expired(wall):
                self.source.trip("watchdog", wall)
                self._inputs_changed()
                return True
            return False

    def trip_overload(self, phase: int) -> None:
        if phase not in (1, 2, 3):
            raise WorldError(f"overload phase must be 1, 2 or 3, got {phase}")
        with self.access():
            self.source.trip("overload", self.wall(), phase)
            self._inputs_changed()

    def set_interlock(self, open_: bool) -> None:
        with self.access():
            self.source.set_interlock(open_, self.wall())
            self._inputs_changed()

    # -- reference / error calculators --------------------------------------------------------
    def set_reference_mode(self, wiring: str, quantity: str) -> None:
        with self.access():
            self.reference.set_mode(wiring, quantity)

    def ec(self, position: int) -> ErrorCalculator:
        try:
            return self.ecs[position]
        except KeyError:
            raise WorldError(f"no error calculator for position {position}") from None

    def start_ec(
        self,
        position: int,
        ref_key: tuple[str, str] | None = None,
        ref_constant: float | None = None,
    ) -> None:
        """Arm the error calculator of `position`, counting the reference output `ref_key`
        (default: the reference's mode) at `ref_constant` (default: the reference's)."""
        with self.access():
            ec = self.ec(position)
            ec.start(
                self.t,
                ref_key or (self.reference.wiring, self.reference.quantity),
                ref_constant or self.reference.constant,
            )

    def ec_reference_pulses(self, position: int) -> int:
        with self.access():
            ec = self.ec(position)
            return ec.gate_counts(self.reference.count_now(ec.ref_key, ec.ref_constant))

    def abort_ec(self, position: int) -> None:
        with self.access():
            self.ec(position).abort()

    # -- energy measurement and dosage --------------------------------------------------------
    def start_energy(
        self, key: tuple[str, str] | None = None, duration_s: float | None = None
    ) -> None:
        """Measure the reference's energy of `key` (default: its mode) from now; with
        `duration_s` the measurement stops by itself that long after."""
        with self.access():
            key = key or (self.reference.wiring, self.reference.quantity)
            t_stop = None if duration_s is None else self.t + duration_s
            self.energy = EnergyMeasurement(True, key, self.reference.energy[key], t_stop=t_stop)

    def stop_energy(self) -> None:
        with self.access():
            self._stop_energy()

    def _stop_energy(self) -> None:
        em = self.energy
        if em.running:
            em.energy_kwh = self.reference.energy[em.key] - em.start_energy
            em.running, em.measured = False, True

    def energy_so_far(self) -> float:
        with self.access():
            em = self.energy
            if em.running:
                return self.reference.energy[em.key] - em.start_energy
            return em.energy_kwh

    def start_dosage(self, energy_kwh: float) -> None:
        """Switch the output on (if off) and switch the currents off after exactly energy_kwh of
        the reference's current quantity (MTE/ZERA 'dosage', instruments.md 1 and 2.2)."""
        if not 0 < energy_kwh < math.inf:
            raise WorldError(f"dosage energy must be > 0 kWh, got {energy_kwh}")
        with self.access():
            key = (self.reference.wiring, self.reference.quantity)
            self.dosage = Dosage(energy_kwh, True, False, self.reference.energy[key], key, self.t)
            self._currents_blocked = False
            if not self.source.state.output_on:
                self.source.set_output(True, self.wall(), "dosage")
            self._inputs_changed()

    def _schedule_dosage_end(self) -> None:
        d = self.dosage
        delivered = self.reference.energy[d.key] - d.start_energy
        rate = self.reference.pulse_power_w(d.key) / 3.6e6
        d.t_end = self.t + (d.target_kwh - delivered) / rate if rate > 0 else None

    def _finish_dosage(self) -> None:
        self.dosage.running, self.dosage.done = False, True
        self.dosage.t_end = self.t
        self._currents_blocked = True

    def dosage_state(self) -> dict:
        with self.access():
            d = self.dosage
            delivered = self.reference.energy[d.key] - d.start_energy if d.running else 0.0
            return {
                "running": d.running,
                "done": d.done,
                "target_kwh": d.target_kwh,
                "delivered_kwh": d.target_kwh if d.done else delivered,
                "t_start": d.t_start,
                "t_end": d.t_end,
            }

    # -- positions ---------------------------------------------------------------------------
    def position(self, number: int) -> Position:
        """The position, its meter brought up to now with the source's latest inputs (whoever
        looks at a meter sees it as it is at this instant)."""
        self.flush_inputs()
        try:
            pos = self.positions[number]
        except KeyError:
            raise WorldError(
                f"no position {number} (positions: {sorted(self.positions)})"
            ) from None
        if pos.meter.now < self.t:
            busy_from = self.wall()
            pos.advance_to(self.t)
            self.source.watchdog.discount(busy_from, self.wall())  # as in flush_inputs
        return pos
