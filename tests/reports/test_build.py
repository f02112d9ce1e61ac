"""The build hands the printed page to the browser before it renders report.html (so that the
browser loads it meanwhile), and the page it hands over is the page the report prints: the
report with the results matrix. The exports (CSV, JSON) are written from the same rows, by a
child process while the pages are rendered, as pandas wrote them."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import re
import sqlite3
import sys
import threading
import warnings
from pathlib import Path

import pandas as pd
import pytest

import reports.build
from reports.analysis import analyse
from reports.build import (
    EXPORT_COLUMNS,
    FILENAMES,
    FORK_WARNING,
    FORMATS,
    _write_files,
    build_report,
    csv_text,
    export_frame,
    export_rows,
    load_for_report,
)
from reports.html import incomplete_reasons
from reports.page import PageInputs, PageRenderer, render_pages
from reports.records import Measurement, Repetitions
from reports.store import ResultsStore
from tests.reports.sample_run import build_sample

ISSUED = dt.date(2026, 12, 5)


class RecordingPrinter:
    """Stands in for reports.pdf.Printer: notes what it was given and which report files
    existed when it was given the page."""

    def __init__(self, target: Path, events: list[str]) -> None:
        self.target, self.events = target, events
        self.page_text: str | None = None
        self.files_at_load: list[str] = []
        self.finished = False

    def load(self, html_path: Path) -> None:
        self.events.append("load the printed page")
        self.page_text = html_path.read_text(encoding="utf-8")
        self.files_at_load = sorted(p.name for p in self.target.iterdir())

    def finish(self, pdf_path: Path, *, title: str, number: str, content_hash: str) -> None:
        self.finished = bool(content_hash)


def test_the_printed_page_goes_to_the_browser_before_report_html_is_made(tmp_path, monkeypatch):
    events: list[str] = []
    render_html = PageRenderer.html

    def html(self: PageRenderer) -> str:
        events.append("render report.html")
        return render_html(self)

    monkeypatch.setattr(PageRenderer, "html", html)
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        sample = build_sample(store, positions=3)
    a = analyse(load_for_report(sample.run_id, runs))
    target = tmp_path / "out"
    target.mkdir()
    printer = RecordingPrinter(target, events)
    tmp = tmp_path / "print"
    tmp.mkdir()
    _write_files(a, PageInputs(issued=ISSUED), list(FORMATS), target, incomplete_reasons(a),
                 printer, tmp)  # type: ignore[arg-type]
    assert events == ["load the printed page", "render report.html"]
    # report.html not written yet (the exports' child may have written the CSV or JSON)
    assert "report.html" not in printer.files_at_load
    assert printer.finished  # and the print came after the content hash
    monkeypatch.undo()
    pages = render_pages(a, PageInputs(issued=ISSUED))
    assert printer.page_text == pages.printed
    assert 'id="results-matrix"' in printer.page_text
    assert (target / FILENAMES["html"]).read_text(encoding="utf-8") == pages.html


# -- the exports: written from the same rows as pandas wrote them ----------------------------


def pandas_frame(rows: list[tuple]) -> pd.DataFrame:
    """The export frame as the build made it before it wrote the CSV itself: one dict a row."""
    return pd.DataFrame([dict(zip(EXPORT_COLUMNS, r, strict=True)) for r in rows],
                        columns=EXPORT_COLUMNS)


def pandas_csv(rows: list[tuple]) -> str:
    """The CSV export as pandas' to_csv wrote it (the JSON columns as JSON text)."""
    df = pandas_frame(rows)
    for c in ("point", "raw", "uncertainty_budget"):
        df[c] = [json.dumps(v, sort_keys=True) if v is not None else "" for v in df[c]]
    return df.to_csv(index=False, float_format="%.15g", lineterminator="\n")


