"""A minimal meter with the A1000 API (docs/conventions.md section 4), for testing the world alone.

It registers |P| and |Q| with a configured relative error and emits pulses when its energy
accumulator crosses a multiple of 1/constant; pulse edges are computed, not searched.
"""

from __future__ import annotations

import math
from enum import Enum

from meter.electrical import ElectricalInputs, Wiring, measure


class PulseOutput(Enum):
    ACTIVE_IMPORT = 1
    ACTIVE_EXPORT = 2
    REACTIVE_Q1Q2 = 3
    REACTIVE_Q3Q4 = 4
    LED_ACTIVE = 5
    LED_REACTIVE = 6


class MeterDouble:
    def __init__(self, *, start_time: float, constant: float = 10000.0, error: float = 0.0,
                 wiring: str = "3P4W") -> None:
        self.now = start_time
        self.constant = constant
        self.error = error
        self.wiring = Wiring(wiring)
        self.energy = dict.fromkeys(PulseOutput, 0.0)        # kWh at self.now
        self.rate = dict.fromkeys(PulseOutput, 0.0)          # kW
        self.inputs: list[tuple[float, ElectricalInputs]] = []
        self.powered = False

    def advance_to(self, t: float) -> None:
        if t < self.now:
            raise ValueError(f"advance_to({t}) before now {self.now}")
        for out in PulseOutput:
            self.energy[out] += self.rate[out] * (t - self.now) / 3600.0
        self.now = t

    def set_inputs(self, t: float, inputs: ElectricalInputs) -> None:
        self.advance_to(t)
        self.inputs.append((t, inputs))
        m = measure(inputs, self.wiring)
        self.powered = m.max_voltage > 0.5 * 230
        g = (1 + self.error) / 1000.0 if self.powered else 0.0
        p, q = m.p * g, m.q * g
        self.rate = {
            PulseOutput.ACTIVE_IMPORT: max(p, 0.0), PulseOutput.ACTIVE_EXPORT: max(-p, 0.0),
            PulseOutput.REACTIVE_Q1Q2: max(q, 0.0), PulseOutput.REACTIVE_Q3Q4: max(-q, 0.0),
            PulseOutput.LED_ACTIVE: abs(p), PulseOutput.LED_REACTIVE: abs(q),
        }

    def _energy_at(self, out: PulseOutput, t: float) -> float:
        return self.energy[out] + self.rate[out] * (t - self.now) / 3600.0

    def next_pulse(self, output: PulseOutput, after: float) -> float | None:
        rate = self.rate[output]
        if rate <= 0:
            return None
        k = math.floor(self._energy_at(output, after) * self.constant) + 1
        while True:
            # Rounding can put the edge of pulse k at or before `after` itself; take the next.
            t = self.now + (k / self.constant - self.energy[output]) * 3600.0 / rate
            if t > after:
                return t
            k += 1

    def pulse_count(self, output: PulseOutput, t0: float, t1: float) -> int:
        c = self.constant
        return (math.floor(self._energy_at(output, t1) * c)
                - math.floor(self._energy_at(output, t0) * c))


class PluggedMeter(MeterDouble):
    """The double with the A1000 constructor, to plug in by import path (a firmware team's
    own model): PluggedMeter(config, start_time=..., state_dir=..., defects=...)."""

    def __init__(self, config: dict, *, start_time: float, state_dir: object = None,
                 defects: object = ()) -> None:
        super().__init__(start_time=start_time, constant=config["constant"],
                         error=config["error"], wiring=config["wiring"])
        self.config = config


def plugged_config(obj: dict, source: str) -> dict:
    """Config factory for PluggedMeter: takes what it needs from the merged A1000-style dict."""
    try:
        return {"constant": float(obj["constants"]["active_imp_per_kwh"]),
                "error": float(obj["error_model"]["active"]["offset"]) / 100.0,
                "wiring": str(obj["wiring"])}
    except (KeyError, TypeError) as e:
        raise ValueError(f"{source}: missing {e}") from None


class JitterMeter(MeterDouble):
    """Pulse edges displaced from the ideal ones by up to `jitter` of a period (deterministic),
    as a meter that updates its pulse output from internal accumulation does."""

    def __init__(self, *, jitter: float = 0.3, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.jitter = jitter

    def edge(self, output: PulseOutput, k: int) -> float:
        rate = self.rate[output]
        period = 3600.0 / (rate * self.constant)
        ideal = self.now + (k / self.constant - self.energy[output]) * 3600.0 / rate
        return ideal + self.jitter * period * math.sin(1.7 * k)

    def next_pulse(self, output: PulseOutput, after: float) -> float | None:
        if self.rate[output] <= 0:
            return None
        k = math.floor(self._energy_at(output, after) * self.constant) - 2
        while self.edge(output, k) <= after:
            k += 1
        return self.edge(output, k)

    def pulse_count(self, output: PulseOutput, t0: float, t1: float) -> int:
        """Consistent with next_pulse: jittered edges in [t0, t1)."""
        if self.rate[output] <= 0 or t1 <= t0:
            return 0
        lo = math.floor(self._energy_at(output, t0) * self.constant) - 2
        hi = math.floor(self._energy_at(output, t1) * self.constant) + 2
        return sum(1 for k in range(lo, hi + 1) if t0 <= self.edge(output, k) < t1)
