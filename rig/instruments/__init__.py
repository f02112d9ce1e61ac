"""Instrument drivers by role: power source, reference meter, error calculators, energy register.

Drivers are declared under a name by entry points (`rig.instruments.registry`); bench files
refer to that name.
"""

from rig.instruments.errors import InstrumentError, LoadPointRefused, SettingError
from rig.instruments.loadpoint import Harmonic, LoadPoint, PhaseSetting
from rig.instruments.registry import driver_class, known_drivers
from rig.instruments.roles import (
    ECState,
    ECStatus,
    EnergyRegister,
    ErrorCalculator,
    PowerSource,
    Quantity,
    Readings,
    ReferenceMeter,
    SourceCapabilities,
    SourceStatus,
)

__all__ = [
    "ECState",
    "ECStatus",
    "EnergyRegister",
    "ErrorCalculator",
    "Harmonic",
    "InstrumentError",
    "LoadPoint",
    "LoadPointRefused",
    "PhaseSetting",
    "PowerSource",
    "Quantity",
    "Readings",
    "ReferenceMeter",
    "SettingError",
    "SourceCapabilities",
    "SourceStatus",
    "driver_class",
    "known_drivers",
]
