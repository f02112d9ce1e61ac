"""The A1000 meter configuration: one YAML file, validated on load.

``load_config(path)`` raises ``ConfigError`` whose message names the file and the field.
``default_config()`` is the packaged ``default.yaml`` (the A1000 defaults).
"""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from meter.a1000.defects import DefectError, build_defects
from meter.a1000.error_model import ErrorModel
from meter.a1000.tou import TouError, TouTables
from meter.electrical import ElectricalInputs, Wiring

DEFAULT_CONFIG_PATH = Path(__file__).with_name("default.yaml")

PULSE_WIDTH_S = 0.080  # A1000 manual 1.1: "The pulse width is 80 ms."
LED_DUTY = 0.5  # A1000 manual 1.1 item 6: "The duty cycle of LED output is 50%."
STARTING_CURRENT_IN = 0.001  # class 0.5S starting current, standards.md 1.4
# Anti-creep threshold: below it an element registers nothing. Half the starting current,
# so 0.001 In registers with margin while voltage alone (I = 0) never does.
ANTI_CREEP_IN = 0.0005
# The meter is powered from its voltage circuits: it runs while any element sees at least
# this fraction of its nominal voltage, and powers down below it (documented threshold).
POWER_THRESHOLD = 0.6
PROGRAMMING_HOLD_S = 8.0  # manual 2.1.1 / 2.2.1: hold the reset button about 8 s
PROGRAMMING_TIMEOUT_S = 240.0  # manual 2.1.1: leaves PRG after 4 minutes without a button
MAX_SWITCH_DELAY_S = 0.1  # manual 3.2.4: delay of time block switch less than 0.1 s


class ConfigError(ValueError):
    """Invalid meter configuration; the message names the file and the field."""


class Nominal(StrEnum):
    """Nominal voltages of the A1000 (manual 3.2.1)."""

    V57_100 = "3x57.7/100"
    V100 = "3x100"
    V220_380 = "3x220/380"

    @property
    def phase_voltage(self) -> float:
        return {"3x57.7/100": 57.7, "3x100": 100 / math.sqrt(3), "3x220/380": 220.0}[self.value]

    @property
    def line_voltage(self) -> float:
        return {"3x57.7/100": 100.0, "3x100": 100.0, "3x220/380": 380.0}[self.value]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _digits(v: str, n: int, what: str) -> str:
    v = str(v)
    if not v.isdigit() or len(v) > n:
        raise ValueError(f"{what} must be up to {n} digits")
    return v.zfill(n)


class Identity(_Model):
    manufacturer: str = "BSE"  # 3-letter FLAG id in the identification message
    ident: str = "A1000"
    baud_char: str = "5"  # max speed offered, mode C: 5 = 9600 Bd (standards.md 6.2)
    device_address: str = ""
    # Manual display codes 011..014: 12 digits each (high and low 6 digits).
    meter_number: str = "000000000001"
    user_number: str = "000000000000"
    device_number: str = "000000000000"
    bureau_number: str = "000000000000"
    firmware: str = "A1000-SIM-1.0"

    @field_validator("manufacturer")
    @classmethod
    def _man(cls, v: str) -> str:
        if len(v) != 3 or not v.isalpha():
            raise ValueError("manufacturer must be 3 letters")
        return v

    @field_validator("ident")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not 1 <= len(v) <= 16 or any(c in "/!" for c in v) or not v.isprintable():
            raise ValueError("ident must be 1..16 printable characters without / or !")
        return v

    @field_validator("baud_char")
    @classmethod
    def _baud(cls, v: str) -> str:
        if v not in "0123456":
            raise ValueError("baud_char must be one of 0..6 (mode C)")
        return v

    @field_validator("meter_number", "user_number", "device_number", "bureau_number")
    @classmethod
    def _ids(cls, v: Any) -> str:
        return _digits(v, 12, "identification number")


class Constants(_Model):
    active_imp_per_kwh: int = Field(10000, gt=0, le=1_000_000)
    reactive_imp_per_kvarh: int = Field(10000, gt=0, le=1_000_000)


class ClockConfig(_Model):
    drift_ppm: float = Field(1.0, ge=-1000, le=1000)
    utc_offset_s: float = 0.0
    tariff_switch_delay_s: float = Field(0.02, ge=0, lt=MAX_SWITCH_DELAY_S)


class Passwords(_Model):
    p1: str = "00000000"
    p2: str = "00000000"
    max_attempts: int = Field(3, ge=1, le=100)
    lockout_s: float = Field(600.0, ge=0)

    @field_validator("p1", "p2")
    @classmethod
    def _pw(cls, v: Any) -> str:
        v = str(v)
        if not 1 <= len(v) <= 32 or any(c in "()*/!" for c in v):
            raise ValueError("password must be 1..32 characters without ( ) * / !")
        return v


class Persistence(_Model):
    save_interval_s: float = Field(60.0, gt=0)


