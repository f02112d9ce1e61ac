"""The report of a real run with defective meters, rendered by headless Chromium.

Checks what a reader sees: every plot drawn at a real size, no console errors, the failed
points shown (red rows, red crosses in the plots), and a print to PDF with each meter on
its own pages. The screenshot (report.png) and the print (report.pdf) are saved in the run
folder. Skipped only when /usr/bin/chromium or /usr/bin/chromedriver is absent.
"""

from __future__ import annotations

import pytest

from reports.records import Verdict
from reports.store import ResultsStore
from tests.reports import chromium, realrun
from tests.reports.htmlscan import ReportScan

POSITIONS = 3

pytestmark = pytest.mark.skipif(chromium.missing() is not None,
                                reason=chromium.missing() or "")

FIGURES_JS = """
return Array.from(document.querySelectorAll('figure.plot')).map(f => {
  const svgs = f.querySelectorAll(':scope > svg');
  const s = svgs[0];
  const r = s ? s.getBoundingClientRect() : {width: 0, height: 0};
  const b = s ? s.getBBox() : {width: 0, height: 0};
  const red = s ? Array.from(s.querySelectorAll('*')).filter(
      e => (e.getAttribute('style') || '').includes('#c62828')).length : 0;
  return {id: f.id, svgs: svgs.length, w: r.width, h: r.height, bw: b.width, bh: b.height,
          red: red};
});
"""

FAILED_ROWS_JS = """
return Array.from(document.querySelectorAll('tr.measurement[data-verdict="fail"]')).map(tr => {
  const r = tr.getBoundingClientRect();
  const cell = tr.querySelector('td.verdict');
  const cs = getComputedStyle(cell);
  return {mid: Number(tr.dataset.mid), h: r.height, w: r.width,
          display: getComputedStyle(tr).display, visibility: cs.visibility,
          text: cell.innerText, colour: cs.color,
          background: getComputedStyle(tr.querySelector('td')).backgroundColor};
});
"""

PRINT_BREAKS_JS = """
return Array.from(document.querySelectorAll('section.meter')).map(
    s => getComputedStyle(s).breakBefore);
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A finished three-position run with defective meters, and its stored measurements."""
    base = tmp_path_factory.mktemp("browser-run")
    plan = realrun.write_plan(base / "plans", realrun.SMALL_PLAN_ITEMS)
    run = realrun.finish(realrun.start(base / "plans", plan, base / "runs", POSITIONS,
                                       realrun.DEFECTS), base / "runs")
    with ResultsStore.in_runs_dir(run.runs_dir, create=False) as store:
        stored = {m.id: m for m in store.measurements(run.run_id)}
    folder = run.runs_dir / run.run_id
    assert (folder / "report.html").exists(), run.stdout + run.stderr
    return folder, stored


@pytest.fixture(scope="module")
def rendered(report):
    """Load the page once; collect what the checks need; save screenshot and PDF."""
    folder, stored = report
    page = folder / "report.html"
    with chromium.chromium() as driver:
        driver.get(page.as_uri())
        assert driver.execute_script("return document.readyState") == "complete"
        seen = {
            "title": driver.title,
            "figures": driver.execute_script(FIGURES_JS),
            "failed_rows": driver.execute_script(FAILED_ROWS_JS),
            "console": driver.get_log("browser"),
            "screen_breaks": driver.execute_script(PRINT_BREAKS_JS),
        }
        chromium.full_page_png(driver, folder / "report.png")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        seen["print_breaks"] = driver.execute_script(PRINT_BREAKS_JS)
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        seen["pdf"] = chromium.print_pdf(driver, folder / "report.pdf")
    seen["scan"] = ReportScan(page.read_text(encoding="utf-8"))
    return folder, stored, seen


def test_every_plot_is_rendered(rendered):
    _, _, seen = rendered
    figures = seen["figures"]
    assert len(figures) == len(seen["scan"].figures) > 0
    for f in figures:
        assert f["svgs"] == 1, f
        assert f["w"] > 100 and f["h"] > 50, f  # laid out at a readable size
        assert f["bw"] > 0 and f["bh"] > 0, f  # and something drawn inside


def test_no_console_errors(rendered):
    _, _, seen = rendered
    assert seen["title"].startswith("Test report: report-real-run (run ")
    errors = [entry for entry in seen["console"] if entry.get("level") == "SEVERE"]
    assert errors == []


def test_failed_points_are_visible(rendered):
    _, stored, seen = rendered
    failed = {m.id for m in stored.values() if m.verdict is Verdict.FAIL}
    assert len(failed) == 4
    rows = seen["failed_rows"]
    assert {r["mid"] for r in rows} == failed
    for r in rows:
        assert r["display"] != "none" and r["visibility"] == "visible", r
        assert r["h"] > 5 and r["w"] > 100, r
        assert "FAIL" in r["text"], r
        assert r["colour"] == "rgb(198, 40, 40)", r  # --fail
        assert r["background"] == "rgb(253, 224, 220)", r  # --fail-bg
    # the curves of position 2 (gain error at 0.1 In) mark the failed points in red
    figures = {f["id"]: f for f in seen["figures"]}
    for direction in ("import", "export"):
        key = f"plot-pos2-curve-active-energy-error-{direction}-pf-1"
        assert figures[key]["red"] > 0, key
    assert figures["plot-pos1-curve-active-energy-error-import-pf-1"]["red"] == 0


def test_screenshot_is_saved_in_the_run_folder(rendered):
    folder, _, _ = rendered
    png = (folder / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    assert width >= 1000 and height > 2000  # the whole page, not just the first screen


def test_pdf_print_puts_each_meter_on_its_own_pages(rendered):
    folder, stored, seen = rendered
    assert seen["screen_breaks"] == ["auto"] * POSITIONS
    assert seen["print_breaks"] == ["page"] * POSITIONS
    pdf = (folder / "report.pdf").read_bytes()
    assert pdf == seen["pdf"]
    pages = chromium.pdf_pages(pdf)
    assert len(pages) >= 1 + POSITIONS  # title and summary, then each meter
    # The summary links to each meter's section: each lands at the top of a page of its
    # own, after the first page, in position order.
    top = 0.95 * chromium.pdf_page_height(pdf)
    dest = chromium.pdf_destinations(pdf)
    starts = [dest[f"pos-{p}"] for p in range(1, POSITIONS + 1)]
    assert [page for page, _ in starts] == sorted({page for page, _ in starts})
    assert starts[0][0] >= 1
    assert all(y > top for _, y in starts), starts
    # each failed point's row (linked from the summary) is printed among its meter's pages
    ends = [page for page, _ in starts[1:]] + [len(pages)]
    failed = {int(name[2:]): page for name, (page, _) in dest.items() if name.startswith("m-")}
    assert set(failed) == {m.id for m in stored.values() if m.verdict is Verdict.FAIL}
    for mid, page in failed.items():
        pos = stored[mid].position
        assert starts[pos - 1][0] <= page < ends[pos - 1], (mid, pos, page)
