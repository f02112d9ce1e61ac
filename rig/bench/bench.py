"""The Bench: instruments opened by role from a bench file, load points checked, safe exits.

    with Bench.from_file("benches/lab.yaml") as bench:
        bench.energise(LoadPoint.at(230, 5, 1.0, "0.5L"))
        ec = bench.error_calculator(1)
        ...
    # here the currents are ramped to zero, the output is off and verified off

Nothing is sent to a source before the bench file and the load point are validated.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rig.bench import loadcheck
from rig.bench.calculators import assign
from rig.bench.config import BenchConfig, InstrumentConfig, Position, load_bench_file
from rig.instruments.ecgroup import ECGroup
from rig.instruments.errors import InstrumentError, LoadPointRefused
from rig.instruments.loadpoint import LoadPoint
from rig.instruments.registry import driver_class
from rig.instruments.roles import (
    CountsAgainstReference,
    EnergyRegister,
    ErrorCalculator,
    PowerSource,
    ProvidesEnergy,
    ProvidesErrorCalculators,
    ReferenceMeter,
)
from rig.instruments.sharedquery import SharedQuery
from rig.instruments.transport import TRANSPORT_ERRORS, VisaAdapter
from rig.safety import ExitGuard, SafetyError, StopRequest, ramp_currents, safe_off
from rig.stopwatch import StopOutcome, StopWatcher

log = logging.getLogger("rig.bench")


class VisaLibraryError(InstrumentError):
    """The chosen VISA library is missing, or cannot open a resource of the bench (one line)."""


def check_load_point(point: LoadPoint, config: BenchConfig, source: PowerSource) -> None:
    """Refuse `point` if it exceeds the source's capabilities or the bench's safety limits.

    The message names the limit (bench-file key or source capability) and the offending phase.
    """
    caps = source.capabilities
    limits = config.safety
    where = config.source_file or "bench file"
    problems = _non_finite(point)
    if problems:  # NaN passes every comparison below; refuse it before any of them
        raise LoadPointRefused("load point refused: " + "; ".join(problems))
    for n, ph in enumerate(point.phases, start=1):
        if ph.voltage > limits.max_voltage:
            problems.append(
                f"L{n} voltage {ph.voltage:g} V exceeds safety.max_voltage "
                f"{limits.max_voltage:g} V ({where})"
            )
        if ph.current > limits.max_current:
            problems.append(
                f"L{n} current {ph.current:g} A exceeds safety.max_current "
                f"{limits.max_current:g} A ({where})"
            )
        if ph.voltage > caps.max_voltage:
            problems.append(
                f"L{n} voltage {ph.voltage:g} V exceeds the {source.name} capability "
                f"max_voltage {caps.max_voltage:g} V"
            )
        if ph.current > caps.max_current:
            problems.append(
                f"L{n} current {ph.current:g} A exceeds the {source.name} capability "
                f"max_current {caps.max_current:g} A"
            )
        for h in ph.voltage_harmonics + ph.current_harmonics:
            if h.order > caps.max_harmonic_order:
                problems.append(
                    f"L{n} harmonic {h.order} exceeds the {source.name} capability "
                    f"max_harmonic_order {caps.max_harmonic_order}"
                )
    if not caps.min_frequency <= point.frequency <= caps.max_frequency:
        problems.append(
            f"frequency {point.frequency:g} Hz is outside the {source.name} capability "
            f"{caps.min_frequency:g}..{caps.max_frequency:g} Hz"
        )
    if problems:
        raise LoadPointRefused("load point refused: " + "; ".join(problems))


def _non_finite(point: LoadPoint) -> list[str]:
    """Every number of `point` that is a NaN or an infinity, named."""
    found = []
    if not math.isfinite(point.frequency):
        found.append(f"frequency {point.frequency} Hz is not a finite number")
    for n, ph in enumerate(point.phases, start=1):
        values = {
            "voltage": ph.voltage,
            "current": ph.current,
            "voltage angle": ph.voltage_angle,
            "current angle": ph.current_angle,
        }
        channels = (("voltage", ph.voltage_harmonics), ("current", ph.current_harmonics))
        for channel, harmonics in channels:
            for h in harmonics:
                values[f"{channel} harmonic {h.order}"] = h.fraction
                values[f"{channel} harmonic {h.order} angle"] = h.angle_deg
        found += [f"L{n} {k} {v} is not a finite number" for k, v in values.items()
                  if not math.isfinite(v)]
    return found


class Bench:
    """Instruments by role, positions and limits of a bench; a context manager that de-energises."""

    def __init__(
        self,
        config: BenchConfig,
        source: PowerSource,
        reference: ReferenceMeter,
        error_calculators: dict[int, ErrorCalculator],
        energy: EnergyRegister | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        closers: tuple[Callable[[], None], ...] = (),
        stop: StopRequest | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.reference = reference
        self.error_calculators = error_calculators
        self._ec_groups: dict[tuple[int, ...], ECGroup] = {}
        self.energy = energy
        self.sleep = sleep
        self.point: LoadPoint | None = None
        self.energised = False
        self.watchdog_armed = False
        self._closers = closers
        # Set by SIGINT/SIGTERM (see rig.safety): nothing is energised once it is.
        self.stop = stop if stop is not None else StopRequest()
        self._guard = ExitGuard(self._shutdown_at_exit, self.stop)
        # Held by every switching of the source, so the stop watcher's switch-off (another
        # thread) and the main thread's energising never interleave. The driver's own lock
        # (rig.instruments.base.Instrument.lock) where it has one: an exchange in progress
        # then ends, its reply read, before the switch-off begins.
        self._source_lock: Any = getattr(source, "lock", None) or threading.RLock()
        self._watcher: StopWatcher | None = None
        # Called with each load applied (None: switched off): the session's load log
        # (rig.schedule.LoadLog), which proves a background item's load condition.
        self.load_listeners: list[Callable[[LoadPoint | None], None]] = []

    # --- building ------------------------------------------------------------------------------
    @classmethod
    def from_file(
        cls,
        path: str | Path,
        substitutions: dict[str, str] | None = None,
        *,
        resource_manager: Any = None,
        visa_library: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stop: StopRequest | None = None,
    ) -> Bench:
        """Load and validate a bench file, substitute `sim:` placeholders, open the instruments."""
        config = load_bench_file(path)
        if substitutions:
            config = config.resolve(substitutions)
        return cls.open(
            config,
            resource_manager=resource_manager,
            visa_library=visa_library,
            sleep=sleep,
            stop=stop,
        )

    @classmethod
    def open(
        cls,
        config: BenchConfig,
        *,
        resource_manager: Any = None,
        visa_library: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        stop: StopRequest | None = None,
    ) -> Bench:
        """Open every instrument of `config` by its explicit resource string and initialise it,
        through `visa_library` (default: the bench file's `visa_library`, itself '@py')."""
        unresolved = config.placeholders()
        if unresolved:
            where = config.source_file or "bench"
            raise ValueError(
                f"{where}: unresolved placeholder(s) "
                + ", ".join(f"{key} = {value!r}" for key, value in unresolved)
                + " (start the simulator and pass its substitutions)"
            )
        if resource_manager is None:
            resource_manager = open_visa_library(visa_library or config.visa_library, config)
        opened: dict[InstrumentConfig, Any] = {}
        try:

            def instrument(role: str, inst: InstrumentConfig) -> Any:
                if inst not in opened:
                    opened[inst] = _open_instrument(resource_manager, role, inst)
                return opened[inst]

            ins = config.instruments
            source = instrument("source", ins.source)
            reference = instrument("reference", ins.reference)
            named = ins.named()
            ecs = {}
            constant = SharedQuery(reference.reference_constant)  # one per reference
            for a in assign(config):
                holder = instrument(a.instrument, named[a.instrument])
                if not isinstance(holder, ProvidesErrorCalculators):
                    raise TypeError(
                        f"instruments.{a.instrument}: driver {type(holder).__name__} "
                        "provides no error calculators"
                    )
                if isinstance(holder, CountsAgainstReference) and holder is not reference:
                    holder.attach_reference(reference, constant)
                ecs[a.position] = holder.error_calculator(a.position, a.pulse_input, a.unit)
            energy_holder = instrument("energy", ins.energy or ins.reference)
            energy = (
                energy_holder.energy_register()
                if isinstance(energy_holder, ProvidesEnergy)
                else None
            )
        except BaseException:
            for inst in opened.values():
                _close_quietly(inst)
            raise
        closers = tuple(inst.close for inst in opened.values())
        bench = cls(
            config, source, reference, ecs, energy, sleep=sleep, closers=closers, stop=stop
        )
        bench._arm_watchdog()
        return bench

    # --- use -----------------------------------------------------------------------------------
    @property
    def positions(self) -> list[Position]:
        """The meter positions of the bench file."""
        return list(self.config.positions)

    def error_calculator(self, position_id: int) -> ErrorCalculator:
        """The error calculator of position `position_id`."""
        if position_id not in self.error_calculators:
            raise KeyError(
                f"no position {position_id}; positions: {sorted(self.error_calculators)}"
            )
        return self.error_calculators[position_id]

    def ec_group(self, position_ids: list[int]) -> ECGroup:
        """The error calculators of `position_ids`, driven together (one exchange per step where
        the instrument batches); the same group object for the same positions."""
        key = tuple(position_ids)
        if key not in self._ec_groups:
            self._ec_groups[key] = ECGroup({p: self.error_calculator(p) for p in key})
        return self._ec_groups[key]

    def check(self, point: LoadPoint) -> None:
        """Raise LoadPointRefused if `point` is outside the capabilities or safety limits."""
        check_load_point(point, self.config, self.source)

    def energise(self, point: LoadPoint, ramp: bool = False) -> None:
        """Check `point`, apply it and switch the output on (or just apply it if already on).

        With `ramp` and a `safety.current_ramp_rate`, a bench that is off is switched on with zero
        current and the currents are ramped up to the point at that rate. After a stop request
        it raises StopRequested and sends nothing (plan clean-up code never re-energises).
        """
        self.stop.check()
        self.check(point)
        self._guard.install()  # before the first write: a signal from here on stops the rig
        rate = self.config.safety.current_ramp_rate
        ramp_up = ramp and not self.energised and rate is not None and point.max_current > 0
        first = point.scaled_current(0.0) if ramp_up else point
        try:
            with self._source_lock:  # a stop watcher's switch-off is either all before or after
                self.stop.check()
                self.source.apply(first)
                self.point = first  # what the source holds: safe_off ramps down from here
                if not self.energised:
                    self.energised = True
                    self.source.output_on()
            if ramp_up:
                ramp_currents(
                    self.source,
                    point,
                    0.0,
                    1.0,
                    point.max_current / rate,
                    self._ramp_up_sleep,
                    self.config.safety.ramp_steps,
                    applied=self._applied,
                )
        except BaseException:
            self.de_energise()
            raise
        for listener in self.load_listeners:
            listener(point)
        log.info("energised: %s", point)

    def verify_load(self, point: LoadPoint) -> None:
        """Compare the reference standard's readings with `point` (applied and settled) within
        the bench file's `load_check` tolerances; raise loadcheck.LoadMismatch naming every
        phase and quantity that differs."""
        loadcheck.verify(point, self.reference.read(), self.config.load_check, self.source.name)

    def _applied(self, point: LoadPoint) -> None:
        self.point = point

    def _ramp_up_sleep(self, seconds: float) -> None:
        """A step of the ramp up, cut short by a stop request (StopRequested: the ramp ends and
        the currents go back down from where they stood)."""
        if self.sleep is time.sleep:
            self.stop.wait(seconds)
        else:
            self.sleep(seconds)
            self.stop.check()

    def de_energise(self) -> None:
        """Ramp currents to zero, switch off and verify off; restore the signal handlers.

        Signals meanwhile are recorded by the stop request and interrupt nothing: the
        verification always runs."""
        try:
            self._switch_off()
        finally:
            self._guard.uninstall()
        # Here, not in _switch_off: the stop watcher's thread switches off too, and a run it
        # stopped ends its background items unfinished anyway.
        for listener in self.load_listeners:
            listener(None)

    def _switch_off(self) -> None:
        """safe_off from where the source stands, holding the source lock throughout."""
        with self._source_lock:
            safe_off(
                self.source,
                self.point if self.energised else None,
                self.config.safety.current_ramp_rate,
                self.sleep,
                self.config.safety.ramp_steps,
            )
            self.energised = False
            self.point = None

    # --- the stop watcher ----------------------------------------------------------------------
    def watch_stop(self) -> StopWatcher:
        """Start a thread that de-energises and verifies as soon as a stop is requested, while
        the main thread may still be computing (rig.stopwatch); `stop_outcome` ends it."""
        if self._watcher is None:
            self._watcher = StopWatcher(self.stop, self._switch_off).start()
        return self._watcher

    def stop_outcome(self) -> StopOutcome | None:
        """Wait for the stop watcher's switch-off (if a stop was requested) and end the
        watcher; what it did, or None (no watcher, or no stop)."""
        if self._watcher is None:
            return None
        return self._watcher.finish()

    def keepalive(self) -> bool:
        """Ask the source for its output state (feeds a communication watchdog during dwells).

        Returns the output state. Raises SafetyError if the bench is energised but the source
        reports its output off (interlock, overload trip): a measurement then would be void.
        """
        on = self.source.is_on()
        if self.energised and not on:
            self.stop.check()  # switched off by the stop watcher: a stop, not a fault
            status = self.source.status()
            raise SafetyError(
                f"{self.source.name}: output switched off unexpectedly "
                f"(faults: {', '.join(status.faults) or 'none reported'})"
            )
        return on

    def close(self) -> None:
        """End the stop watcher, close every instrument transport."""
        self.stop_outcome()
        for group in self._ec_groups.values():
            group.close()
        for close in self._closers:
            try:
                close()
            except Exception as exc:
                log.warning("closing an instrument failed: %s", exc)

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.de_energise()
        finally:
            self.close()

    def _shutdown_at_exit(self) -> None:
        try:
            self.de_energise()
        finally:
            self.close()

    def _arm_watchdog(self) -> None:
        timeout = self.config.safety.watchdog_s
        if timeout is None:
            return
        self.watchdog_armed = self.source.arm_watchdog(timeout)
        if not self.watchdog_armed:
            log.warning(
                "safety.watchdog_s = %g s, but driver %s knows no watchdog command: not armed",
                timeout,
                type(self.source).__name__,
            )


def open_visa_library(library: str, config: BenchConfig) -> Any:
    """A PyVISA ResourceManager on `library`; VisaLibraryError naming the library and the roles
    and resources that needed it when it cannot be loaded (nothing is opened then)."""
    import pyvisa

    try:
        return pyvisa.ResourceManager(library)
    except (OSError, ValueError) as exc:  # LibraryError: OSError; unknown wrapper: ValueError
        needed = ", ".join(_resources(config))
        reason = " ".join(str(exc).split())  # one line
        raise VisaLibraryError(
            "bench", f"open VISA library {library!r}",
            f"{reason} (needed by {needed}; choose another with visa_library in the bench "
            "file or --visa-library)",
        ) from None


def _resources(config: BenchConfig) -> list[str]:
    """'<key> <resource>' of every instrument in the bench file's `instruments` (a role, or a
    mapping of named instruments)."""
    found = []
    for key, value in config.instruments:
        named = value.items() if isinstance(value, dict) else [("", value)]
        for name, inst in named:
            if isinstance(inst, InstrumentConfig):
                found.append(f"{key}.{name} {inst.resource}" if name else f"{key} {inst.resource}")
    return found


def _open_instrument(resource_manager: Any, role: str, inst: InstrumentConfig) -> Any:
    cls = driver_class(inst.driver)
    try:
        adapter = VisaAdapter.open(
            resource_manager,
            inst.resource,
            write_termination=cls.write_termination,
            read_termination=cls.read_termination,
            timeout_ms=inst.options.timeout_ms,
            serial=cls.serial_settings,
        )
    except TRANSPORT_ERRORS as exc:
        raise InstrumentError(
            role, f"open {inst.resource}", f"{type(exc).__name__}: {exc}"
        ) from exc
    except ValueError as exc:  # the VISA library has no session type for this resource
        hint = ""
        if inst.resource.upper().startswith("GPIB"):
            hint = (
                "; for GPIB through '@py' install its GPIB package (pip install "
                "'meter-test-rig[gpib]'), or use the vendor's VISA (visa_library: '@ivi')"
            )
        library = getattr(getattr(resource_manager, "visalib", None), "library_path", "")
        raise VisaLibraryError(
            role, f"open {inst.resource}",
            f"the VISA library ({str(library) or '?'}) cannot open it: "
            + " ".join(str(exc).split()) + hint,
        ) from None
    driver = cls(
        adapter, name=role, retries=inst.options.retries, pipeline=inst.options.pipeline
    )
    try:
        driver.initialise()
    except InstrumentError as exc:  # refused or silent: say where it was looked for
        _close_quietly(driver)
        raise InstrumentError(role, exc.command, f"{exc.cause} (resource {inst.resource})") from exc
    except BaseException:
        _close_quietly(driver)
        raise
    return driver


#: Opening one instrument by role outside the Bench (the session's environment sensor).
open_instrument = _open_instrument


def _close_quietly(inst: Any) -> None:
    try:
        inst.close()
    except Exception as exc:
        log.warning("closing %s failed: %s", getattr(inst, "name", inst), exc)
