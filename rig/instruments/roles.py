"""The roles a bench needs, as Protocols, and the records they return (instruments.md 2.0).

A driver class implements one or more roles; the Bench asks for instruments by role, never by model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from rig.instruments.loadpoint import LoadPoint

Wiring = Literal["3P4W", "3P3W"]


class Quantity(StrEnum):
    """What a reference or an error calculator measures."""

    ACTIVE = "active"
    REACTIVE = "reactive"


@dataclass(frozen=True)
class SourceCapabilities:
    """What a source model can deliver; points beyond it are refused before anything is sent."""

    max_voltage: float
    max_current: float
    min_frequency: float
    max_frequency: float
    max_harmonic_order: int


@dataclass(frozen=True)
class SourceStatus:
    """Output state and fault flags (interlocks, amplifier errors) of a source."""

    output_on: bool
    faults: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhaseReading:
    """Reference-meter values of one phase (angles as docs/conventions.md 1)."""

    voltage: float
    current: float
    voltage_angle: float
    current_angle: float
    p: float
    q: float
    s: float
    pf: float


@dataclass(frozen=True)
class Readings:
    """One reading of the reference meter: three phases, totals and frequency."""

    phases: tuple[PhaseReading, PhaseReading, PhaseReading]
    p: float
    q: float
    s: float
    pf: float
    frequency: float


class ECState(StrEnum):
    """Error-calculator state (ZERA EC STATUS, instruments.md 2.3)."""

    IDLE = "idle"
    WAITING = "waiting"  # armed, waiting for the first meter pulse
    RUNNING = "running"
    READY = "ready"
    ABORTED = "aborted"


@dataclass(frozen=True)
class ECStatus:
    """Progress and result of one error-calculator measurement."""

    state: ECState
    progress: float  # % of the DUT pulses seen
    error: float | None  # meter error in %, None before the first result
    target: int  # expected reference counts floor(N * C_ref / C_dut)
    reference_counts: int  # reference pulses counted in the last/current gate
    measurements: int  # completed measurements (continuous mode counts up)


@dataclass(frozen=True)
class ECResult:
    """The outcome of a finished single measurement (a calculator polled READY): what a
    measurement keeps, in fewer queries than a full ECStatus."""

    error: float  # meter error in %
    reference_counts: int  # reference pulses counted in the gate


@runtime_checkable
class PowerSource(Protocol):
    """A three-phase source: set a load point, switch the output, report status."""

    name: str
    capabilities: SourceCapabilities

    def initialise(self) -> None: ...
    def apply(self, point: LoadPoint) -> None: ...
    def output_on(self) -> None: ...
    def output_off(self) -> None: ...
    def is_on(self) -> bool: ...
    def status(self) -> SourceStatus: ...
    def arm_watchdog(self, timeout_s: float) -> bool: ...
    def close(self) -> None: ...


@runtime_checkable
class ReferenceMeter(Protocol):
    """A reference standard: mode, readings, reference constant."""

    name: str

    def initialise(self) -> None: ...
    def set_mode(self, wiring: Wiring, quantity: Quantity) -> None: ...
    def read(self) -> Readings: ...
    def reference_constant(self) -> float: ...
    def close(self) -> None: ...


@runtime_checkable
class ErrorCalculator(Protocol):
    """The error calculator of one meter position."""

    position: int

    def configure(
        self, meter_constant: float, pulses: int, quantity: Quantity, continuous: bool = False
    ) -> None: ...
    def start(self) -> None: ...
    def abort(self) -> None: ...
    def state(self) -> ECState:
        """The state alone, as cheaply as the instrument allows (for polling)."""
        ...

    def status(self) -> ECStatus:
        """State with progress, result and counts (for reading a measurement)."""
        ...

    def result(self) -> ECResult:
        """Error and reference counts of a measurement just polled READY (the state is not
        asked again: nothing changes it until the next start)."""
        ...

    def reference_constant(self) -> float: ...


@runtime_checkable
class EnergyRegister(Protocol):
    """Reference energy between start and stop, for register (dosage) tests."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def running(self) -> bool: ...
    def energy(self) -> float: ...


@runtime_checkable
class ProvidesErrorCalculators(Protocol):
    """An instrument that holds error calculators: `error_calculator_inputs` has one tuple of
    input names per calculator (rig.bench.calculators assigns them to positions)."""

    error_calculator_inputs: tuple[tuple[str, ...], ...]

    def error_calculator(self, position: int, pulse_input: str, unit: int) -> ErrorCalculator:
        """Calculator `unit` (1-based) on input `pulse_input`, measuring meter position
        `position`."""
        ...


@runtime_checkable
class CountsAgainstReference(Protocol):
    """A separate error calculator that counts the reference standard's pulse output: it needs
    the reference's constant (the Bench attaches the reference meter after opening both)."""

    def attach_reference(self, reference: ReferenceMeter, constant: Any = None) -> None:
        """`constant`: a rig.instruments.sharedquery.SharedQuery of the reference's constant,
        one per reference, shared by every calculator counting it."""
        ...


@runtime_checkable
class StepsErrorCalculator(Protocol):
    """An error calculator that also offers each operation as steps (rig.instruments.steps:
    generators yielding the exchanges with `parent`, its instrument), so a group of such
    calculators, each on its own instrument, is driven in one pass: every request out, then
    every reply read (rig.instruments.ecgroup). Optional; the blocking methods stay."""

    parent: Any

    def configure_steps(
        self, meter_constant: float, pulses: int, quantity: Quantity, continuous: bool = False
    ) -> Any: ...
    def start_steps(self) -> Any: ...
    def abort_steps(self) -> Any: ...
    def state_steps(self) -> Any: ...
    def status_steps(self) -> Any: ...
    def result_steps(self) -> Any: ...


@runtime_checkable
class BatchesErrorCalculators(Protocol):
    """An instrument that drives several of its own error calculators in one exchange.

    Optional: without it a group of positions costs one exchange per position and step
    (rig.instruments.ecgroup). Each method takes calculators this instrument made.
    """

    def configure_many(
        self,
        ecs: Sequence[ErrorCalculator],
        meter_constant: float,
        pulses: int,
        quantity: Quantity,
        continuous: bool = False,
    ) -> None: ...
    def start_many(self, ecs: Sequence[ErrorCalculator]) -> None: ...
    def abort_many(self, ecs: Sequence[ErrorCalculator]) -> None: ...
    def states_of(self, ecs: Sequence[ErrorCalculator]) -> list[ECState]: ...
    def statuses_of(self, ecs: Sequence[ErrorCalculator]) -> list[ECStatus]: ...
    def results_of(self, ecs: Sequence[ErrorCalculator]) -> list[ECResult]: ...


@runtime_checkable
class ProvidesEnergy(Protocol):
    """An instrument that measures energy between start and stop."""

    def energy_register(self) -> EnergyRegister: ...
