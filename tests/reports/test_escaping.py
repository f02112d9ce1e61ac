"""No HTML is written outside the templates, and every value a run, a plan, a meter or a lab
can bring is escaped by the templates' autoescape wherever it appears: in the report page
(text, attributes, the inline SVG plots) and in the header and footer of report.pdf."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from reports.build import build_report
from reports.pdf import header_footer
from reports.planitems import ITEM_OUTCOME, PLAN_ITEMS
from reports.records import Measurement, PositionRecord, Verdict
from reports.store import ResultsStore
from tests.reports.htmlscan import ReportScan

REPORTS = Path(__file__).resolve().parents[2] / "reports"
# A value that would run as a script, close an attribute or start an entity if not escaped.
HOSTILE = '<script>alert("x&y\'s")</script>'
# The modules that may write markup: the SVG renderer (it escapes the text it draws in one
# function, svgplot.escape) and the lab panel (reports/panel.py: its own pages, not the report).
MARKUP_WRITERS = {"svgplot.py", "panel.py"}
# Escaping by hand, with markupsafe.escape as autoescape does, where the template writes the
# values as they come: the measurement tables' rows (reports.html.table_rows, one escaping
# call a row; tests/reports/test_html.py compares them with the cell-at-a-time rows).
HAND_ESCAPES = {"html.py": 2}  # a row in one call, or (holding the separator) cell by cell
_TAG = re.compile(r"</?(?:a|br|code|div|figcaption|figure|h[1-6]|img|li|p|section|span|strong"
                  r"|table|tbody|td|th|thead|tr|ul)\b[^<>]*>")


def test_no_report_module_writes_html_or_escapes_by_hand():
    for path in sorted(REPORTS.glob("*.py")):
        if path.name in MARKUP_WRITERS:
            continue
        source = path.read_text(encoding="utf-8")
        assert source.count("escape(") == HAND_ESCAPES.get(path.name, 0), \
            f"{path.name} escapes by hand"
        assert not _TAG.search(source), f"{path.name} writes HTML: {_TAG.search(source)[0]}"


def _hostile_run(tmp_path: Path) -> tuple[Path, str, Path]:
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        run = store.create_run(plan_name=HOSTILE, plan_version="1", operator=HOSTILE,
                               software_version="0", bench_path=f"benches/{HOSTILE}.yaml",
                               lab=HOSTILE, environment={HOSTILE: HOSTILE},
                               bench_file=f"lab: {HOSTILE}\n", started_at=1_790_000_000.0)
        rid = run.run_id
        store.log(rid, "items", kind=PLAN_ITEMS, t=1_790_000_000.0, data={
            "plan": HOSTILE, "version": "1", "title": HOSTILE, "standards": [HOSTILE],
            "items": [{"id": HOSTILE, "family": "accuracy", "clause": HOSTILE}],
            "collected": {HOSTILE: 2}, "deselected": {}})
        for pos in (1, 2):
            store.add_position(PositionRecord(
                rid, pos, serial=f"{HOSTILE}{pos}", manufacturer=HOSTILE, meter_type=HOSTILE,
                firmware=HOSTILE, constants={HOSTILE: HOSTILE},
                identity={"identification": HOSTILE, HOSTILE: HOSTILE}))
            for i, load in enumerate((0.1, 1.0)):
                fail = pos == 2 and load == 1.0
                store.record(Measurement(
                    run_id=rid, test_id=f"{HOSTILE}[{i}]", family="accuracy", position=pos,
                    quantity=HOSTILE, value=0.9 if fail else 0.1, unit="%",
                    verdict=Verdict.FAIL if fail else Verdict.PASS, clause=HOSTILE,
                    point={"load": load, "pf": "1", "direction": HOSTILE, HOSTILE: HOSTILE},
                    limit_low=-0.5, limit_high=0.5, expanded_uncertainty=0.02,
                    uncertainty_budget={"components": [{"name": HOSTILE,
                                                        "standard_uncertainty": 0.01}]},
                    message=HOSTILE))
            store.log(rid, HOSTILE, kind=ITEM_OUTCOME, t=1_790_000_001.0, position=pos,
                      data={"item": HOSTILE, "nodeid": f"{HOSTILE}[{pos}]", "outcome": "passed"})
        store.log(rid, HOSTILE, level="warning", t=1_790_000_002.0, position=1)
        store.finish_run(rid, ended_at=1_790_000_100.0)
    meta = tmp_path / "report.yaml"
    meta.write_text(yaml.safe_dump({
        "report_number": "ML-{seq}", "sequence": 1,
        "customer": {"name": HOSTILE, "address": HOSTILE, "contact": HOSTILE},
        "item": {"description": HOSTILE, "received": "2026-11-30", "condition": HOSTILE,
                 "identification": HOSTILE},
        "authoriser": {"name": HOSTILE, "function": HOSTILE},
        "laboratory": {"name": HOSTILE, "address": HOSTILE, "accreditation": HOSTILE},
        "location": HOSTILE, "method": HOSTILE, "deviations": [HOSTILE]}), encoding="utf-8")
    return runs, rid, meta


def test_a_hostile_value_is_text_everywhere_in_the_page(tmp_path):
    runs, rid, meta = _hostile_run(tmp_path)
    page = build_report(rid, runs, meta=meta, pdf=False).files["html"].read_text("utf-8")
    # Nowhere a tag of it, in text, attributes or the SVG plots (their titles and legends).
    assert "<script" not in page.lower()
    assert page.count("&lt;script&gt;") >= 40
    scan = ReportScan(page)
    # Read back as a browser reads it, each value is the text it was: escaped once, not twice.
    for ident in ("letterhead", "iso17025", "run-facts", "environment", "plan-items",
                  "positions-overview", "identity-1", "identity-2", "failures", "events",
                  "batch-points", "signature", "bench-file"):
        assert HOSTILE in scan.by_id_text[ident], ident
    letterhead = re.search(r'<div id="letterhead".*?\n</div>', page, re.S)[0]
    assert ReportScan(letterhead).by_id_text["letterhead"].count(HOSTILE) >= 1
    assert letterhead.count("&lt;script&gt;") == 3  # name, address, accreditation
    (item,) = [a for tag, a in scan.tags if tag == "tr" and "data-item" in a]
    assert item["data-item"] == HOSTILE
    for row in scan.rows:
        assert row.attrs["data-test-id"].startswith(HOSTILE)
        for cell in ("quantity", "clause", "message"):
            assert row.cells[cell]["text"] == HOSTILE
        assert HOSTILE in row.cells["point"]["text"]
        assert row.cells["uncertainty"]["title"].startswith(f"{HOSTILE}: u = ")
    for pos in (1, 2):
        assert f"{HOSTILE}{pos}" in scan.by_id_text["positions-overview"]
        assert f"{HOSTILE}{pos}" in scan.by_id_text[f"identity-{pos}"]
    svg_text = re.findall(r"<text[^>]*>([^<]*)</text>", page)
    assert any("&lt;script&gt;" in t for t in svg_text)  # a plot title names the quantity


def test_the_pdf_header_and_footer_escape_the_title_and_number():
    parts = header_footer(HOSTILE, HOSTILE, HOSTILE)
    for html in parts.values():
        assert "<script" not in html
        assert "&lt;script&gt;alert(&#34;x&amp;y&#39;s&#34;)&lt;/script&gt;" in html
    # Chromium fills these spans; they are markup of the template, not of a value.
    assert parts["headerTemplate"].count('<span class="pageNumber"></span>') == 1
