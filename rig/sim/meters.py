"""Building the software meter of each position from the bench file.

The bench file says what sits in a position (wiring, Un, In, Imax, constants, address); the
meter model is chosen by import path (`sim.meter.model`, default the bundled A1000) and built by
its config factory (`sim.meter.config_factory`). The factory receives the model's base config
(`sim.meter.config`: a YAML path, or null for the model's defaults) merged with the position's
ratings and any `sim.meter.overrides`, so a firmware team plugging in its own model provides a
class with the A1000 API and a factory `(obj: dict, source: str) -> config`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from rig.importpath import import_object

DEFAULT_MODEL = "meter.a1000:A1000"
DEFAULT_CONFIG_FACTORY = "meter.a1000.config:config_from_obj"
DEFAULT_CONFIG_FILE = Path(__file__).resolve().parents[2] / "meter" / "a1000" / "default.yaml"


class MeterBuildError(ValueError):
    """A position's meter cannot be built; the message names the position and the reason."""


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


#: The A1000's nominal voltages by the bench's Un, which is phase-to-neutral for both wirings
#: (the source sets each phase): manual 3.2.1 lists 3-phase 4-wire 58 V and 220 V and 3-phase
#: 3-wire 100 V (line, 57.7 V to neutral); the model also builds a 3P3W meter on 3x220/380 V.
NOMINALS = {"3P4W": {57.7: "3x57.7/100", 220.0: "3x220/380"},
            "3P3W": {57.7: "3x100", 220.0: "3x220/380"}}
#: How far the bench's Un may lie from a nominal: the last digit of a written nominal (57.7 V).
NOMINAL_TOLERANCE = 0.001


def nominal_for(wiring: str, un: float) -> str:
    """The A1000 nominal voltage equal to the bench's Un (manual 3.2.1). A bench whose Un is not
    a nominal of the meter is refused: every reference point would sit at Un/nominal of the
    meter's own rating (230 V on a 3x220/380 V meter is 1.045 Un)."""
    known = NOMINALS.get(wiring, {})
    for volts, name in known.items():
        if abs(un / volts - 1.0) <= NOMINAL_TOLERANCE:
            return name
    offered = ", ".join(f"{v:g} V ({n})" for v, n in known.items()) or "none"
    raise MeterBuildError(
        f"un {un:g} V is not a nominal voltage of a {wiring} A1000 (manual 3.2.1: {offered}); "
        "set the position's un to one of them"
    )


def position_overrides(pos: dict[str, Any]) -> dict[str, Any]:
    """What the bench file says about the meter in a position, as A1000 config fields."""
    number = int(pos["id"])
    over: dict[str, Any] = {
        "wiring": pos.get("wiring", "3P4W"),
        "identity": {
            "device_address": str(pos.get("address", "") or ""),
            "meter_number": f"{number:012d}",
        },
    }
    if "un" in pos:
        over["nominal"] = nominal_for(over["wiring"], float(pos["un"]))
    if "in" in pos:
        over["in_a"] = float(pos["in"])
    if "imax" in pos:
        over["imax_a"] = float(pos["imax"])
    constants = {}
    if pos.get("meter_constant") is not None:
        constants["active_imp_per_kwh"] = int(pos["meter_constant"])
    if pos.get("reactive_constant") is not None:
        constants["reactive_imp_per_kvarh"] = int(pos["reactive_constant"])
    if constants:
        over["constants"] = constants
    return over


def build_meter(
    pos: dict[str, Any], options: dict[str, Any], *, start_time: float, state_dir: Path | None
) -> Any:
    """The meter model instance for bench-file position `pos` with sim meter `options`."""
    number = pos.get("id")
    where = f"position {number}"
    try:
        cls = import_object(str(options.get("model", DEFAULT_MODEL)), "meter model")
        factory = import_object(
            str(options.get("config_factory", DEFAULT_CONFIG_FACTORY)), "meter config factory"
        )
    except ValueError as e:
        raise MeterBuildError(f"{where}: {e}") from None
    cfg_file = options.get("config")
    path = Path(cfg_file) if cfg_file else DEFAULT_CONFIG_FILE
    try:
        base = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise MeterBuildError(f"{where}: meter config {path}: {e}") from None
    if not isinstance(base, dict):
        raise MeterBuildError(f"{where}: meter config {path}: expected a mapping")
    try:
        obj = deep_merge(base, position_overrides(pos))
    except MeterBuildError as e:
        raise MeterBuildError(f"{where}: {e}") from None
    obj = deep_merge(obj, options.get("overrides") or {})
    try:
        config = factory(obj, f"{path} + bench {where}")
    except ValueError as e:
        raise MeterBuildError(f"{where}: {e}") from None
    defects = list(options.get("defects") or [])
    try:
        return cls(config, start_time=start_time, state_dir=state_dir, defects=defects)
    except ValueError as e:
        raise MeterBuildError(f"{where}: {e}") from None
