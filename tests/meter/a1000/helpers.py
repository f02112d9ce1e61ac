"""Shared helpers of the A1000 core tests (import from tests.meter.a1000.helpers)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from meter.a1000.config import MeterConfig, config_from_obj, default_config
from meter.a1000.meter import A1000

# 2026-03-02 00:00:00 UTC, a Monday in the default winter season (no holiday).
T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()

ZERO_CURVE = {
    "offset": 0.0,
    "low_current": 0.0,
    "high_current": 0.0,
    "power_factor": 0.0,
    "voltage": 0.0,
    "frequency": 0.0,
    "harmonics": 0.0,
}


def make_config(**changes: Any) -> MeterConfig:
    """The default configuration with top-level fields replaced (nested dicts merged)."""
    obj = copy.deepcopy(default_config().to_obj())
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(obj.get(key), dict) and key != "tou":
            obj[key].update(value)
        else:
            obj[key] = value
    return config_from_obj(obj, "test")


def ideal_config(**changes: Any) -> MeterConfig:
    """A meter without own error (error model all zero)."""
    em = {"active": ZERO_CURVE, "reactive": ZERO_CURVE, "apparent": ZERO_CURVE}
    em.update(changes.pop("error_model", {}))
    return make_config(error_model=em, **changes)


def fixed_tariff_tou(tariff: int) -> dict[str, Any]:
    return {"daily_profiles": {}, "seasons": [{"start": "01-01", "tariff": tariff}]}


def ideal_meter(**changes: Any) -> A1000:
    return A1000(ideal_config(**changes), start_time=T0)


class VirtualTime:
    """A meter's time source for a served bank that tests move by hand (`vt.t = ...`)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t
