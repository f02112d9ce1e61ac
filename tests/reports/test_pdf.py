"""report.pdf of a real 12-position run, printed by the run itself (reports/pdf.py): every
page has the report's header with "Page x of y" and the content hash in its footer, and
each meter starts on a new page. The PDF's text is read by pypdf, its page tree and link
targets by tests/reports/chromium.py. Skipped when Chromium or chromedriver is absent."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import pytest

from reports.pdf import NO_PDF_ENV
from tests.reports import chromium, realrun

POSITIONS = 12

pytestmark = pytest.mark.skipif(chromium.missing() is not None,
                                reason=chromium.missing() or "")


def page_text(page) -> str:
    """A PDF page's text, whitespace collapsed; ligatures the font drew (a run id's "ff"
    comes back as U+FB00) as their letters (NFKC)."""
    return " ".join(unicodedata.normalize("NFKC", page.extract_text()).split())


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    base = tmp_path_factory.mktemp("pdf-run")
    plan = realrun.write_plan(base / "plans", realrun.SMALL_PLAN_ITEMS[:1])
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(NO_PDF_ENV, raising=False)  # the run prints its PDF, as it does by default
        run = realrun.finish(realrun.start(base / "plans", plan, base / "runs", POSITIONS),
                             base / "runs", timeout=300)
    folder = run.runs_dir / run.run_id
    assert (folder / "report.pdf").exists(), run.stdout + run.stderr
    return run, folder


def test_every_page_says_page_x_of_y_and_the_content_hash(printed):
    from pypdf import PdfReader

    run, folder = printed
    assert f"{folder / 'report.pdf'}" in run.stdout  # the plugin names it with the others
    expected = hashlib.sha256((folder / "report.sha256").read_bytes()).hexdigest()
    pages = PdfReader(str(folder / "report.pdf")).pages
    n = len(pages)
    assert n >= 1 + POSITIONS
    for i, page in enumerate(pages, start=1):
        text = page_text(page)
        assert text.count(f"Page {i} of {n}") == 2, (i, text[:300])  # header and footer
        assert f"Report run {run.run_id}" in text, i  # no metadata file: the run id
        assert f"Content hash (SHA-256): {expected}" in text, i


def test_each_meter_starts_on_a_new_page(printed):
    _, folder = printed
    pdf = (folder / "report.pdf").read_bytes()
    top = 0.9 * chromium.pdf_page_height(pdf)
    dest = chromium.pdf_destinations(pdf)
    starts = [dest[f"pos-{p}"] for p in range(1, POSITIONS + 1)]
    pages = [page for page, _ in starts]
    assert pages == sorted(set(pages)) and pages[0] >= 1, pages  # one page start each, in order
    assert all(y > top for _, y in starts), starts  # at the top of its page


def test_every_measurement_is_in_the_pdfs_text(printed):
    # The PDF prints the results matrix in place of the per-position tables: every stored
    # value with its verdict's sign, its limit and U, and every note with its position must
    # still be in the signed PDF (read back by pypdf, as a reader's tools would).
    from collections import Counter

    from pypdf import PdfReader

    from reports.numbers import fmt_limits, fmt_uncertainty, with_unit
    from reports.store import ResultsStore
    from tests.reports.test_matrix import cell_text

    run, folder = printed
    with ResultsStore.in_runs_dir(run.runs_dir, create=False) as store:
        stored = store.measurements(run.run_id)
    assert {m.position for m in stored} == set(range(1, POSITIONS + 1))
    text = " ".join(page_text(p) for p in PdfReader(str(folder / "report.pdf")).pages)
    wanted = Counter(cell_text(m) for m in stored)
    for cell, n in wanted.items():
        # a value's text may also stand elsewhere (the batch table): at least as often
        found = re.findall(rf"(?<!\S){re.escape(cell)}(?!\S)", text)
        assert len(found) >= n, (cell, len(found), n)
    for m in stored:
        assert fmt_limits(m.limit_low, m.limit_high, m.unit) in text
        assert with_unit(fmt_uncertainty(m.expanded_uncertainty), m.unit) in text
        if m.message:
            assert " ".join(m.message.split()) in text, m.message


def test_no_pdf_skips_it(tmp_path):
    from reports.build import build_report
    from tests.reports.sample_run import make_store

    runs, sample = make_store(tmp_path, positions=1)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(NO_PDF_ENV, raising=False)
        result = build_report(sample.run_id, runs, pdf=False)
    assert "pdf" not in result.files and not (runs / sample.run_id / "report.pdf").exists()
