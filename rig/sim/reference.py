"""The simulated reference standard and its per-position error calculators.

How a real error calculator measures (instruments.md section 3 [H], ZERA sec1module): the gate
opens on a meter pulse edge, reference pulses are counted until N_dut further meter pulses have
passed, target = floor(N_dut * C_ref / C_dut), error % = (target - counted) / counted * 100.
Because the gate is synchronous with the meter pulses, the only quantisation is +-1 reference
count. Here the reference pulse train is not stepped: the count at time t is
floor(E_ref(t) * C_ref), with E_ref the reference's accumulated energy (kWh) since the world
started, so counts are exact at any pulse edge the meter model computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from rig.sim.physics import WIRINGS, PhaseSetting, Powers, power_factor, powers

QUANTITIES = ("P", "Q", "S")


@dataclass(frozen=True)
class ReferenceSpec:
    """error: relative error of every magnitude reading and of the pulse output (e.g. 2e-5).
    constant: reference pulse constant in imp/kWh (ZERA COM config 5e8 imp/kWh [H],
    instruments.md section 3)."""

    error: float = 0.0
    constant: float = 5e8


@dataclass(frozen=True)
class Reading:
    """One complete set of actual values, as a reference standard reports them."""

    u: tuple[float, float, float]           # rms including harmonics
    i: tuple[float, float, float]
    u_fundamental: tuple[float, float, float]
    i_fundamental: tuple[float, float, float]
    u_angle: tuple[float, float, float]
    i_angle: tuple[float, float, float]
    p: tuple[float, float, float]
    q: tuple[float, float, float]
    s: tuple[float, float, float]
    pf: tuple[float, float, float]
    p_total: float
    q_total: float
    s_total: float
    frequency: float
    wiring: str


class ReferenceStandard:
    """Measures what the source terminals carry, with its configured error."""

    def __init__(self, spec: ReferenceSpec) -> None:
        if spec.constant <= 0:
            raise ValueError(f"reference constant must be > 0 imp/kWh, got {spec.constant}")
        self.spec = spec
        self.constant = spec.constant
        self.wiring = "3P4W"
        self.quantity = "P"
        # The frequency outputs by the power type they carry (ZERA: fo0 P from POW1, fo1 Q from
        # POW2, fo2 S from POW3), each as (wiring, quantity): what an error calculator counts.
        self.outputs: dict[str, tuple[str, str]] = {q: ("3P4W", q) for q in QUANTITIES}
        # Accumulated |energy| in kWh per (wiring, quantity), including the reference's error.
        self.energy: dict[tuple[str, str], float] = {
            (w, q): 0.0 for w in WIRINGS for q in QUANTITIES
        }
        self._powers: dict[str, Powers] = {}
        self._phases: tuple[PhaseSetting, ...] = ()
        self._frequency = 50.0

    def set_mode(self, wiring: str, quantity: str) -> None:
        if wiring not in WIRINGS:
            raise ValueError(f"unknown reference wiring {wiring!r}")
        if quantity not in QUANTITIES:
            raise ValueError(f"unknown reference quantity {quantity!r}")
        self.wiring, self.quantity = wiring, quantity

    def set_outputs(self, outputs: dict[str, tuple[str, str]]) -> None:
        """Set what each frequency output carries (power type -> (wiring, quantity))."""
        for power_type, (wiring, quantity) in outputs.items():
            if wiring not in WIRINGS or quantity not in QUANTITIES:
                raise ValueError(f"output {power_type}: unknown mode {(wiring, quantity)}")
        self.outputs.update(outputs)

    def output(self, power_type: str) -> tuple[str, str]:
        """(wiring, quantity) of the frequency output carrying `power_type` (P, Q or S)."""
        try:
            return self.outputs[power_type]
        except KeyError:
            raise ValueError(f"no frequency output for power type {power_type!r}") from None

    def set_constant(self, constant: float) -> None:
        if constant <= 0:
            raise ValueError(f"reference constant must be > 0 imp/kWh, got {constant}")
        self.constant = constant

    def observe(
        self, phases: tuple[PhaseSetting, PhaseSetting, PhaseSetting], frequency: float
    ) -> None:
        """The terminals changed (the world calls this at every input change)."""
        self._phases = phases
        self._frequency = frequency
        self._powers = {w: powers(phases, w) for w in WIRINGS}

    def pulse_power_w(self, key: tuple[str, str]) -> float:
        """Power behind the pulse output of mode `key`, as the reference measures it (W)."""
        return abs(self._powers[key[0]].quantity(key[1])) * (1 + self.spec.error)

    def accumulate(self, dt: float) -> None:
        for key in self.energy:
            self.energy[key] += self.pulse_power_w(key) * dt / 3.6e6

    def count_function(
        self, key: tuple[str, str], constant: float, t0: float
    ) -> Callable[[float], int]:
        """Reference count at any time t >= t0 of the current segment (inputs constant)."""
        e0 = self.energy[key]
        rate = self.pulse_power_w(key) / 3.6e6

        def count(t: float) -> int:
            return math.floor((e0 + rate * (t - t0)) * constant)

        return count

    def total(self, wiring: str, quantity: str) -> float:
        """Signed total P, Q or S of an arrangement, as measured."""
        return self._powers[wiring].quantity(quantity) * (1 + self.spec.error)

    def count_now(self, key: tuple[str, str], constant: float) -> int:
        return math.floor(self.energy[key] * constant)

    def reading(self) -> Reading:
        g = 1 + self.spec.error
        ph = self._phases
        pw = self._powers[self.wiring]
        per_phase = powers(ph, "3P4W")
        # Per-phase power, as the reference's three elements see it even in 3-wire mode.
        p = tuple(x * g for x in per_phase.p_elements)
        q = tuple(x * g for x in per_phase.q_elements)
        s = tuple(x * g for x in per_phase.s_elements)
        return Reading(
            u=tuple(x.u_total_rms * g for x in ph),
            i=tuple(x.i_total_rms * g for x in ph),
            u_fundamental=tuple(x.u_rms * g for x in ph),
            i_fundamental=tuple(x.i_rms * g for x in ph),
            u_angle=tuple(x.u_angle for x in ph),
            i_angle=tuple(x.i_angle for x in ph),
            p=p,
            q=q,
            s=s,
            pf=tuple(power_factor(a, b) for a, b in zip(p, s, strict=True)),
            p_total=pw.p * g,
            q_total=pw.q * g,
            s_total=pw.s * g,
            frequency=self._frequency,
            wiring=self.wiring,
        )


class EcStatus(IntEnum):
    """The state of a simulated error calculator (each dialect reports it in its own form)."""

    IDLE = 0
    WAITING = 1  # waiting for the first meter pulse
    RUNNING = 2
    READY = 4
    ABORTED = 8


# A calculator counting (waiting for its first pulse, or gating). A module constant: in Python
# 3.11 each `EcStatus.X` is a look-up through the enum class's __getattr__ (about 0.2 us), and
# the world asks this of every calculator in every segment of time, which grows with positions
# times exchanges.
COUNTING = frozenset((EcStatus.WAITING, EcStatus.RUNNING))


@dataclass(frozen=True)
class EcResult:
    error_pct: float
    dut_pulses: int
    ref_counts: int
    target: int
    t_start: float
    t_end: float
    energy_kwh: float


@dataclass
class ErrorCalculator:
    """One position's error calculator."""

    position: int
    input_position: int = 0  # whose meter the pulse input sees (0: own position)
    dut_constant: float = 10000.0  # imp/kWh of the meter output counted
    mrate: int = 10  # N_dut: meter pulses in the gate
    output: str = "LED_ACTIVE"  # meter pulse output the scanning head sees
    continuous: bool = False
    status: EcStatus = EcStatus.IDLE
    results: list[EcResult] = field(default_factory=list)
    pulses_seen: int = 0
    ref_key: tuple[str, str] = ("3P4W", "P")
    ref_constant: float = 5e8
    _cursor: float = 0.0  # pulses up to here have been looked at
    _gate_open: float = 0.0
    _ref_open: int = 0

    def __post_init__(self) -> None:
        if self.input_position == 0:
            self.input_position = self.position

    def gate_counts(self, ref_now: int) -> int:
        """Reference counts of the current gate (running) or of the last result."""
        if self.status is EcStatus.RUNNING:
            return ref_now - self._ref_open
        return self.last.ref_counts if self.last else 0

    def configure(
        self,
        *,
        dut_constant: float | None = None,
        mrate: int | None = None,
        output: str | None = None,
        continuous: bool | None = None,
    ) -> None:
        if dut_constant is not None:
            if not dut_constant > 0:
                raise ValueError(f"DUT constant must be > 0, got {dut_constant}")
            self.dut_constant = dut_constant
        if mrate is not None:
            if not 1 <= mrate < 2**32:
                raise ValueError(f"MRATE (pulses to measure) must be 1..2^32-1, got {mrate}")
            self.mrate = mrate
        if output is not None:
            self.output = output
        if continuous is not None:
            self.continuous = continuous

    @property
    def target(self) -> int:
        return math.floor(self.mrate * self.ref_constant / self.dut_constant)

    @property
    def progress_pct(self) -> float:
        if self.status is EcStatus.READY:
            return 100.0
        return 100.0 * self.pulses_seen / self.mrate

    def start(self, now: float, ref_key: tuple[str, str], ref_constant: float) -> None:
        self.ref_key, self.ref_constant = ref_key, ref_constant
        self.status = EcStatus.WAITING
        self.pulses_seen = 0
        self._cursor = now

    def abort(self) -> None:
        if self.status in COUNTING:
            self.status = EcStatus.ABORTED

    def advance(
        self,
        t1: float,
        next_pulse: Callable[[float], float | None],
        ref_count: Callable[[float], int],
        pulse_count: Callable[[float, float], int] | None = None,
        nth_pulse: Callable[[float, int], float | None] | None = None,
    ) -> None:
        """Scan meter pulse edges in (cursor, t1] with the inputs of the current segment.

        next_pulse(after): the model's first edge strictly after `after`.
        pulse_count(t0, t1): the model's edges in [t0, t1) (optional). With it, long gates are
        not stepped edge by edge: the edges up to half a pulse period before the closing edge
        (guessed from the period) are counted in one call, then the closing edge is stepped
        to, so it is always the model's own, jitter or not. A guess past the close (the rate
        rose) is retried with half the period.
        nth_pulse(after, n): the model's n-th edge after `after` (optional, with pulse_count):
        a running gate's closing edge in one call, the edges before it counted only when the
        gate stays open past t1.
        """
        period: float | None = None
        on_edge = False  # is the cursor an edge found in this call?
        jump = pulse_count is not None
        while self.status in COUNTING:
            remaining = self.mrate - self.pulses_seen
            if self.status is EcStatus.RUNNING and nth_pulse and pulse_count:
                close = nth_pulse(self._cursor, remaining)
                if close is None or close > t1:
                    after = math.nextafter(self._cursor, math.inf)
                    self.pulses_seen += pulse_count(after, math.nextafter(t1, math.inf))
                    self._cursor = t1
                    return
                self.pulses_seen = self.mrate
                self._cursor = close
                self._close_gate(close, ref_count(close))
                continue
            if jump and self.status is EcStatus.RUNNING and period and remaining > 1:
                assert pulse_count is not None
                guess = min(self._cursor + (remaining - 0.5) * period, t1)
                after = math.nextafter(self._cursor, math.inf)
                counted = pulse_count(after, math.nextafter(guess, math.inf))  # (cursor, guess]
                if counted >= remaining:
                    period /= 2  # guessed past the close: a shorter step
                    jump = period > 1e-9
                    continue
                if counted > 0:
                    period = (guess - self._cursor) / counted
                self.pulses_seen += counted
                self._cursor, on_edge = guess, False
                if guess >= t1:
                    return
                continue
            edge = next_pulse(self._cursor)
            if edge is None or edge > t1:
                self._cursor = t1
                return
            if on_edge:
                period = edge - self._cursor
            self._cursor, on_edge = edge, True
            if self.status is EcStatus.WAITING:
                self._open_gate(edge, ref_count(edge))
                continue
            self.pulses_seen += 1
            if self.pulses_seen >= self.mrate:
                self._close_gate(edge, ref_count(edge))

    def _open_gate(self, t: float, ref: int) -> None:
        self.status = EcStatus.RUNNING
        self.pulses_seen = 0
        self._gate_open, self._ref_open = t, ref

    def _close_gate(self, t: float, ref: int) -> None:
        counted = ref - self._ref_open
        target = self.target
        error = (target - counted) / counted * 100.0 if counted > 0 else math.inf
        self.results.append(
            EcResult(
                error_pct=error,
                dut_pulses=self.pulses_seen,
                ref_counts=counted,
                target=target,
                t_start=self._gate_open,
                t_end=t,
                energy_kwh=counted / self.ref_constant,
            )
        )
        if self.continuous:
            # The closing edge opens the next gate (no meter pulse is lost between repeats).
            self._open_gate(t, ref)
        else:
            self.status = EcStatus.READY

    @property
    def last(self) -> EcResult | None:
        return self.results[-1] if self.results else None
