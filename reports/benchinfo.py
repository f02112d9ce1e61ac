"""What the report header shows of the bench a run used: the validated bench configuration the
rig stored with the run, not the raw bench file.

The rig validates the bench file (rig.bench.config.BenchConfig) before anything is energised and
stores that configuration as JSON twice: an event of kind `bench_config` in the results store
(its `data`), and `runs/<run_id>/bench.json` beside the store. The reports package knows nothing
of rig/, so the JSON is read here by its field names, which are the bench file's own: the
instruments by role (`source`, `reference`, `error_calculators.<name>`, `energy`,
`environment`) and the `traceability` items, each with `model`, `serial`, `calibration_date`,
`calibration_due`, `certificate`, `uncertainty` {value, unit, k} and `resource`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.records import Event
from reports.rows import event_rows
from reports.store import RunData

#: The store event that holds the validated bench configuration (its `data`).
BENCH_CONFIG_EVENT = "bench_config"
#: The file in the run folder that holds it.
BENCH_JSON = "bench.json"

# Column -> the configuration's field (one name each: the schema has one spelling).
COLUMNS = {
    "model": "model",
    "serial": "serial",
    "calibration": "calibration_date",
    "calibration_due": "calibration_due",
    "uncertainty": "uncertainty",
    "resource": "resource",
}
# Shown under "Other" when set.
OTHER = ("driver", "certificate")


@dataclass
class Instrument:
    role: str
    fields: dict[str, str] = field(default_factory=dict)  # column -> text
    other: dict[str, str] = field(default_factory=dict)


@dataclass
class BenchInfo:
    name: str = ""
    lab: str = ""
    report_templates: str = ""  # the lab's template folder, as the bench file names it
    instruments: list[Instrument] = field(default_factory=list)
    problem: str = ""


def _text(value: Any) -> str:
    if isinstance(value, Mapping) and {"value", "unit", "k"} <= set(value):
        # An expanded uncertainty as the certificate states it (value, unit, coverage factor).
        return f"{_text(value['value'])} {_text(value['unit'])} (k={_text(value['k'])})"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _instrument(role: str, spec: Mapping[str, Any]) -> Instrument:
    inst = Instrument(role=role)
    for column, key in COLUMNS.items():
        if spec.get(key) not in (None, ""):
            inst.fields[column] = _text(spec[key])
    if "model" not in inst.fields and spec.get("driver"):
        inst.fields["model"] = f"({spec['driver']} driver)"
    for key in OTHER:
        if spec.get(key) not in (None, ""):
            inst.other[key] = _text(spec[key])
    return inst


def from_config(config: Mapping[str, Any]) -> BenchInfo:
    """Header facts of a stored bench configuration (the BenchConfig as JSON). A bench file has
    no name of its own: the report shows its path (RunInfo.bench_path)."""
    info = BenchInfo(lab=_text(config.get("lab")),
                     report_templates=_text(config.get("report_templates") or ""))
    instruments = config.get("instruments") or {}
    for role, spec in instruments.items():
        if role == "error_calculators":
            for name, calc in (spec or {}).items():
                info.instruments.append(_instrument(f"error_calculators.{name}", calc))
        elif isinstance(spec, Mapping):
            info.instruments.append(_instrument(role, spec))
    for item in config.get("traceability") or []:
        info.instruments.append(_instrument(_text(item.get("item")), item))
    return info


def stored_config(events: Iterable[Event], run_folder: Path) -> Mapping[str, Any] | None:
    """The validated bench configuration stored with a run: its last `bench_config` event's
    data, else `bench.json` in the run's folder; None if neither."""
    stored = [e.data for e in events if e.kind == BENCH_CONFIG_EVENT]
    if stored and isinstance(stored[-1], Mapping) and stored[-1]:
        return stored[-1]
    try:
        loaded = json.loads((run_folder / BENCH_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, Mapping) else None


def bench_info(data: RunData, events: Iterable[Event] | None = None) -> BenchInfo:
    """Header facts of a run's bench; never raises (nothing stored gives BenchInfo.problem).
    events: the run's log as records, when the caller has them already (the report's
    analysis: reading them again from data.events costs as much as the analysis does)."""
    config = stored_config(event_rows(data.events) if events is None else events,
                           Path(data.store_path).parent / data.run.run_id)
    if config is None:
        return BenchInfo(problem="no validated bench configuration stored with the run (a run "
                         "made before it was stored: the bench file's text is shown below)")
    return from_config(config)
