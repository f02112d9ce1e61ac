"""Build a run's report files from the store: report.html, measurements.csv, measurements.json,
report.sha256 (their hashes: reports/signing.py) and report.pdf (reports/pdf.py).

`build_report` is what `python -m reports build` and the rig's pytest plugin call. It
reads the store leniently: an unfinished run, a newer schema, missing columns or a corrupt
JSON cell still give a report of what is there, marked incomplete, with the reasons. Files
are written atomically (temporary file, then rename), so a report is never half-written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reports.analysis import Analysed, analyse
from reports.benchinfo import bench_info
from reports.html import incomplete_reasons
from reports.numbers import iso_time
from reports.page import PageInputs, PageRenderer, lab_template_folder, page_renderer
from reports.pdf import Printer, pdf_wanted
from reports.records import StoredMeasurement
from reports.reportmeta import ReportMeta, load_meta
from reports.schema import POSITION_COLUMNS
from reports.signing import CONTENT_FILES, MANIFEST, PDF, content_hash, manifest_text
from reports.store import ResultsStore, RunData, SchemaVersionError, StoreError, store_path

FORMATS = ("html", "csv", "json")
FILENAMES = {"html": "report.html", "csv": "measurements.csv", "json": "measurements.json"}
# The report metadata file as used for the run's report, kept beside it (rebuilds use it).
META_FILE = "report-meta.yaml"

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
    content_hash: str = ""  # of report.sha256, when every content file was written
    notes: list[str] = field(default_factory=list)  # e.g. why report.pdf was not written


def resolve_store(runs_dir: str | Path) -> Path:
    path = Path(runs_dir)
    return path if path.is_file() else store_path(path)


def runs_folder(runs_dir: str | Path, store: str | Path | None = None) -> Path:
    """The folder that holds the runs' files (runs/<run_id>/...): the store file's folder, or,
    with a store named apart from the runs directory (a PostgreSQL URL keeps no files), the
    runs directory itself."""
    return resolve_store(runs_dir).parent if store is None else Path(runs_dir)


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
    """All measurements of the run, one row each, in export form: the one place pandas
    earns its keep (CSV and JSON writing)."""
    serials = {p.position: p.serial for p in a.positions}
    return pd.DataFrame([_export_record(r, serials.get(r.position, "")) for r in a.rows],
                        columns=EXPORT_COLUMNS)


def _export_record(r: StoredMeasurement, serial: str) -> dict[str, Any]:
    reps = r.repetitions
    return {
        "id": r.id, "run_id": r.run_id, "position": r.position, "serial": serial,
        "test_id": r.test_id, "family": r.family, "clause": r.clause, "quantity": r.quantity,
        "value": r.value, "unit": r.unit, "limit_low": r.limit_low, "limit_high": r.limit_high,
        "expanded_uncertainty": r.expanded_uncertainty, "coverage_factor": r.coverage_factor,
        "verdict": str(r.verdict), "decision_rule": str(r.decision_rule),
        "rep_n": reps.n if reps else None, "rep_mean": reps.mean if reps else None,
        "rep_stdev": reps.stdev if reps else None, "load": r.load, "pf": r.pf,
        "direction": r.direction, "element": r.element, "point": r.point, "raw": r.raw,
        "uncertainty_budget": r.uncertainty_budget, "started_at": r.started_at,
        "ended_at": r.ended_at, "started_at_utc": iso_time(r.started_at),
        "ended_at_utc": iso_time(r.ended_at), "recorded_count": r.recorded_count,
        "message": r.message,
    }


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
    """The run, its positions and the export frame as one JSON document: one measurement a
    line (the numbers as pandas writes them, to 15 decimal places, as the export always had),
    the rest indented."""
    data = a.data
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
        "positions": json.loads(pd.DataFrame([dataclasses.asdict(p) for p in a.positions],
                                             columns=POSITION_COLUMNS)
                                .to_json(orient="records", double_precision=15)),
        "verdicts": {str(s.position): (s.verdict.value if s.verdict else None)
                     for s in a.summaries},
        "measurements": [],
    }
    head = json.dumps(doc, indent=1, ensure_ascii=False)
    # pandas writes the records itself, one a line: an indented json.dumps of them runs
    # Python's pure encoder (indent turns the C one off), a fifth of a 12-position build.
    lines = (export.to_json(orient="records", lines=True, double_precision=15,
                            force_ascii=False).strip() if len(export) else "")
    if not lines:
        return head + "\n"
    empty = ' "measurements": []\n}'
    assert head.endswith(empty)
    return (head[:-len(empty)] + ' "measurements": [\n  ' + lines.replace("\n", ",\n  ")
            + "\n ]\n}\n")


def _meta_for(target: Path, meta: str | Path | None) -> ReportMeta | None:
    """The metadata file given (validated, then kept in the run folder), else the one kept."""
    kept = target / META_FILE
    if meta is not None:
        parsed = load_meta(meta)
        _write_atomic(kept, Path(meta).read_text(encoding="utf-8"))
        return parsed
    return load_meta(kept) if kept.is_file() else None


def build_report(
    run_id: str,
    runs_dir: str | Path = "runs",
    formats: Iterable[str] = FORMATS,
    out_dir: str | Path | None = None,
    *,
    meta: str | Path | None = None,
    pdf: bool = True,
    issued: dt.date | None = None,
    store: str | Path | None = None,
) -> BuildResult:
    """Write the report files of a run under <runs_dir>/<run_id>/ (or out_dir).

    meta: a report metadata file (reports/reportmeta.py); pdf: print report.pdf too (with
    the HTML; reports.pdf.NO_PDF_ENV turns it off); issued: the date of issue (default
    today); store: read the run from there (a file or a PostgreSQL URL) instead of the runs
    directory's file. Raises ReportMetaError or TemplateFolderError for a bad metadata file or
    lab template folder."""
    formats = list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(FORMATS)}")
    # The browser starts while the run is read and analysed.
    printer = Printer() if pdf_wanted(pdf) and "html" in formats else None
    try:
        data = load_for_report(run_id, runs_dir, store)
        a = analyse(data)  # once for every format
        reasons = incomplete_reasons(a)
        target = (Path(out_dir) if out_dir is not None
                  else runs_folder(runs_dir, store) / data.run.run_id)
        inputs = PageInputs(meta=_meta_for(target, meta),
                            lab_templates=lab_template_folder(bench_info(data),
                                                              data.run.bench_path),
                            issued=issued)
        with tempfile.TemporaryDirectory(prefix="report-print-") as tmp:
            result = _write_files(a, inputs, formats, target, reasons, printer, Path(tmp))
    finally:
        if printer is not None:
            printer.cancel()  # the build failed before the print: close the browser
    return result


def _write_files(a: Analysed, inputs: PageInputs, formats: list[str], target: Path,
                 reasons: list[str], printer: Printer | None, tmp: Path) -> BuildResult:
    """The report files, then report.pdf from the printed page (reports/matrix.py: the
    report with the results matrix in place of the per-position tables), which is not one
    of the run's files: `printer` loads it from `tmp` while the other files are written."""
    files: dict[str, Path] = {}
    export: pd.DataFrame | None = None
    pages: PageRenderer | None = None
    for fmt in formats:
        path = target / FILENAMES[fmt]
        if fmt == "html":
            pages = page_renderer(a, inputs)
            if printer is not None:
                # The printed page first: the browser loads it while report.html, the CSV
                # and the JSON are rendered.
                page = tmp / FILENAMES["html"]
                page.write_text(pages.printed(), encoding="utf-8")
                printer.load(page)
            text = pages.html()
        else:
            if export is None:
                export = export_frame(a)
            text = csv_text(export) if fmt == "csv" else json_text(a, reasons, export)
        _write_atomic(path, text)
        files[fmt] = path
    result = BuildResult(a.data.run.run_id, target, files, bool(reasons), reasons)
    if all((target / name).is_file() for name in CONTENT_FILES) and len(formats) == len(FORMATS):
        manifest = manifest_text(target)
        _write_atomic(target / MANIFEST, manifest)
        files["sha256"] = target / MANIFEST
        result.content_hash = content_hash(manifest)
    if printer is not None and pages is not None:
        why = printer.finish(target / PDF, title=pages.ident.title, number=pages.ident.number,
                             content_hash=result.content_hash or "not computed (not every "
                             "format was built)")
        if why is None:
            files["pdf"] = target / PDF
        else:
            result.notes.append(why)
    return result
