"""Build a run's report files from the store: report.html, measurements.csv, measurements.json,
report.sha256 (their hashes: reports/signing.py) and report.pdf (reports/pdf.py).

`build_report` is what `python -m reports build` and the rig's pytest plugin call. It
reads the store leniently: an unfinished run, a newer schema, missing columns or a corrupt
JSON cell still give a report of what is there, marked incomplete, with the reasons. Files
are written atomically (temporary file, then rename), so a report is never half-written.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gc
import io
import json
import os
import signal
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reports.analysis import Analysed, analyse
from reports.benchinfo import bench_info
from reports.html import incomplete_reasons
from reports.numbers import iso_time, iso_times
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


def export_rows(a: Analysed) -> list[tuple[Any, ...]]:
    """All measurements of the run in export form, a tuple each in the order of
    EXPORT_COLUMNS: the rows both exports are written from (the CSV by itself, the JSON
    through their frame, export_frame)."""
    serials = {p.position: p.serial for p in a.positions}
    starts, ends = (iso_times(r.started_at for r in a.rows),
                    iso_times(r.ended_at for r in a.rows))
    return [_export_row(r, serials.get(r.position, ""), start, end)
            for r, start, end in zip(a.rows, starts, ends, strict=True)]


def _export_row(r: StoredMeasurement, serial: str, start: str | None,
                end: str | None) -> tuple[Any, ...]:
    """start, end: iso_time of r.started_at and r.ended_at."""
    reps = r.repetitions
    return (
        r.id, r.run_id, r.position, serial, r.test_id, r.family, r.clause, r.quantity,
        r.value, r.unit, r.limit_low, r.limit_high, r.expanded_uncertainty, r.coverage_factor,
        str(r.verdict), str(r.decision_rule),
        reps.n if reps else None, reps.mean if reps else None, reps.stdev if reps else None,
        r.load, r.pf, r.direction, r.element, r.point, r.raw, r.uncertainty_budget,
        r.started_at, r.ended_at, start, end,
        r.recorded_count, r.message,
    )


def export_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """The export rows as a frame, for the JSON export (pandas writes its numbers)."""
    if not rows:
        return pd.DataFrame([], columns=EXPORT_COLUMNS)
    columns = zip(EXPORT_COLUMNS, zip(*rows, strict=True), strict=True)
    return pd.DataFrame({c: list(v) for c, v in columns}, columns=EXPORT_COLUMNS)


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


# The export columns that hold JSON: the CSV writes them as JSON text.
_JSON_EXPORT_COLUMNS = ("point", "raw", "uncertainty_budget")


def csv_text(rows: list[tuple[Any, ...]]) -> str:
    """The export rows as CSV, as pandas' DataFrame.to_csv wrote their frame (which was the
    CSV export until it took a third of a 48-position build): Python's csv writer with
    minimal quoting, numbers to 15 significant digits ('%.15g'), a missing one (None, NaN)
    empty, the JSON columns as JSON text (keys sorted; each distinct object encoded once:
    reports.store reads each distinct text into one object, shared by the rows that hold it).
    Integers are written whole (pandas wrote an integer column with a missing value as
    floats: the same text below 10**15)."""
    encode = json.JSONEncoder(sort_keys=True).encode  # json.dumps would make one per cell
    encoded: dict[int, str] = {}

    def json_cell(v: Any) -> str:
        if v is None:
            return ""
        text = encoded.get(id(v))
        if text is None:
            text = encoded[id(v)] = encode(v)
        return text

    columns = []
    # (no rows: no columns, and the header alone, as pandas wrote an empty frame)
    for name, values in zip(EXPORT_COLUMNS, zip(*rows, strict=True), strict=False):
        if name in _JSON_EXPORT_COLUMNS:
            columns.append([json_cell(v) for v in values])
        else:
            columns.append([("" if v != v else f"{v:.15g}") if type(v) is float else v
                            for v in values])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")  # minimal quoting, as pandas
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows(zip(*columns, strict=True))
    return out.getvalue()


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


def _write_exports(a: Analysed, reasons: list[str], formats: list[str], target: Path) -> None:
    """The CSV and JSON exports of those in `formats`, from one set of export rows."""
    export = export_rows(a)
    for fmt in formats:
        text = csv_text(export) if fmt == "csv" else json_text(a, reasons, export_frame(export))
        _write_atomic(target / FILENAMES[fmt], text)


# The start of the DeprecationWarning Python 3.12+ gives for os.fork() in a process with threads.
FORK_WARNING = r"This process \(pid=\d+\) is multi-threaded, use of fork\(\) may lead to deadlocks"


def _fork_exports(a: Analysed, reasons: list[str], formats: list[str],
                  target: Path) -> int | None:
    """Write the exports in a child process while this one renders report.html: the child is
    a fork, a copy of this process, so the analysed rows need no passing; its pid (join it
    with _joined), or None where there is no fork or a single core (then the caller writes
    them). The exports grow with the positions as the pages do (at 12 positions 0.4 s of a
    1.9 s build, the two pages 0.8 s): on a second core they cost the build no wall time.

    Fork and threads: the child runs only this thread (the browser's thread stays with the
    parent) and takes no lock another thread could hold: Python's own fork handlers reset
    the import lock; the modules the child uses (pandas, json, csv) are imported before the
    fork, and the browser's thread imports only selenium's; the child writes two files with
    plain open() and ends with os._exit (no clean-up of the parent's state, no flush of its
    buffers). If it fails, the parent writes the exports itself, so that whatever failed
    raises where it always did."""
    if not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        return None
    with warnings.catch_warnings():
        # Python 3.12+ warns on every fork of a process with threads (here the browser's),
        # as the child may need a lock one of them held. This child needs none (above); the
        # warning would end every green type test with "1 warning".
        warnings.filterwarnings("ignore", FORK_WARNING, DeprecationWarning)
        pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _write_exports(a, reasons, formats, target)
        code = 0
    finally:
        os._exit(code)


def _joined(pid: int) -> bool:
    """Wait for the exports' child; whether it wrote them."""
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


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
        with _collector_paused():
            result = _build(run_id, runs_dir, formats, out_dir, meta, issued, store, printer)
    finally:
        if printer is not None:
            printer.cancel()  # the build failed before the print: close the browser
    return result


