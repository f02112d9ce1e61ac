"""Energy registers and pulse outputs, integrated exactly in rational arithmetic.

Between two rate changes (input change, tariff switch, power change) every registered power
is constant, so the registers are kept *lazily*: closed values (exact rationals, kWh) at the
start of the current segment plus a constant rate. Reading a register at time t costs one
multiplication; nothing is done per event of other sources. Rates and times are floats
converted exactly to rationals, so the register is the exact integral of the
piecewise-constant float rate: no rounding accumulates, a month of virtual time does not
drift (resolution: exact; a float rate has 53 bits).

Pulse outputs (manual 1.1) follow the registered energy: output k-th rising edge is the
instant the output's cumulative energy reaches k / constant. Edges are computed on demand
(never stored) from a bounded history of rate segments, so ``next_pulse`` also answers for
times a little in the past.

An exact edge E is reported as the largest float not after it, floor(E). That is the one
rounding under which ``next_pulse`` and ``pulse_count`` agree at every float time: an edge
counts in [t0, t1) exactly when its float is in [t0, t1), and ``next_pulse(after)`` returns
the first float edge > ``after``. So asking again from a returned edge gives the next edge,
never the same one again; an edge that lies within one float step after ``after`` is *at*
``after`` (counted from there by ``pulse_count``) and is not returned.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

# gmpy2's mpq is GMP's exact rational in C: the arithmetic of fractions.Fraction, about 15x
# faster. Integers out of it (floor, ceil) are mpz and are made int before they leave.
from gmpy2 import mpq

QUANTITIES = ("import", "export", "q1", "q2", "q3", "q4", "s_import", "s_export")
_QI = {q: i for i, q in enumerate(QUANTITIES)}
HISTORY_SEGMENTS = 1024


class PulseOutput(StrEnum):
    """The 4 pulse outputs and 2 LEDs of the A1000 (manual 1.1 and Appendix C)."""

    ACTIVE_IMPORT = "active_import"  # output 1
    ACTIVE_EXPORT = "active_export"  # output 2
    REACTIVE_Q1Q2 = "reactive_q1q2"  # output 3
    REACTIVE_Q3Q4 = "reactive_q3q4"  # output 4
    LED_ACTIVE = "led_active"  # left LED: active energy, either direction
    LED_REACTIVE = "led_reactive"  # right LED: reactive energy, any quadrant

    @property
    def is_reactive(self) -> bool:
        return self in (
            PulseOutput.REACTIVE_Q1Q2,
            PulseOutput.REACTIVE_Q3Q4,
            PulseOutput.LED_REACTIVE,
        )

    @property
    def is_led(self) -> bool:
        return self in (PulseOutput.LED_ACTIVE, PulseOutput.LED_REACTIVE)


_OUTPUT_SOURCES: dict[PulseOutput, tuple[int, ...]] = {
    PulseOutput.ACTIVE_IMPORT: (_QI["import"],),
    PulseOutput.ACTIVE_EXPORT: (_QI["export"],),
    PulseOutput.REACTIVE_Q1Q2: (_QI["q1"], _QI["q2"]),
    PulseOutput.REACTIVE_Q3Q4: (_QI["q3"], _QI["q4"]),
    PulseOutput.LED_ACTIVE: (_QI["import"], _QI["export"]),
    PulseOutput.LED_REACTIVE: (_QI["q1"], _QI["q2"], _QI["q3"], _QI["q4"]),
}

ZERO = mpq(0)
_HOUR = mpq(3600)


def _float_floor(x: mpq) -> float:
    """The largest float <= x (float() alone rounds to nearest, half the time upwards)."""
    f = float(x)
    n, d = f.as_integer_ratio()  # exact; cross-multiplied to skip building a rational
    return math.nextafter(f, -math.inf) if n * x.denominator > x.numerator * d else f


def floor_int(x: mpq) -> int:
    """floor(x) as an int (math.floor of an mpq gives an mpz, which json and int checks refuse)."""
    return int(x.numerator // x.denominator)


def _ceil_int(x: mpq) -> int:
    return -int(-x.numerator // x.denominator)


def format_register(value: mpq, decimals: int, modulus: int) -> str:
    """A register as the meter shows it: 99999.99 or 999999.9 (8 characters) with rollover at
    `modulus`, truncated, never rounded up (manual 1.1 item 5)."""
    scale = 10**decimals
    units = floor_int(value * scale) % (modulus * scale)
    return f"{units / scale:08.{decimals}f}"


@dataclass(frozen=True)
class _Segment:
    start: mpq  # true time
    energy: tuple[mpq, ...]  # per quantity total at start, kWh
    rates: tuple[mpq, ...]  # per quantity, kW
    # Per output: (energy at start, rate in kWh per second); filled on first use.
    _sums: dict[PulseOutput, tuple[mpq, mpq]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def sums(self, output: PulseOutput) -> tuple[mpq, mpq]:
        got = self._sums.get(output)
        if got is None:
            src = _OUTPUT_SOURCES[output]
            e0 = sum((self.energy[i] for i in src), ZERO)
            rate = sum((self.rates[i] for i in src), ZERO) / _HOUR
            got = self._sums[output] = (e0, rate)
        return got


class EnergyRegisters:
    """Totals and 4 tariff registers per quantity, exact, with the pulse history."""

    def __init__(self, t: float, tariff: int) -> None:
        n = len(QUANTITIES)
        self.closed: list[list[mpq]] = [[ZERO] * 5 for _ in range(n)]
        self.rates: tuple[mpq, ...] = (ZERO,) * n
        self.seg_start = mpq(t)
        self.tariff = tariff
        self._history: deque[_Segment] = deque(maxlen=HISTORY_SEGMENTS)
        self._history.append(_Segment(self.seg_start, (ZERO,) * n, self.rates))

    # -- integration ------------------------------------------------------------------

    def close(self, t: float) -> None:
        """Fold the running segment into the closed values at time t."""
        ft = mpq(t)
        dt = ft - self.seg_start
        if dt < 0:
            raise ValueError(f"register close at {t} before segment start {float(self.seg_start)}")
        if dt:
            for i, r in enumerate(self.rates):
                if r:
                    inc = r * dt / _HOUR
                    row = self.closed[i]
                    row[0] += inc
                    row[self.tariff] += inc
        self.seg_start = ft

    def set_rates(self, t: float, rates_kw: tuple[float, ...]) -> None:
        self.close(t)
        new = tuple(mpq(r) for r in rates_kw)
        if new != self.rates:
            self.rates = new
            self._history.append(
                _Segment(self.seg_start, tuple(row[0] for row in self.closed), self.rates)
            )

    def keeps_after_change(self, t: float) -> bool:
        """Will the pulse history still reach back to t after one more rate change? (It keeps
        the last HISTORY_SEGMENTS segments: a full one drops its oldest.)"""
        hist = self._history
        oldest = hist[1] if len(hist) == hist.maxlen and len(hist) > 1 else hist[0]
        return mpq(t) >= oldest.start

    def set_tariff(self, t: float, tariff: int) -> None:
        self.close(t)
        self.tariff = tariff

    # -- reading ----------------------------------------------------------------------

    def value(self, quantity: str, tariff: int, t: float) -> mpq:
        """Register value (kWh...) of ``quantity`` for tariff 0 (total) or 1..4 at time t."""
        i = _QI[quantity]
        v = self.closed[i][tariff]
        if tariff in (0, self.tariff) and self.rates[i]:
            v += self.rates[i] * (mpq(t) - self.seg_start) / _HOUR
        return v

    def total(self, quantity: str, t: float) -> mpq:
        return self.value(quantity, 0, t)

    # -- pulses -----------------------------------------------------------------------

    def _segment_index(self, ft: mpq) -> int:
        hist = self._history
        if ft >= hist[-1].start:  # the common case: a time in the running segment
            return len(hist) - 1
        if ft < hist[0].start:
            raise ValueError(
                f"time {float(ft)} is before the kept pulse history (from {float(hist[0].start)})"
            )
        lo, hi = 0, len(hist) - 1
        while lo < hi:  # last segment with start <= ft
            mid = (lo + hi + 1) // 2
            if hist[mid].start <= ft:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def output_energy(self, output: PulseOutput, t: float) -> mpq:
        ft = mpq(t)
        seg = self._history[self._segment_index(ft)]
        e0, rate = seg.sums(output)
        return e0 + rate * (ft - seg.start)

    def next_pulse(
        self, output: PulseOutput, constant: mpq, after: float, n: int = 1
    ) -> float | None:
        """Rising edge of the ``n``-th pulse strictly after ``after`` (inputs after the last
        segment assumed constant); None if the output does not advance. The same edge as
        asking for the next one ``n`` times, each from the edge before."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        ft = mpq(after)
        hist = self._history
        idx = self._segment_index(ft)
        e0, rate = hist[idx].sums(output)
        e = e0 + rate * (ft - hist[idx].start)
        target = mpq(floor_int(e * constant) + 1) / constant
        step = 1 / constant
        skip = n - 1  # edges still to pass once the first one after ``after`` is found
        while True:
            seg = hist[idx]
            e0, rate = seg.sums(output)
            end = hist[idx + 1].start if idx + 1 < len(hist) else None
            if rate > 0:
                t_edge = seg.start + (target - e0) / rate
                if end is None or t_edge < end:
                    edge = _float_floor(t_edge)
                    if edge <= after:
                        # This edge's float is ``after`` itself (e.g. asked from it): the next.
                        target += step
                        continue
                    if skip == 0:
                        return edge
                    # Pulses are far more than a float step apart: the n-th is n-1 steps on.
                    target += skip * step
                    skip = 0
                    continue
            if end is None:
                return None
            idx += 1

    def pulse_count(self, output: PulseOutput, constant: mpq, t0: float, t1: float) -> int:
        """Rising edges in [t0, t1)."""
        return self.pulse_counts(((output, constant),), t0, t1)[0]

    def pulse_counts(
        self, outputs: Iterable[tuple[PulseOutput, mpq]], t0: float, t1: float
    ) -> list[int]:
        """Rising edges in [t0, t1) of each (output, constant), the times converted once."""
        if t1 <= t0:
            return [0 for _ in outputs]
        ft0, ft1 = mpq(t0), mpq(t1)
        last = self._history[-1]
        # The common case: a span of the running segment (e.g. closed at an input change).
        in_last = ft0 >= last.start
        counts = []
        for output, constant in outputs:
            if in_last:
                e_start, rate = last.sums(output)
                if not rate:  # an output at rest has no edge
                    counts.append(0)
                    continue
                e0 = e_start + rate * (ft0 - last.start)
                e1 = e_start + rate * (ft1 - last.start)
            else:
                e0 = self.output_energy(output, t0)
                e1 = self.output_energy(output, t1)
            lo = max(_ceil_int(e0 * constant), 1)
            hi = _ceil_int(e1 * constant) - 1
            counts.append(max(0, hi - lo + 1))
        return counts

    def output_rate(self, output: PulseOutput) -> mpq:
        return sum((self.rates[i] for i in _OUTPUT_SOURCES[output]), ZERO)

    # -- persistence ------------------------------------------------------------------

    def snapshot(self, t: float) -> dict[str, list[str]]:
        """Register values at t as exact fractions 'num/den' (closed + running segment)."""
        return {
            q: [str(self.value(q, k, t)) for k in range(5)] for q in QUANTITIES
        }

    def restore(self, t: float, d: dict[str, list[str]], tariff: int) -> None:
        for q in QUANTITIES:
            vals = d.get(q)
            if vals is None or len(vals) != 5:
                raise ValueError(f"state: register {q!r} missing or malformed")
            self.closed[_QI[q]] = [mpq(v) for v in vals]
        self.seg_start = mpq(t)
        self.tariff = tariff
        self.rates = (ZERO,) * len(QUANTITIES)
        self._history.clear()
        self._history.append(
            _Segment(self.seg_start, tuple(row[0] for row in self.closed), self.rates)
        )