class Load(_Model):
    """Load applied by ``python -m meter serve`` (balanced)."""

    voltage_fraction: float = Field(1.0, ge=0, le=1.5)  # of Un
    current_in: float = Field(0.5, ge=0)  # multiples of In
    phi_deg: float = 30.0
    frequency: float = Field(50.0, gt=0)


class MeterConfig(_Model):
    identity: Identity = Identity()
    wiring: Wiring = Wiring.THREE_PHASE_FOUR_WIRE
    nominal: Nominal = Nominal.V57_100
    in_a: float = Field(0.5, gt=0)
    imax_a: float = Field(6.0, gt=0)
    frequency: float = Field(50.0, gt=0)
    register_format: str = "99999.99"
    constants: Constants = Constants()
    tou: TouTables
    clock: ClockConfig = ClockConfig()
    error_model: ErrorModel = ErrorModel()
    passwords: Passwords = Passwords()
    persistence: Persistence = Persistence()
    readout: list[str] | None = None
    load: Load = Load()
    defects: list[Any] = []
    # Part-2 sections (demand, billing, load profile, events, display): free mappings here,
    # validated by their components when the meter is built (see COMPONENT_FACTORIES).
    demand: dict[str, Any] | None = None
    billing: dict[str, Any] | None = None
    load_profile: dict[str, Any] | None = None
    events: dict[str, Any] | None = None
    display: dict[str, Any] | None = None

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    @field_validator("tou", mode="before")
    @classmethod
    def _tou(cls, v: Any) -> TouTables:
        if isinstance(v, TouTables):
            return v
        try:
            return TouTables.from_obj(v)
        except TouError as e:
            raise ValueError(str(e)) from None

    @field_validator("register_format")
    @classmethod
    def _fmt(cls, v: str) -> str:
        if v not in ("99999.99", "999999.9"):
            raise ValueError("register_format must be 99999.99 or 999999.9 (manual 1.1 item 5)")
        return v

    @field_validator("defects")
    @classmethod
    def _defects(cls, v: list[Any]) -> list[Any]:
        try:
            build_defects(v)
        except DefectError as e:
            raise ValueError(str(e)) from None
        return v

    @model_validator(mode="after")
    def _check(self) -> MeterConfig:
        if self.imax_a < 1.2 * self.in_a:
            raise ValueError("imax_a must be at least 1.2 In (standards.md 1.1)")
        if self.nominal is Nominal.V100 and self.wiring is not Wiring.THREE_PHASE_THREE_WIRE:
            raise ValueError("nominal 3x100 is a 3P3W meter (manual 3.2.1)")
        # Pulse outputs must fit 80 ms pulses with an 80 ms gap at 115 % Un and Imax.
        p_max_kw = self.wiring.elements * 1.15 * self.element_voltage * self.imax_a / 1000
        for name, c in (
            ("constants.active_imp_per_kwh", self.constants.active_imp_per_kwh),
            ("constants.reactive_imp_per_kvarh", self.constants.reactive_imp_per_kvarh),
        ):
            period = 3600.0 / (p_max_kw * c)
            if period < 2 * PULSE_WIDTH_S:
                raise ValueError(
                    f"{name}={c}: pulse period {period * 1000:.0f} ms at 115 % Un and Imax is "
                    "shorter than two 80 ms pulse widths (manual 1.1)"
                )
        return self

    # -- derived values ---------------------------------------------------------------

    @property
    def element_voltage(self) -> float:
        """Nominal voltage an element sees: phase voltage (3P4W) or line voltage (3P3W)."""
        if self.wiring is Wiring.THREE_PHASE_FOUR_WIRE:
            return self.nominal.phase_voltage
        return self.nominal.line_voltage

    @property
    def register_modulus(self) -> int:
        return 100_000 if self.register_format == "99999.99" else 1_000_000

    @property
    def register_decimals(self) -> int:
        return 2 if self.register_format == "99999.99" else 1

    def load_inputs(self) -> ElectricalInputs:
        return ElectricalInputs.balanced(
            self.nominal.phase_voltage * self.load.voltage_fraction,
            self.in_a * self.load.current_in,
            self.load.phi_deg,
            self.load.frequency,
        )

    def to_obj(self) -> dict[str, Any]:
        d = self.model_dump(mode="json", exclude={"tou"})
        d["tou"] = self.tou.to_obj()
        return d


def _format_errors(source: str, e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{source}: {loc}: {msg}")
    return "\n".join(parts)


def config_from_obj(obj: Any, source: str = "<config>") -> MeterConfig:
    if not isinstance(obj, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        return MeterConfig(**obj)
    except ValidationError as e:
        raise ConfigError(_format_errors(source, e)) from None
    except TypeError as e:
        raise ConfigError(f"{source}: {e}") from None


def load_config(path: str | Path) -> MeterConfig:
    """Load and validate a meter YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return config_from_obj(obj, str(path))


def default_config() -> MeterConfig:
    return load_config(DEFAULT_CONFIG_PATH)
