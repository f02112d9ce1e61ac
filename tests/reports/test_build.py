"""The build hands the printed page to the browser before it renders report.html, the CSV and
the JSON (so that the browser loads it meanwhile), and the page it hands over is the page the
report prints: the report with the results matrix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reports.analysis import analyse
from reports.build import FILENAMES, FORMATS, _write_files, load_for_report
from reports.html import incomplete_reasons
from reports.page import PageInputs, PageRenderer, render_pages
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


def test_the_printed_page_goes_to_the_browser_before_the_other_files(tmp_path, monkeypatch):
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
    assert printer.files_at_load == []  # no report file written yet
    assert printer.finished  # and the print came after the content hash
    monkeypatch.undo()
    pages = render_pages(a, PageInputs(issued=ISSUED))
    assert printer.page_text == pages.printed
    assert 'id="results-matrix"' in printer.page_text
    assert (target / FILENAMES["html"]).read_text(encoding="utf-8") == pages.html