def awkward(run_id: str, position: int) -> list[Measurement]:
    """Values that test a CSV writer: quotes, separators, line breaks, non-ASCII text; no value,
    no limit, no budget; zero (SQLite keeps -0.0 as 0), tiny, huge and inexact numbers;
    repetitions."""
    base = dict(run_id=run_id, family="influence", position=position, unit="%",
                quantity="active energy error", verdict="pass")
    return [
        Measurement(test_id='t::quotes[a, "b"]', value=-0.0, clause="8.2, 8.3",
                    point={"load": 0.1, "pf": "0.5L", "influence": {"quantity": "Ü", "value": 1}},
                    message='first line, "quoted"\nsecond line ±0.1 %', limit_low=-1.0,
                    limit_high=1.0, expanded_uncertainty=0.02, **base),
        Measurement(test_id="t::none", value=None, **{**base, "verdict": "error"},
                    point={"load": 1e-20}, raw={"x": 0.1 + 0.2, "n": [1, 2.5, None]},
                    uncertainty_budget=None, message="no pulses"),
        Measurement(test_id="t::numbers", value=123456789012.34567, limit_low=None,
                    limit_high=2e-17, expanded_uncertainty=1e22, point={"element": "L1"},
                    repetitions=Repetitions(n=5, mean=0.1 + 0.2, stdev=1 / 3),
                    uncertainty_budget={"coverage_factor": 2, "components": []},
                    started_at=1_790_000_000.123456, ended_at=1_790_000_001.5, **base),
    ]


@pytest.fixture()
def awkward_store(tmp_path):
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        sample = build_sample(store, positions=2, finish=False)
        for m in awkward(sample.run_id, 3):
            store.record(m)
        store.finish_run(sample.run_id)
    return runs, sample.run_id


def test_the_csv_export_is_the_text_pandas_wrote(awkward_store):
    runs, run_id = awkward_store
    rows = export_rows(analyse(load_for_report(run_id, runs)))
    assert len(rows) > 100 and all(len(r) == len(EXPORT_COLUMNS) for r in rows)
    text = csv_text(rows)
    assert text == pandas_csv(rows)
    assert '"first line, ""quoted""\nsecond line ±0.1 %"' in text  # quoted as CSV quotes
    assert ",123456789012.346,%," in text and ",1e-20," in text  # "%.15g"


def test_the_json_export_frame_is_the_frame_pandas_made(awkward_store):
    """The JSON export is pandas' to_json of the frame: the same frame (dtypes included)
    gives the same text."""
    runs, run_id = awkward_store
    rows = export_rows(analyse(load_for_report(run_id, runs)))
    pd.testing.assert_frame_equal(export_frame(rows), pandas_frame(rows))


def test_exports_of_a_damaged_store_and_of_no_rows_are_those_pandas_wrote(awkward_store):
    runs, run_id = awkward_store
    with sqlite3.connect(runs / "results.sqlite") as db:
        first = db.execute("SELECT MIN(id) FROM measurement").fetchone()[0]
        db.execute("UPDATE measurement SET raw = '{broken', verdict = 'odd', value = 'x' "
                   "WHERE id = ?", (first,))
        db.execute("UPDATE measurement SET point = '[1, 2]', rep_n = 3 WHERE id = ?",
                   (first + 1,))
        db.execute("ALTER TABLE measurement DROP COLUMN unit")
    data = load_for_report(run_id, runs)
    assert data.problems  # the damage is seen
    rows = export_rows(analyse(data))
    assert csv_text(rows) == pandas_csv(rows)
    pd.testing.assert_frame_equal(export_frame(rows), pandas_frame(rows))
    assert csv_text([]) == pandas_csv([])
    pd.testing.assert_frame_equal(export_frame([]), pandas_frame([]))


# -- the exports are written by a child process while the page is rendered ------------------


def _noting_writers(monkeypatch, note: Path) -> None:
    """Note the process that writes each report file."""
    write = reports.build._write_atomic

    def noted(path: Path, text: str) -> None:
        with open(note, "a", encoding="utf-8") as f:
            f.write(f"{path.name} {os.getpid()}\n")
        write(path, text)

    monkeypatch.setattr(reports.build, "_write_atomic", noted)


