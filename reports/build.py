"""Build a run's report files from the store: report.html, measurements.csv, measurements.json.

`build_report` is what `python -m reports build` and the rig's pytest plugin call. It
reads the store leniently: an unfinished run, a newer schema, missing columns or a corrupt
JSON cell still give a report of what is there, marked incomplete, with the reasons. Files
are written atomically (temporary file, then rename), so a report is never half-written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reports.analysis import Analysed, analyse
from reports.html import incomplete_reasons, render_analysed
from reports.numbers import iso_time
from reports.store import ResultsStore, RunData, SchemaVersionError, StoreError, store_path

FORMATS = ("html", "csv", "json")
FILENAMES = {"html": "report.html", "csv": "measurements.csv", "json": "measurements.json"}

EXPORT_COLUMNS = [
    "id", "run_id", "position", "serial", "test_id", "family", "clause", "quantity", "value",
    "unit", "limit_low", "limit_high", "expanded_uncertainty", "coverage_factor", "verdict",
    "decision_rule", "rep_n", "rep_mean", "rep_stdev", "load", "pf", "direction", "element",
    "point", "raw", "uncertainty_budget", "started_at", "ended_at", "started_at_utc",
    "ended_at_utc", "recorded_count", "message",
]


@dataclass
class BuildResult:
    run_id: str
    out_dir: Path
    files: dict[str, Path]
    incomplete: bool
    reasons: list[str] = field(default_factory=list)


def resolve_store(runs_dir: str | Path) -> Path:
    path = Path(runs_dir)
    return path if path.is_file() else store_path(path)


def load_for_report(run_id: str, runs_dir: str | Path = "runs",
                    store: str | Path | None = None) -> RunData:
    """Open the store of `runs_dir` (or a store file, or `store`: a file or a PostgreSQL URL)
    and read one run leniently.

    run_id 'latest' picks the most recently started run. A store of a newer schema is read
    as far as this version understands it (RunData.problems says so)."""
    path = resolve_store(runs_dir) if store is None else store
    try:
        store = ResultsStore(path, create=False)
    except SchemaVersionError:
        store = ResultsStore(path, create=False, allow_newer=True)
    with store:
        if run_id == "latest":
            runs = store.list_runs()
            if not runs:
                raise StoreError(f"{path}: the store holds no runs")
            run_id = runs[-1].run_id
        return store.load_run(run_id)


def export_frame(a: Analysed) -> pd.DataFrame:
    """All measurements of the run, one row each, in export form."""
    meas = a.meas.copy()
    serials = {r["position"]: r["serial"] for r in a.data.positions.to_dict("records")}
    meas["serial"] = [serials.get(p, "") for p in meas["position"]]
    meas["load"], meas["pf"] = meas["p_load"], meas["p_pf"]
    meas["direction"], meas["element"] = meas["p_direction"], meas["p_element"]
    meas["started_at_utc"] = [iso_time(t) for t in meas["started_at"]]
    meas["ended_at_utc"] = [iso_time(t) for t in meas["ended_at"]]
    return meas[EXPORT_COLUMNS].reset_index(drop=True)


def _write_atomic(path: Path, text: str) -> None:
    """Write beside the target, then rename over it: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def csv_text(export: pd.DataFrame) -> str:
    """The export frame as CSV, the JSON columns as JSON text."""
    df = export.copy()
    encode = json.JSONEncoder(sort_keys=True).encode  # json.dumps would make one per cell
    for c in ("point", "raw", "uncertainty_budget"):
        df[c] = [encode(v) if v is not None else "" for v in df[c]]
    return df.to_csv(index=False, float_format="%.15g", lineterminator="\n")


def json_text(a: Analysed, reasons: list[str], export: pd.DataFrame) -> str:
    """The run, its positions and the export frame as one JSON document."""
    data = a.data
    # The numbers as pandas writes them (to 15 decimal places, as the export always had),
    # read back as plain Python values for the document.
    records = json.loads(export.to_json(orient="records", double_precision=15,
                                        force_ascii=False))
    run = data.run
    doc = {
        "run": {
            "run_id": run.run_id, "plan_name": run.plan_name, "plan_version": run.plan_version,
            "operator": run.operator, "software_version": run.software_version,
            "decision_rule": str(run.decision_rule), "status": str(run.status),
            "started_at": iso_time(run.started_at), "ended_at": iso_time(run.ended_at),
            "lab": run.lab, "bench_path": run.bench_path, "bench_hash": run.bench_hash,
            "environment": dict(run.environment),
        },
        "incomplete": bool(reasons),
        "incomplete_reasons": reasons,
        "schema_version": data.schema_version,
        "positions": json.loads(data.positions.to_json(orient="records", double_precision=15)),
        "verdicts": {str(s.position): (s.verdict.value if s.verdict else None)
                     for s in a.summaries},
        "measurements": records,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def build_report(
    run_id: str,
    runs_dir: str | Path = "runs",
    formats: Iterable[str] = FORMATS,
    out_dir: str | Path | None = None,
    store: str | Path | None = None,
) -> BuildResult:
    """Write the report files of a run under <runs_dir>/<run_id>/ (or out_dir). `store`: read
    the run from there (a file or a PostgreSQL URL) instead of the runs directory's file."""
    formats = list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(FORMATS)}")
    data = load_for_report(run_id, runs_dir, store)
    a = analyse(data)  # once for every format
    reasons = incomplete_reasons(data, a.interrupted)
    base = resolve_store(runs_dir).parent if store is None else Path(runs_dir)
    target = Path(out_dir) if out_dir is not None else base / data.run.run_id
    files: dict[str, Path] = {}
    export: pd.DataFrame | None = None
    for fmt in formats:
        path = target / FILENAMES[fmt]
        if fmt == "html":
            text = render_analysed(a)
        else:
            if export is None:
                export = export_frame(a)
            text = csv_text(export) if fmt == "csv" else json_text(a, reasons, export)
        _write_atomic(path, text)
        files[fmt] = path
    return BuildResult(data.run.run_id, target, files, bool(reasons), reasons)
