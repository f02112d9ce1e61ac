"""What the report header shows of the bench file stored with a run.

The reports package knows nothing of rig/, so the bench file is read here as plain YAML,
leniently: instruments are found under an `instruments:` key (a mapping of role to fields,
or a list), or as top-level mappings that carry a serial number or a resource string. Field
names are matched by their usual spellings; unknown fields are listed as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

# Column -> accepted spellings in a bench file (first match wins).
FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "model": ("model", "type", "make", "instrument", "driver", "kind"),
    "serial": ("serial", "serial_number", "serial_no", "sn"),
    "calibration": ("calibration_date", "calibrated", "cal_date", "calibration",
                    "last_calibration", "calibrated_on"),
    "calibration_due": ("calibration_due", "cal_due", "due", "recalibration"),
    "uncertainty": ("stated_uncertainty", "uncertainty", "accuracy", "expanded_uncertainty",
                    "class"),
    "resource": ("resource", "address", "visa", "port"),
}
_MARKERS = ("serial", "resource")


@dataclass
class Instrument:
    role: str
    fields: dict[str, str] = field(default_factory=dict)  # column -> text
    other: dict[str, str] = field(default_factory=dict)


@dataclass
class BenchInfo:
    name: str = ""
    lab: str = ""
    instruments: list[Instrument] = field(default_factory=list)
    problem: str = ""
    report_templates: str = ""  # the lab's template folder, as the bench file names it


def _text(value: Any) -> str:
    if isinstance(value, Mapping) and {"value", "unit", "k"} <= set(value):
        # An expanded uncertainty as the bench file states it (value, unit, coverage factor).
        return f"{_text(value['value'])} {_text(value['unit'])} (k={_text(value['k'])})"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return "" if value is None else str(value)


def _instrument(role: str, spec: Mapping[str, Any], role_key: Any = None) -> Instrument:
    lowered = {str(k).lower(): k for k in spec}
    inst = Instrument(role=role)
    used: set[Any] = {role_key} if role_key is not None else set()
    for column, names in FIELD_NAMES.items():
        for name in names:
            if name in lowered and lowered[name] not in used:
                key = lowered[name]
                inst.fields[column] = _text(spec[key])
                used.add(key)
                break
    for key, value in spec.items():
        if key not in used:
            inst.other[str(key)] = _text(value)
    return inst


def _looks_like_instrument(spec: Any) -> bool:
    if not isinstance(spec, Mapping):
        return False
    keys = {str(k).lower() for k in spec}
    return any(n in keys for m in _MARKERS for n in FIELD_NAMES[m])


def parse_bench(text: str) -> BenchInfo:
    """Header facts of a bench file; never raises (a bad file gives BenchInfo.problem)."""
    info = BenchInfo()
    if not text.strip():
        info.problem = "no bench file stored with the run"
        return info
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        info.problem = f"bench file is not valid YAML: {exc}"
        return info
    if not isinstance(doc, Mapping):
        info.problem = "bench file is not a YAML mapping"
        return info
    bench = doc.get("bench") if isinstance(doc.get("bench"), Mapping) else doc
    info.name = _text(bench.get("name") or doc.get("name") or "")
    info.lab = _text(bench.get("lab") or doc.get("lab") or "")
    info.report_templates = _text(bench.get("report_templates") or "")
    section = bench.get("instruments", doc.get("instruments"))
    if isinstance(section, Mapping):
        for role, spec in section.items():
            if isinstance(spec, Mapping):
                info.instruments.append(_instrument(str(role), spec))
    elif isinstance(section, list):
        for i, spec in enumerate(section):
            if isinstance(spec, Mapping):
                key = "role" if spec.get("role") else "name" if spec.get("name") else None
                role = _text(spec[key]) if key else f"instrument {i + 1}"
                info.instruments.append(_instrument(role, spec, key))
    else:
        for role, spec in bench.items():
            if _looks_like_instrument(spec):
                info.instruments.append(_instrument(str(role), spec))
    return info