def test_the_exports_come_from_a_child_and_are_what_one_process_writes(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        run_id = build_sample(store, positions=3).run_id
    note = tmp_path / "writers"
    _noting_writers(monkeypatch, note)
    forked = build_report(run_id, runs, issued=ISSUED, out_dir=tmp_path / "forked")
    writers = dict(line.split() for line in note.read_text(encoding="utf-8").splitlines())
    me = str(os.getpid())
    assert writers["report.html"] == writers["report.sha256"] == me
    assert writers["measurements.csv"] == writers["measurements.json"] != me
    monkeypatch.setattr(reports.build, "_fork_exports", lambda *args: None)
    alone = build_report(run_id, runs, issued=ISSUED, out_dir=tmp_path / "alone")
    assert list(forked.files) == list(alone.files) == ["html", "csv", "json", "sha256"]
    for name in ("report.html", "measurements.csv", "measurements.json", "report.sha256"):
        assert ((tmp_path / "forked" / name).read_bytes()
                == (tmp_path / "alone" / name).read_bytes()), name
    assert forked.content_hash == alone.content_hash != ""


def test_the_fork_warning_pattern_is_pythons_text():
    # CPython 3.12+ Modules/posixmodule.c, warn_about_fork_with_threads(): "This process
    # (pid=%d) is multi-threaded, use of %s() may lead to deadlocks in the child."
    text = ("This process (pid=4242) is multi-threaded, use of fork() may lead to deadlocks "
            "in the child.")
    assert re.match(FORK_WARNING, text)
    assert not re.match(FORK_WARNING, text.replace("fork()", "forkpty()"))


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Python warns of fork with threads "
                    "from 3.12 on")
def test_exports_forked_beside_the_browsers_thread_give_no_warning(tmp_path):
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        run_id = build_sample(store, positions=2).run_id
    stop = threading.Event()
    browser = threading.Thread(target=stop.wait, name="stands in for report-pdf")
    browser.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = build_report(run_id, runs, issued=ISSUED, pdf=False)
    finally:
        stop.set()
        browser.join()
    assert "csv" in result.files and "json" in result.files
    assert [str(w.message) for w in caught if "fork" in str(w.message)] == []
    # The filter was the build's alone: a fork outside it still warns.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stop.clear()
        other = threading.Thread(target=stop.wait)
        other.start()
        try:
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        finally:
            stop.set()
            other.join()
    assert any(re.match(FORK_WARNING, str(w.message)) for w in caught)


def test_an_export_that_fails_in_the_child_fails_the_build_as_it_did(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        run_id = build_sample(store, positions=1).run_id

    def broken(rows):
        raise RuntimeError(f"no CSV in process {os.getpid()}")

    monkeypatch.setattr(reports.build, "csv_text", broken)
    with pytest.raises(RuntimeError, match=f"no CSV in process {os.getpid()}$"):
        build_report(run_id, runs, issued=ISSUED)  # raised again in the build's own process
    assert sorted(p.name for p in (runs / run_id).iterdir()) == ["report.html"]


def test_a_page_that_fails_ends_the_exports_child(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        run_id = build_sample(store, positions=1).run_id
    children: list[int] = []
    fork = reports.build._fork_exports

    def noted(*args):
        children.append(fork(*args))
        return children[-1]

    def broken(self):
        raise RuntimeError("no page")

    monkeypatch.setattr(reports.build, "_fork_exports", noted)
    monkeypatch.setattr(PageRenderer, "html", broken)
    with pytest.raises(RuntimeError, match="no page"):
        build_report(run_id, runs, issued=ISSUED)
    assert len(children) == 1 and children[0] is not None
    with pytest.raises(ChildProcessError):  # ended and reaped: no zombie left
        os.waitpid(children[0], os.WNOHANG)


def test_the_cycle_collector_is_off_during_a_build_and_as_it_was_after(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        run_id = build_sample(store, positions=1).run_id
    seen = []
    analyse_run = reports.build.analyse

    def noted(data):
        seen.append(gc.isenabled())
        return analyse_run(data)

    monkeypatch.setattr(reports.build, "analyse", noted)
    assert gc.isenabled()
    build_report(run_id, runs, issued=ISSUED)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        build_report(run_id, runs, issued=ISSUED)
        assert seen == [False, False] and not gc.isenabled()
    finally:
        gc.enable()
    monkeypatch.setattr(reports.build, "analyse", lambda data: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        build_report(run_id, runs, issued=ISSUED)
    assert gc.isenabled()