def _build(run_id: str, runs_dir: str | Path, formats: list[str], out_dir: str | Path | None,
           meta: str | Path | None, issued: dt.date | None, store: str | Path | None,
           printer: Printer | None) -> BuildResult:
    """build_report's steps: read, analyse, write (its arguments, the browser started)."""
    data = load_for_report(run_id, runs_dir, store)
    a = analyse(data)  # once for every format
    reasons = incomplete_reasons(a)
    target = (Path(out_dir) if out_dir is not None
              else runs_folder(runs_dir, store) / data.run.run_id)
    inputs = PageInputs(meta=_meta_for(target, meta),
                        lab_templates=lab_template_folder(bench_info(data, a.events),
                                                          data.run.bench_path),
                        issued=issued)
    with tempfile.TemporaryDirectory(prefix="report-print-") as tmp:
        return _write_files(a, inputs, formats, target, reasons, printer, Path(tmp))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off for a build, as it was after it. A build makes some
    million objects that live until its end (the rows, the pages' texts) and makes no
    reference cycle that must go before that; the collector's passes over them, more the more
    positions, were a tenth of a 48-position build. Whatever cycles a build leaves are
    collected once the collector runs again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _write_files(a: Analysed, inputs: PageInputs, formats: list[str], target: Path,
                 reasons: list[str], printer: Printer | None, tmp: Path) -> BuildResult:
    """The report files, then report.pdf from the printed page (reports/matrix.py: the
    report with the results matrix in place of the per-position tables), which is not one
    of the run's files: `printer` loads it from `tmp` while report.html is written. The
    exports (CSV, JSON) are written meanwhile by a child process (_fork_exports)."""
    exports = [fmt for fmt in formats if fmt != "html"]
    pages: PageRenderer | None = None
    child: int | None = None
    try:
        if "html" in formats:
            child = _fork_exports(a, reasons, exports, target) if exports else None
            pages = page_renderer(a, inputs)
            if printer is not None:
                # The printed page first: the browser loads it while report.html is rendered.
                page = tmp / FILENAMES["html"]
                page.write_text(pages.printed(), encoding="utf-8")
                printer.load(page)
            _write_atomic(target / FILENAMES["html"], pages.html())
        if child is not None:
            written, child = _joined(child), None
            if not written:  # then here, where whatever failed raises as it did there
                _write_exports(a, reasons, exports, target)
        elif exports:
            _write_exports(a, reasons, exports, target)
    finally:
        if child is not None:  # the page failed: the exports are not wanted
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
    files = {fmt: target / FILENAMES[fmt] for fmt in formats}
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
