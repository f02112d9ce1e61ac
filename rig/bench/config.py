"""Bench files: YAML validated against a schema on load; errors name file, key and reason.

A bench file says which instruments play which role (driver name + VISA resource string),
which meter sits in which position, the safety limits, the traceability of the instruments
and the environment.
Resource strings and meter links of the simulated bench are placeholders `sim:<name>`, substituted
with the simulator's real addresses (see `BenchConfig.resolve`).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pyvisa.rname import InvalidResourceName, parse_resource_name

from rig.bench.calculators import AssignmentError, assign
from rig.bench.outputs import LED, check_output
from rig.instruments.registry import driver_class
from rig.textfile import not_utf8

PLACEHOLDER_PREFIX = "sim:"


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so a bad date is reported by the schema with its key
    (PyYAML itself raises a bare ValueError for 2026-13-01)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class BenchFileError(ValueError):
    """A bench file is missing, unreadable or invalid; each line names file, key and reason."""


class _Strict(BaseModel):
    # No NaN or infinity anywhere: `max_voltage: .inf` would disable the limit it sets.
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


class InstrumentOptions(_Strict):
    """Transport options of one instrument."""

    timeout_ms: int = Field(5000, ge=1, description="VISA timeout per read")
    retries: int = Field(2, ge=0, le=10, description="retries of idempotent exchanges")
    pipeline: bool | None = Field(
        None,
        description="send several commands in one write where the driver batches them (ZERA "
        "COM5003 error calculators); false: one command per exchange; absent: as the "
        "instrument's firmware allows (ZERA: from 2026-07)",
    )


# The one text form of an expanded uncertainty read without guessing: a number with a decimal
# point, its unit, an optional "of reading", and the coverage factor, e.g. "0.01 % (k=2)".
_UNCERTAINTY_TEXT = re.compile(
    r"\s*(?P<value>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>%|ppm)(?:\s+of reading)?"
    r"\s*\(\s*k\s*=\s*(?P<k>[0-9]+(?:\.[0-9]+)?)\s*\)\s*"
)
#: Units of a stated expanded uncertainty, as a factor to percent of reading.
UNCERTAINTY_UNITS: dict[str, float] = {"%": 1.0, "ppm": 1e-4}


class Uncertainty(_Strict):
    """An expanded uncertainty as stated on a calibration certificate (relative, of reading):
    value, unit (% or ppm) and coverage factor k (JCGM 100 (GUM) 6.2: U = k u)."""

    value: float = Field(ge=0, allow_inf_nan=False)
    unit: Literal["%", "ppm"]
    k: float = Field(gt=0, allow_inf_nan=False, description="coverage factor")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        """The old free-text form, only where it reads without guessing."""
        if not isinstance(data, str):
            return data
        match = _UNCERTAINTY_TEXT.fullmatch(data)
        if match is None:
            raise ValueError(
                f"cannot read {data!r} as '<number> %|ppm [of reading] (k=<k>)' without "
                "guessing; write it as {value: 0.01, unit: '%', k: 2}"
            )
        return {"value": match["value"], "unit": match["unit"], "k": match["k"]}

    @property
    def percent(self) -> float:
        """U in % of reading, at the certificate's k."""
        return self.value * UNCERTAINTY_UNITS[self.unit]

    def percent_at(self, k: float) -> float:
        """U in % of reading re-expressed at coverage factor `k` (the standard uncertainty
        U/k_certificate times k)."""
        return self.percent / self.k * k

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit} (k={self.k:g})"


