"""The software Blue Star A1000 multifunction meter (see ``meter.a1000.meter.A1000``)."""

from meter.a1000.component import Component, ComponentBase, EnergyFlow
from meter.a1000.config import MeterConfig, default_config, load_config
from meter.a1000.meter import A1000
from meter.a1000.registers import PulseOutput

__all__ = [
    "A1000",
    "Component",
    "ComponentBase",
    "EnergyFlow",
    "MeterConfig",
    "PulseOutput",
    "default_config",
    "load_config",
]
