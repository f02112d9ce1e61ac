"""The browser session that prints report.pdf (reports/pdf.py): its shutdown is bounded and
leaves no process behind, even when chromedriver stops answering; the print options keep the
PDF's text and page structure. Real Chromium and chromedriver; skipped without them."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from reports.pdf import chromium, print_pdf
from tests.reports import chromium as browser

pytestmark = pytest.mark.skipif(browser.missing() is not None,
                                reason=browser.missing() or "")


def group_members(pgid: int) -> dict[int, str]:
    """Live (not zombie) processes of a process group: pid -> command name, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:]
        fields = rest.split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found[int(entry.name)] = name
    return found


def wait_gone(pgid: int, seconds: float = 30.0) -> dict[int, str]:
    """The group's live members once none is left, or those left after `seconds` (a killed
    process can take a moment to be gone from /proc on a loaded machine)."""
    deadline = time.monotonic() + seconds
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_the_browser_runs_in_chromedrivers_process_group_and_ends_with_it():
    with chromium() as driver:
        pgid = driver.service.process.pid
        members = group_members(pgid)
        # chromedriver leads the group and the browser's processes joined it
        assert members.get(pgid) == "chromedriver", members
        assert any(name.startswith("chrom") and pid != pgid for pid, name in members.items())
    assert driver.service.process.returncode is not None  # chromedriver reaped
    assert wait_gone(pgid) == {}


def test_a_quit_that_hangs_is_cut_short_and_the_group_killed():
    # chromedriver stopped (SIGSTOP): WebDriver.quit's request is never answered, as when
    # the quit hung for minutes after a 48-position print. The session must still end,
    # after the grace time, with every process of the group gone.
    grace = 2.0
    with chromium(quit_grace=grace) as driver:
        pgid = driver.service.process.pid
        assert len(group_members(pgid)) >= 2
        os.kill(pgid, signal.SIGSTOP)
        t0 = time.monotonic()
    took = time.monotonic() - t0
    assert grace <= took < grace + 60, took  # waited the grace time, not the quit's own
    assert driver.service.process.returncode == -signal.SIGKILL  # reaped, killed
    assert wait_gone(pgid) == {}


def test_a_page_printed_for_paper_only_keeps_its_text_and_later_pages_show(tmp_path):
    # The page is hidden from screen media while it loads for printing: the print must
    # still hold every line, and a page opened after it in the session is shown normally.
    from pypdf import PdfReader

    page = tmp_path / "page.html"
    rows = "".join(f"<tr><td>row {i}</td><td>{i * 0.125:.3f} %</td></tr>" for i in range(400))
    page.write_text(f"<!DOCTYPE html><html><body><h1>Printed</h1><table>{rows}</table>"
                    "</body></html>", encoding="utf-8")
    out = tmp_path / "page.pdf"
    with chromium() as driver:
        data = print_pdf(driver, page, out, title="T", number="N-1", content_hash="ab" * 32)
        driver.get(page.as_uri())
        shown = driver.execute_script(
            "return getComputedStyle(document.documentElement).display")
    assert shown == "block"
    assert out.read_bytes() == data
    reader = PdfReader(str(out))
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert "Printed" in text
    assert all(f"row {i} {i * 0.125:.3f} %" in text for i in range(400))
    n = len(reader.pages)
    assert n >= 5 and text.count(f"of {n}") == 2 * n  # header and footer on every page
    assert text.count("ab" * 32) == n


def test_the_report_fits_the_papers_width(tmp_path):
    # A table wider than the printable width makes Chromium shrink every page and lay the
    # whole report out again. Laid out for print at the width printToPDF gives it (A4 less
    # the side margins of reports.pdf.PAGE, in CSS pixels of 1/96 in), nothing sticks out.
    # Both pages: report.html and the page printed to report.pdf, whose results matrix has
    # a full block of positions (reports.matrix.POSITIONS_PER_BLOCK) side by side.
    from reports.analysis import analyse
    from reports.build import build_report, load_for_report
    from reports.matrix import POSITIONS_PER_BLOCK
    from reports.page import render_pages
    from reports.pdf import PAGE
    from tests.reports.sample_run import make_store

    runs, sample = make_store(tmp_path, positions=POSITIONS_PER_BLOCK)
    html = build_report(sample.run_id, runs, pdf=False).files["html"]
    printed = tmp_path / "printed.html"
    printed.write_text(render_pages(analyse(load_for_report(sample.run_id, runs))).printed,
                       encoding="utf-8")
    width = round((PAGE["paperWidth"] - PAGE["marginLeft"] - PAGE["marginRight"]) * 96)
    with chromium() as driver:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        for page in (html, printed):
            driver.get(page.as_uri())
            wide = driver.execute_script("""
                const w = document.documentElement.clientWidth;
                return [w, Array.from(document.querySelectorAll('table, pre, figure'))
                    .filter(e => e.getBoundingClientRect().right > w + 0.5)
                    .map(e => e.id || e.className || e.tagName)];""")
            page_width, too_wide = wide
            assert page_width > 600 and too_wide == [], (page.name, wide)
        assert driver.find_elements("css selector", "table.matrix")


def _printer_threads() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "report-pdf" and t.is_alive()]


def test_a_build_that_fails_after_the_browser_started_closes_it(tmp_path):
    # The build starts the browser first (reports.pdf.Printer), then reads the run: a bad
    # report metadata file fails the build, and the browser must not outlive it.
    from reports.build import build_report
    from reports.pdf import NO_PDF_ENV
    from reports.reportmeta import ReportMetaError
    from tests.reports.sample_run import make_store

    runs, sample = make_store(tmp_path, positions=1)
    bad = tmp_path / "meta.yaml"
    bad.write_text("laboratory: [not, a, mapping\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(NO_PDF_ENV, raising=False)
        with pytest.raises(ReportMetaError):
            build_report(sample.run_id, runs, meta=bad)
    assert _printer_threads() == []
    assert not (runs / sample.run_id / "report.pdf").exists()


def test_a_printer_given_no_page_says_so_and_ends(tmp_path):
    from reports.pdf import Printer

    printer = Printer()
    why = printer.finish(tmp_path / "report.pdf", title="T", number="N", content_hash="h")
    assert why == "report.pdf not written: no page was given"
    assert _printer_threads() == [] and not (tmp_path / "report.pdf").exists()