class InstrumentConfig(_Strict):
    """One instrument: registered driver name, explicit VISA resource string, and its traceability
    (model, serial number, calibration date and due date, certificate id, expanded uncertainty)."""

    driver: str
    resource: str = Field(min_length=1)
    options: InstrumentOptions = InstrumentOptions()
    model: str | None = None
    serial: str | None = None
    calibration_date: dt.date | None = None
    calibration_due: dt.date | None = None
    certificate: str | None = None
    uncertainty: Uncertainty | None = Field(
        None, description="expanded uncertainty as stated on the certificate: value, unit, k"
    )

    @model_validator(mode="after")
    def _calibration_complete(self) -> InstrumentConfig:
        if self.calibration_date is not None:
            missing = [k for k in ("serial", "certificate", "uncertainty") if not getattr(self, k)]
            if missing:
                raise ValueError(f"calibration_date given without {', '.join(missing)}")
        due, done = self.calibration_due, self.calibration_date
        if due is not None and done is not None and due <= done:
            raise ValueError("calibration_due must be after calibration_date")
        return self

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, name: str) -> str:
        try:
            driver_class(name)
        except KeyError as exc:
            raise ValueError(str(exc).strip("'\"")) from None
        return name


class Instruments(_Strict):
    """Instruments by role. Energy defaults to the reference instrument; `error_calculators`
    names the separate error-calculator instruments a position may use (its `error_calculator`)."""

    source: InstrumentConfig
    reference: InstrumentConfig
    error_calculators: dict[str, InstrumentConfig] = Field(default_factory=dict)
    energy: InstrumentConfig | None = None
    #: The ambient temperature and humidity sensor (environment.read_by: sensor).
    environment: InstrumentConfig | None = None

    @field_validator("error_calculators")
    @classmethod
    def _names(cls, named: dict[str, InstrumentConfig]) -> dict[str, InstrumentConfig]:
        roles = ("reference", "source", "energy", "environment")
        bad = [n for n in named if n in roles or not n.isidentifier()]
        if bad:
            raise ValueError(f"names {bad}: taken by a role, or not letters, digits and _")
        return named

    def named(self) -> dict[str, InstrumentConfig]:
        """Every instrument by its key in the bench file ("source", "reference",
        "error_calculators.<name>", "energy")."""
        out = {"source": self.source, "reference": self.reference}
        out.update((f"error_calculators.{n}", inst) for n, inst in self.error_calculators.items())
        if self.energy is not None:
            out["energy"] = self.energy
        if self.environment is not None:
            out["environment"] = self.environment
        return out


#: Accuracy classes of static meters (standards.md: IEC 62053-21 classes 1 and 2, IEC 62053-22
#: 0.1S (ed. 2), 0.2S and 0.5S, IEC 62053-23 reactive 2 and 3, EN 50470-3 A, B, C; D from the
#: French class D decree).
ACCURACY_CLASSES = ("0.1S", "0.2S", "0.5S", "1", "2", "3", "A", "B", "C", "D")


class Position(_Strict):
    """A meter position: its link, address and ratings."""

    id: int = Field(ge=1, le=99)
    link: str = Field(min_length=1, description="pyserial URL, serial device or sim:<name>")
    address: str = Field("", max_length=32, description="IEC 62056-21 device address (RS485)")
    meter_constant: float = Field(gt=0, description="imp/kWh")
    reactive_constant: float | None = Field(None, gt=0, description="imp/kvarh")
    wiring: Literal["3P4W", "3P3W"]
    un: float = Field(gt=0, description="nominal voltage, V phase-to-neutral")
    in_: float = Field(gt=0, alias="in", description="nominal (basic) current, A")
    imax: float = Field(gt=0, description="maximum current, A")
    accuracy_class: str = Field(alias="class", min_length=1)
    error_calculator: str = Field(
        "reference",
        min_length=1,
        description="the instrument whose error calculator measures this position: 'reference' "
        "or a name under instruments.error_calculators",
    )
    pulse_input: str | None = Field(
        None, description="that calculator's input (e.g. ZERA SC1, Fin1); its first free if absent"
    )
    pulse_wiring: dict[str, str] = Field(
        default_factory=dict,
        description="what each input of that calculator is cabled to: a meter output "
        "(rig.bench.outputs: active_import, active_export, reactive_q1q2, reactive_q3q4, "
        "led_active, led_reactive) or led (a scanning head read on the LED of the energy "
        "measured); absent: the counted input on led",
    )
    options: dict[str, object] = Field(default_factory=dict)

    @field_validator("pulse_wiring")
    @classmethod
    def _known_outputs(cls, wiring: dict[str, str]) -> dict[str, str]:
        bad = []
        for pulse_input, output in wiring.items():
            try:
                check_output(output)
            except ValueError as exc:
                bad.append(f"{pulse_input}: {exc}")
        if bad:
            raise ValueError("; ".join(bad))
        return wiring

    def wired_output(self, pulse_input: str) -> str:
        """What input `pulse_input` of this position's calculator is cabled to (led when the
        bench file does not say)."""
        return self.pulse_wiring.get(pulse_input, LED)

    @field_validator("accuracy_class")
    @classmethod
    def _known_class(cls, text: str) -> str:
        if text not in ACCURACY_CLASSES:
            raise ValueError(
                f"{text!r} is not a meter accuracy class; one of {', '.join(ACCURACY_CLASSES)}"
            )
        return text

    @model_validator(mode="after")
    def _imax_at_least_in(self) -> Position:
        if self.imax < self.in_:
            raise ValueError(f"imax {self.imax} A is below in {self.in_} A")
        return self


