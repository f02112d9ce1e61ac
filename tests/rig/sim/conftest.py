"""Shared helpers for the simulated-bench tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SIM_BENCH = REPO / "benches" / "sim.yaml"

FLAT = {"low_current": 0.0, "high_current": 0.0, "power_factor": 0.0, "voltage": 0.0,
        "frequency": 0.0, "harmonics": 0.0}


def flat_error(active_pct: float, reactive_pct: float = 0.0) -> dict[str, Any]:
    """Meter overrides giving a constant error (percent) at every load point."""
    return {"overrides": {"error_model": {
        "active": {"offset": active_pct, **FLAT},
        "reactive": {"offset": reactive_pct, **FLAT},
        "apparent": {"offset": 0.0, **FLAT}}}}


@pytest.fixture
def sim_bench_dict() -> dict[str, Any]:
    return yaml.safe_load(SIM_BENCH.read_text(encoding="utf-8"))
