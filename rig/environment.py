"""Ambient temperature and humidity during a run: where each reading came from and when.

The bench file's `environment` says how they are known (rig.bench.config.Environment): fixed
values stated in the file, the environment sensor role read (instruments.environment, e.g. a
Vaisala HMP155: rig/instruments/vaisala_hmp155.py), or the operator's entry on the terminal
(rig.hands). A reading is taken at the start of the run and again once `interval_min` has
passed (the session asks at each wait and between plan items); every reading is recorded with
its time. IEC 62052-11 reference conditions: 23 degC +-2 K (standards.md, reference conditions).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from rig.bench.config import Environment
from rig.hands import Hands, HandsError

#: Plausible ranges of an entry (the bench file's own limits for a fixed temperature).
TEMPERATURE_RANGE_C = (-40.0, 85.0)
HUMIDITY_RANGE_PCT = (0.0, 100.0)


class EnvironmentSensor(Protocol):
    """The environment sensor role: one reading of the room."""

    def read_environment(self) -> tuple[float, float]:
        """(temperature degC, relative humidity %RH)."""


@dataclass(frozen=True)
class EnvironmentReading:
    temperature_c: float
    humidity_pct: float | None
    at: float  # the rig's time of the reading (wall time on a lab bench)
    source: str  # "bench file (fixed)", "operator", "sensor <driver>"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        rh = "" if self.humidity_pct is None else f", {self.humidity_pct:g} %RH"
        return f"{self.temperature_c:g} degC{rh} ({self.source})"


def _number(text: str, what: str, low: float, high: float) -> float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{what}: {value:g} is outside {low:g}..{high:g}")
    return value


def ask_operator(hands: Hands, tries: int = 3) -> tuple[float, float]:
    """Temperature and humidity as the operator reads them off the room's instrument; a wrong
    entry is asked again (up to `tries` times), then HandsError."""
    wanted = (("temperature", "degC", TEMPERATURE_RANGE_C), ("relative humidity", "%RH",
                                                             HUMIDITY_RANGE_PCT))
    values = []
    for what, unit, (low, high) in wanted:
        problems = []
        for _ in range(tries):
            text = hands.ask(f"Ambient {what} in {unit} now:")
            try:
                values.append(_number(text, what, low, high))
                break
            except ValueError as exc:
                problems.append(str(exc))
        else:
            raise HandsError(f"no valid {what} entered: {'; '.join(problems)}")
    return values[0], values[1]


class EnvironmentLog:
    """Readings of the room at the start and every `interval_min` (due on the rig's clock);
    `record` gets each one (the session stores it with the run)."""

    def __init__(
        self,
        config: Environment,
        clock: Callable[[], float],
        record: Callable[[EnvironmentReading], None],
        *,
        sensor: EnvironmentSensor | None = None,
        sensor_name: str = "",
        hands: Hands | None = None,
    ) -> None:
        if config.read_by == "sensor" and sensor is None:
            raise ValueError("environment.read_by: sensor, but no sensor was opened")
        if config.read_by == "operator" and hands is None:
            raise ValueError("environment.read_by: operator, but no hands to ask")
        self.config = config
        self.clock = clock
        self.record = record
        self.sensor = sensor
        self.sensor_name = sensor_name
        self.hands = hands
        self.readings: list[EnvironmentReading] = []
        self._attempted: float | None = None  # the last reading asked for, taken or not

    def read(self) -> EnvironmentReading:
        """A reading now, recorded."""
        cfg = self.config
        self._attempted = self.clock()
        if cfg.read_by == "sensor":
            assert self.sensor is not None
            t, rh = self.sensor.read_environment()
            source = f"sensor {self.sensor_name}".strip()
        elif cfg.read_by == "operator":
            assert self.hands is not None
            t, rh = ask_operator(self.hands)
            source = "operator" + (f" ({cfg.sensor})" if cfg.sensor else "")
        else:
            assert cfg.temperature_c is not None
            t, rh, source = cfg.temperature_c, cfg.humidity_pct, "bench file (fixed)"
        reading = EnvironmentReading(t, rh, self.clock(), source)
        self.readings.append(reading)
        self.record(reading)
        return reading

    def due(self) -> bool:
        """A new reading is due: none yet, or `interval_min` since the last (a fixed entry is
        read once)."""
        if self._attempted is None:
            return True
        if self.config.read_by is None:
            return False
        return self.clock() - self._attempted >= self.config.interval_min * 60.0

    def check(self) -> EnvironmentReading | None:
        """The reading taken if one was due, else None. A reading that fails raises, and the
        next is due an interval later (a sensor's bad moment is not retried at every wait)."""
        return self.read() if self.due() else None