class Safety(_Strict):
    """Limits the bench never exceeds, and how it de-energises."""

    max_voltage: float = Field(gt=0, description="V per phase")
    max_current: float = Field(gt=0, description="A per phase")
    current_ramp_rate: float | None = Field(
        None, gt=0, description="A/s when ramping currents to zero; absent = switch at once"
    )
    ramp_steps: int = Field(10, ge=1, le=1000)
    watchdog_s: float | None = Field(
        None, gt=0, description="communication watchdog; armed only where the driver knows how"
    )


class LoadCheck(_Strict):
    """Tolerances of the applied-load check (rig.bench.loadcheck): after settling, the reference
    standard's readings against the set point. The defaults catch a wrong angle convention, a
    swapped phase or a missing 40 % current harmonic while leaving room for a source's setting
    error and a reference's range."""

    magnitude_pct: float = Field(1.0, gt=0, le=20, description="U and I rms, % of the set value")
    angle_deg: float = Field(2.0, gt=0, le=30, description="voltage angles and each phase's phi")
    frequency_hz: float = Field(0.05, gt=0, le=5)
    voltage_floor_v: float = Field(
        0.5, gt=0, description="smallest voltage tolerance; phases below it count as dead"
    )
    current_floor_a: float = Field(
        0.0005, gt=0, description="smallest current tolerance; phi is checked above it"
    )


class Traceability(_Strict):
    """Calibration record of other equipment (scanning heads, CTs, sensors); instruments that play
    a role carry theirs in their own entry."""

    item: str = Field(min_length=1, description="what it is, e.g. 'scanning head 1'")
    model: str | None = None
    serial: str = Field(min_length=1)
    calibration_date: dt.date
    certificate: str = Field(min_length=1)
    uncertainty: str = Field(min_length=1, description="as stated on the certificate, with k")
    calibration_due: dt.date | None = None


class Environment(_Strict):
    """Ambient temperature and humidity (rig/environment.py): fixed values stated here, read from
    the sensor role (instruments.environment), or entered by the operator, at the start of the
    run and every `interval_min`."""

    temperature_c: float | None = Field(None, ge=-40, le=85, description="fixed value, degC")
    humidity_pct: float | None = Field(None, ge=0, le=100, description="fixed value, % RH")
    read_by: Literal["sensor", "operator"] | None = Field(
        None, description="sensor: instruments.environment; operator: asked on the terminal"
    )
    interval_min: float = Field(60.0, gt=0, description="between readings, minutes")
    sensor: str | None = Field(
        None, description="what is read (e.g. the operator's thermo-hygrometer), for the record"
    )

    @model_validator(mode="after")
    def _one_source(self) -> Environment:
        fixed = self.temperature_c is not None
        if fixed == (self.read_by is not None):
            raise ValueError("give exactly one of temperature_c (fixed) or read_by "
                             "(sensor or operator)")
        if self.humidity_pct is not None and not fixed:
            raise ValueError("humidity_pct is a fixed value: it goes with temperature_c")
        return self


