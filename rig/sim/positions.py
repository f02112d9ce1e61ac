"""Meter positions of the simulated bench: a software meter wired to the source.

The meter model is any class with the A1000 API (docs/conventions.md section 4), chosen by import
path ("package.module:Class"), so a firmware team can plug in its own model.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Protocol

from meter.electrical import ElectricalInputs, Harmonic, PhaseInput, Phasor
from rig.sim.physics import WIRINGS, PhaseSetting

# Pulse totals are closed at least this often (virtual s): a model keeps only a bounded
# history of its pulse output (the A1000: a fixed number of rate segments).
COUNT_SPAN_S = 3600.0

PULSE_OUTPUTS = (
    "ACTIVE_IMPORT",
    "ACTIVE_EXPORT",
    "REACTIVE_Q1Q2",
    "REACTIVE_Q3Q4",
    "LED_ACTIVE",
    "LED_REACTIVE",
)


class MeterModel(Protocol):
    """What the world needs of a meter model (docs/conventions.md section 4)."""

    now: float

    def advance_to(self, t: float) -> None: ...
    def set_inputs(self, t: float, inputs: ElectricalInputs) -> None: ...
    def next_pulse(self, output: Any, after: float) -> float | None: ...
    def pulse_count(self, output: Any, t0: float, t1: float) -> int: ...
    def register_bank(self) -> Any: ...


def finds_nth_pulse(meter: Any) -> bool:
    """Does the model's next_pulse take `n` (the n-th edge in one call, as the A1000's does)?
    Without it an error calculator steps edge by edge."""
    try:
        return "n" in inspect.signature(meter.next_pulse).parameters
    except (TypeError, ValueError):
        return False


def pulse_output_enum(meter: Any) -> Any:
    """The PulseOutput enum the model uses: its own module's, else meter.a1000's."""
    module = importlib.import_module(type(meter).__module__)
    enum = getattr(module, "PulseOutput", None)
    if enum is None:
        enum = importlib.import_module("meter.a1000").PulseOutput
    return enum


def electrical_inputs(
    phases: tuple[PhaseSetting, ...], frequency: float, wiring: str
) -> ElectricalInputs:
    """What the meter's terminals carry. A 3P3W meter has no L2 current element, so its L2
    current is not connected (zero); its voltages are the source's phase voltages, from which
    the meter forms the line voltages (docs/conventions.md section 1)."""
    out = []
    for k, ph in enumerate(phases):
        i_rms = 0.0 if (wiring == "3P3W" and k == 1) else ph.i_rms
        harmonics = tuple(
            Harmonic(n, fu, fi if i_rms else 0.0, angle) for n, fu, fi, angle in ph.harmonic_pairs()
        )
        out.append(PhaseInput(Phasor(ph.u_rms, ph.u_angle), Phasor(i_rms, ph.i_angle), harmonics))
    return ElectricalInputs((out[0], out[1], out[2]), frequency)


@dataclass
class Position:
    """One meter position. `link` is filled in when its IEC 62056-21 port is served."""

    number: int
    wiring: str
    meter: Any
    address: str = ""
    link: str | None = None
    _inputs: ElectricalInputs | None = None
    _outputs: dict[str, Any] = field(default_factory=dict)
    _totals: dict[str, int] = field(default_factory=dict)
    _counted_from: float = 0.0
    # The model's own edge counts when it was attached (models with `pulses_emitted`, as the
    # A1000); None: the position counts the edges itself at every input change.
    _base: dict[str, int] | None = None
    finds_nth: bool = False  # the model's next_pulse takes n (set when a meter is attached)

    def __post_init__(self) -> None:
        if self.wiring not in WIRINGS:
            raise ValueError(
                f"position {self.number}: unknown wiring {self.wiring!r} "
                f"(expected one of {', '.join(WIRINGS)})"
            )

    def attach(self, t: float) -> None:
        members = pulse_output_enum(self.meter).__members__
        self._plug(self.meter, t, [name for name in PULSE_OUTPUTS if name in members])
        self._totals = dict.fromkeys(self._outputs, 0)

    def replace_meter(self, meter: Any, t: float) -> None:
        """Put another meter model in this position at time t, with the same inputs."""
        self._totals = self.pulse_totals(t)  # what the old meter emitted stays counted
        self._plug(meter, t, list(self._outputs))
        if self._inputs is not None:
            meter.set_inputs(t, self._inputs)

    def _plug(self, meter: Any, t: float, outputs: list[str]) -> None:
        """`meter` in this position from t on, its pulse `outputs` looked up by name."""
        self.meter = meter
        self.finds_nth = finds_nth_pulse(meter)
        if meter.now < t:
            meter.advance_to(t)
        enum = pulse_output_enum(meter)
        self._outputs = {name: enum[name] for name in outputs}
        self._counted_from = t
        self._base = self._emitted(t)

    def _emitted(self, t: float) -> dict[str, int] | None:
        """The model's own count of each output's edges up to t, if it keeps one."""
        own = getattr(self.meter, "pulses_emitted", None)
        if own is None:
            return None
        return dict(zip(self._outputs, own(self._outputs.values(), t), strict=True))

    def output(self, name: str) -> Any:
        try:
            return self._outputs[name]
        except KeyError:
            raise ValueError(
                f"position {self.number}: unknown pulse output {name!r} "
                f"(known: {', '.join(self._outputs)})"
            ) from None

    def set_inputs(self, t: float, inputs: ElectricalInputs) -> None:
        """The meter's terminals carry `inputs` from t on (see `electrical_inputs`)."""
        if inputs == self._inputs:
            return
        if self._base is None:  # a model that does not count its own edges: close the span
            self._count_pulses(t)
        self.meter.set_inputs(t, inputs)
        self._inputs = inputs

    def advance_to(self, t: float) -> None:
        self.meter.advance_to(t)
        if self._base is None and t - self._counted_from >= COUNT_SPAN_S:
            self._count_pulses(t)

    def next_pulse(self, output: str, after: float) -> float | None:
        """Next rising edge strictly after `after`, as the model reports it (the A1000 rounds
        its exact edges so that this holds and asking from an edge gives the next one)."""
        return self._after(self.meter.next_pulse(self.output(output), after), after, output)

    def pulse_count(self, output: str, t0: float, t1: float) -> int:
        """The model's rising edges in [t0, t1) (inputs constant since t0)."""
        return self.meter.pulse_count(self.output(output), t0, t1)

    def nth_pulse(self, output: str, after: float, n: int) -> float | None:
        """The n-th rising edge strictly after `after` (models where `finds_nth_pulse`)."""
        return self._after(self.meter.next_pulse(self.output(output), after, n), after, output)

    def _after(self, edge: float | None, after: float, output: str) -> float | None:
        if edge is not None and not edge > after:
            # A model breaking its contract would stall the error calculator: say which.
            raise RuntimeError(
                f"position {self.number}: meter model returned pulse edge "
                f"{edge!r} not after {after!r} for {output}"
            )
        return edge

    def _count_pulses(self, t: float) -> None:
        """Close the constant-input span [counted_from, t) into the running totals."""
        if t > self._counted_from:
            for name, n in self._span_counts(t).items():
                self._totals[name] += n
        self._counted_from = t

    def _span_counts(self, t: float) -> dict[str, int]:
        """Every output's edges in [counted_from, t): in one call where the model counts
        several outputs at once (`pulse_counts`, as the A1000's), else output by output."""
        t0 = self._counted_from
        many = getattr(self.meter, "pulse_counts", None)
        if many is not None:
            return dict(zip(self._outputs, many(self._outputs.values(), t0, t), strict=True))
        return {name: self.meter.pulse_count(out, t0, t) for name, out in self._outputs.items()}

    def pulse_totals(self, t: float) -> dict[str, int]:
        """Pulses of every output since the bench started, up to time t (the meter is at t)."""
        if self._base is not None:
            now = self._emitted(t)
            assert now is not None
            return {name: self._totals[name] + now[name] - self._base[name] for name in now}
        if t <= self._counted_from:
            return dict(self._totals)
        return {name: self._totals[name] + n for name, n in self._span_counts(t).items()}

    @property
    def inputs(self) -> ElectricalInputs | None:
        return self._inputs