class BenchConfig(_Strict):
    """The whole bench file."""

    lab: str = Field(min_length=1)
    visa_library: str = Field(
        "@py",
        min_length=1,
        description="PyVISA library: '@py' (pyvisa-py; GPIB needs the [gpib] extra), '@ivi' "
        "(the vendor's VISA: NI-VISA, Keysight), a library file path, or 'file.yaml@sim'; "
        "--visa-library overrides it",
    )
    instruments: Instruments
    positions: list[Position] = Field(min_length=1)
    safety: Safety
    load_check: LoadCheck = LoadCheck()
    traceability: list[Traceability] = Field(default_factory=list)
    environment: Environment
    #: The lab's own report templates (letterhead, signature block, wording): a folder,
    #: relative to the bench file; reports/templating.py looks there before its own.
    report_templates: str | None = Field(None, min_length=1)
    #: Options of the simulated bench (rig.sim reads them; the rig itself ignores them).
    sim: dict[str, object] | None = None
    #: The lab's shared results database (postgresql://USER@HOST:PORT/DB) or a SQLite file;
    #: --store and METER_TEST_RIG_STORE come first; unset: the runs directory's SQLite file.
    store: str | None = Field(None, min_length=1)
    source_file: str | None = Field(None, exclude=True)

    @field_validator("positions")
    @classmethod
    def _unique_ids(cls, positions: list[Position]) -> list[Position]:
        ids = [p.id for p in positions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate position id(s) {dupes}")
        return positions

    @model_validator(mode="after")
    def _sensor_role(self) -> BenchConfig:
        has = self.instruments.environment is not None
        if (self.environment.read_by == "sensor") != has:
            raise ValueError(
                "environment.read_by: sensor needs instruments.environment, and "
                "instruments.environment is read only with environment.read_by: sensor"
            )
        return self

    def position(self, position_id: int) -> Position:
        """The position with this id."""
        for p in self.positions:
            if p.id == position_id:
                return p
        raise KeyError(f"no position {position_id} in bench {self.lab!r}")

    def roles(self) -> list[tuple[str, InstrumentConfig]]:
        """(key, instrument) of every instrument the bench file names (Instruments.named)."""
        return list(self.instruments.named().items())

    def placeholders(self) -> list[tuple[str, str]]:
        """(key, placeholder) of every unresolved `sim:` resource or link."""
        found = [
            (f"instruments.{role}.resource", inst.resource)
            for role, inst in self.roles()
            if inst.resource.startswith(PLACEHOLDER_PREFIX)
        ]
        for n, p in enumerate(self.positions):
            if p.link.startswith(PLACEHOLDER_PREFIX):
                found.append((f"positions.{n}.link", p.link))
        return found

    def resolve(self, substitutions: dict[str, str]) -> BenchConfig:
        """A copy with `sim:` placeholders replaced from `substitutions` (unknown ones stay)."""

        def sub(text: str) -> str:
            return substitutions.get(text, text)

        def resolved(inst: InstrumentConfig) -> InstrumentConfig:
            return inst.model_copy(update={"resource": sub(inst.resource)})

        ins = self.instruments
        instruments = {
            "source": resolved(ins.source),
            "reference": resolved(ins.reference),
            "error_calculators": {n: resolved(i) for n, i in ins.error_calculators.items()},
            "energy": None if ins.energy is None else resolved(ins.energy),
            "environment": None if ins.environment is None else resolved(ins.environment),
        }
        positions = [p.model_copy(update={"link": sub(p.link)}) for p in self.positions]
        return self.model_copy(
            update={
                "instruments": self.instruments.model_copy(update=instruments),
                "positions": positions,
            }
        )


def load_bench_file(path: str | Path) -> BenchConfig:
    """Read and validate a bench file; raise BenchFileError naming file, key and reason."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except OSError as exc:
        raise BenchFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise BenchFileError(f"{path}: not valid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise BenchFileError(f"{path}: {not_utf8(exc)}") from None
    config = validate_bench(data, str(path))
    try:
        assign(config)  # more positions than calculators: refused before anything is opened
    except AssignmentError as exc:
        lines = [f"{path}: {line}" for line in str(exc).splitlines()]
        raise BenchFileError("\n".join(lines)) from None
    problems = cross_checks(config)
    if problems:
        raise BenchFileError("\n".join(f"{path}: {key}: {why}" for key, why in problems))
    return config.model_copy(update={"source_file": str(path)})


def validate_bench(data: Any, where: str) -> BenchConfig:
    """A bench description (the bench file's mapping) validated against the schema; BenchFileError
    with one `<where>: <key>: <reason>` line per problem."""
    if not isinstance(data, dict):
        raise BenchFileError(
            f"{where}: (top level): expected a mapping of keys, got {type(data).__name__}"
        )
    try:
        return BenchConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"]) or "(top level)"
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {key}: {message}")
        raise BenchFileError("\n".join(lines)) from None


def cross_checks(config: BenchConfig) -> list[tuple[str, str]]:
    """(key, reason) of what only the whole file shows: a resource the driver cannot use, meters
    sharing a link (an RS485 bus) without distinct device addresses, and a current limit below a
    meter's Imax."""
    problems = resource_problems(config)
    by_link: dict[str, list[int]] = {}
    for n, p in enumerate(config.positions):
        by_link.setdefault(p.link, []).append(n)
    for link, indexes in by_link.items():
        if len(indexes) < 2:
            continue
        ids = [config.positions[n].id for n in indexes]
        # standards.md 6.7: on a multi-drop bus only the addressed meter answers; `/?!` without
        # an address is safe point-to-point only.
        seen: dict[str, int] = {}
        for n in indexes:
            pos = config.positions[n]
            if not pos.address:
                problems.append((f"positions.{n}.address", f"positions {ids} share link {link} "
                                 "(a bus): each meter needs its device address"))
            elif pos.address in seen:
                problems.append((f"positions.{n}.address", f"address {pos.address!r} is also "
                                 f"position {seen[pos.address]}'s on link {link}"))
            else:
                seen[pos.address] = pos.id
    imax = max(config.positions, key=lambda p: p.imax)
    if config.safety.max_current < imax.imax:
        problems.append(("safety.max_current", f"{config.safety.max_current:g} A is below "
                         f"position {imax.id}'s imax {imax.imax:g} A (its Imax points would be "
                         "refused mid-run)"))
    return problems


def resource_problems(config: BenchConfig) -> list[tuple[str, str]]:
    """(key, reason) of each resource string whose VISA interface type (GPIB, ASRL, TCPIP, ...)
    is not one the driver's instrument has (the driver's `interfaces`, from its maker's
    documentation). A simulated bench (a `sim:` section, or `sim:` placeholders) serves every
    instrument on loopback TCP, and a driver that declares no interfaces is not checked."""
    if config.sim is not None:
        return []
    problems = []
    for role, inst in config.roles():
        if inst.resource.startswith(PLACEHOLDER_PREFIX):
            continue
        interfaces = getattr(driver_class(inst.driver), "interfaces", None)
        if interfaces is None:
            continue
        key = f"instruments.{role}.resource"
        try:
            kind = parse_resource_name(inst.resource).interface_type
        except InvalidResourceName as exc:
            problems.append((key, f"{inst.resource!r} is not a VISA resource string: {exc}"))
            continue
        if kind not in interfaces:
            problems.append((key, f"{inst.resource!r} is a {kind} resource; the {inst.driver} "
                             f"instrument has {' or '.join(interfaces)} only"))
    return problems
