"""The results matrix of the printed report (reports/matrix.py, templates/matrix.html): one row
per test point, one column per position, every measurement's value, verdict, limit and U,
and every note; the printed page carries it in place of the per-position tables, report.html
keeps those tables. The PDF itself is checked in test_pdf.py."""

from __future__ import annotations

import html
import re
from collections import Counter

import pytest

from reports.analysis import analyse
from reports.build import load_for_report
from reports.matrix import block_slices, family_matrix, results_matrix
from reports.numbers import fmt_limits, fmt_uncertainty, fmt_value, with_unit
from reports.page import render_pages
from reports.records import StoredMeasurement
from reports.store import ResultsStore
from tests.reports.htmlscan import ReportScan
from tests.reports.sample_run import make_store

SIGNS = {"pass": "\u2713", "fail": "\u2717", "inconclusive": "?", "error": "!"}


def cell_text(m) -> str:
    """A measurement's cell as the matrix's legend describes it: the value rounded to its U,
    then the verdict's sign."""
    value = fmt_value(m.value, m.expanded_uncertainty, signed=m.unit == "%")
    return " ".join(t for t in (value, SIGNS[str(m.verdict)]) if t)


def row(mid, position, value, *, low=-0.5, high=0.5, u=0.02, verdict="pass", message="",
        load=0.1, test_id="t::acc[x]", unit="%"):
    return StoredMeasurement(
        run_id="r", test_id=test_id, family="accuracy", position=position,
        quantity="active energy error", value=value, unit=unit, verdict=verdict,
        point={"load": load, "pf": "1", "direction": "import"}, limit_low=low,
        limit_high=high, expanded_uncertainty=u, message=message, id=mid,
        stored_point_key=f"load={load}", clause="IEC 60687 Table 9")


def test_a_point_is_one_row_with_each_positions_value_and_sign_in_its_column():
    rows = [row(1, 1, 0.0123), row(2, 2, 0.712, verdict="fail", message="high at 0.1 In"),
            row(3, 1, -0.05, load=1.0), row(4, 3, 0.01, load=1.0)]
    m = family_matrix("accuracy", rows, [1, 2, 3])
    (block,) = m.blocks
    assert block.positions == (1, 2, 3)
    texts = [[c.text if c else None for c in cells] for _, cells, _ in block.rows]
    # 0.1 In: positions 1 and 2; 1 In: positions 1 and 3 (not measured at 2)
    assert texts == [["+0.012 \u2713", "+0.712 \u2717", None],
                     ["-0.050 \u2713", None, "+0.010 \u2713"]]
    first = block.rows[0][0]
    assert (first.limits, first.uncertainty, first.quantity) == ("\u00b10.5 %", "0.020 %",
                                                                 "active energy error (%)")
    assert m.failed == 1 and m.n_points == 2
    assert [(n.position, n.message) for n in m.notes] == [(2, "high at 0.1 In")]


def test_limits_and_uncertainty_that_differ_between_positions_go_into_the_cells():
    rows = [row(1, 1, 0.1, u=0.02), row(2, 2, 0.1, u=0.05, low=-1.0, high=1.0)]
    (block,) = family_matrix("accuracy", rows, [1, 2]).blocks
    ((point, cells, _),) = block.rows
    assert (point.limits, point.uncertainty) == ("per position", "per position")
    assert [c.text for c in cells] == ["+0.100 \u2713\nlimit \u00b10.5 %\nU 0.020 %",
                                       "+0.100 \u2713\nlimit \u00b11 %\nU 0.050 %"]


def test_units_that_differ_are_shown_with_each_value():
    rows = [row(1, 1, 0.5, unit="kWh", u=None), row(2, 2, 0.5, unit="kvarh", u=None)]
    (block,) = family_matrix("accuracy", rows, [1, 2]).blocks
    ((point, cells, _),) = block.rows
    assert point.quantity == "active energy error"
    # no U: four significant digits (reports.numbers); the limits differ by their units
    assert [c.text for c in cells] == ["0.5000 kWh \u2713\nlimit \u00b10.5 kWh",
                                       "0.5000 kvarh \u2713\nlimit \u00b10.5 kvarh"]


@pytest.mark.parametrize(("n", "widths"), [(1, [1]), (8, [8]), (9, [5, 4]), (12, [6, 6]),
                                           (14, [7, 7]), (48, [8] * 6)])
def test_positions_wrap_into_even_blocks_of_at_most_eight(n, widths):
    assert [s.stop - s.start for s in block_slices(n, 8)] == widths


def test_a_rows_values_are_one_text_of_aligned_columns_a_failed_one_apart():
    rows = [row(1, 1, 0.0123), row(2, 2, 0.712, verdict="fail"), row(3, 4, 0.02)]
    (block,) = family_matrix("accuracy", rows, [1, 2, 3, 4]).blocks
    ((_, _, segments),) = block.rows
    assert block.header == "  Pos. 1    Pos. 2  Pos. 3    Pos. 4"
    assert [(g.text, g.verdict, g.mid) for g in segments] == [
        ("+0.012 \u2713  ", "", None), ("+0.712 \u2717", "fail", 2),
        ("       \u2014  +0.020 \u2713", "", None)]
    # each value ends under the end of its position's heading
    line = "".join(g.text for g in segments)
    assert len(line) == len(block.header)


def test_wide_values_get_fewer_positions_a_block():
    rows = [row(p, p, 123456.789, unit="kWh", u=0.001, low=None, high=None)
            for p in range(1, 9)]
    m = family_matrix("accuracy", rows, list(range(1, 9)))
    # "123456.789 ✓" is 12 characters: 76 // 14 = 5 a block at most, 8 as 4 and 4
    assert [b.positions for b in m.blocks] == [(1, 2, 3, 4), (5, 6, 7, 8)]


def test_every_position_gets_its_column_in_each_block():
    rows = [row(i, p, 0.01 * p) for i, p in enumerate(range(1, 13), start=1)]
    m = family_matrix("accuracy", rows, list(range(1, 13)))
    assert [b.positions for b in m.blocks] == [tuple(range(1, 7)), tuple(range(7, 13))]
    assert all(len(cells) == 6 and all(cells) for b in m.blocks for _, cells, _ in b.rows)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    runs, sample = make_store(tmp_path_factory.mktemp("matrix"))
    a = analyse(load_for_report(sample.run_id, runs))
    with ResultsStore.in_runs_dir(runs, create=False) as store:
        stored = store.measurements(sample.run_id)
    return render_pages(a), stored, a


def matrix_cells(page: str) -> tuple[Counter, str]:
    """The values and signs in the matrix's value cells (a multiset), and the matrix
    section's text. A row's values are one <td class="values"> of right-aligned columns at
    least two spaces apart: a line per block of positions (stacked), or the value's line
    and the cell's own limit and U lines under it (a table per block)."""
    cells: Counter = Counter()
    for m in re.finditer(r'<td class="values">(.*?)</td>', page, re.S):
        text = html.unescape(re.sub(r"<[^>]+>", "", m.group(1)))
        lines = text.split("\n")
        if any(re.match(r"\s*(limit|U) ", line) for line in lines):
            lines = lines[:1]
        for line in lines:
            cells.update(c for c in re.split(r"\s{2,}", line.strip()) if c != "\u2014")
    return cells, ReportScan(page).by_id_text.get("results-matrix", "")


def test_the_printed_page_has_every_measurement_in_the_matrix_and_no_per_position_tables(
        pages):
    p, stored, _ = pages
    assert p.printed is not None
    assert '<table class="points"' not in p.printed  # the per-position tables
    assert '<table class="points"' in p.html and 'id="results-matrix"' not in p.html
    cells, text = matrix_cells(p.printed)
    assert cells == Counter(cell_text(m) for m in stored)
    for m in stored:
        assert fmt_limits(m.limit_low, m.limit_high, m.unit) in text
        assert with_unit(fmt_uncertainty(m.expanded_uncertainty), m.unit) in text
        if m.message:
            assert f"Pos. {m.position}, {m.point_text}, {m.quantity} " \
                   f"{SIGNS[str(m.verdict)]}: {m.message}" in text


def test_failed_points_in_the_summary_link_to_their_matrix_cells(pages):
    p, stored, _ = pages
    scan = ReportScan(p.printed)
    ids = set(scan.ids)
    links = [a["href"] for tag, a in scan.tags if tag == "a" and a.get("href", "").startswith(
        "#mx-")]
    failed = {f"#mx-{m.id}" for m in stored if str(m.verdict) != "pass"}
    assert links and set(links) <= failed
    assert all(link[1:] in ids for link in links)


def test_results_matrix_gives_every_family_its_matrix(pages):
    _, stored, a = pages
    matrices = results_matrix(a.rows, [s.position for s in a.summaries])
    assert {m.family for m in matrices} == {m.family for m in stored}
    assert sum(c is not None for f in matrices for b in f.blocks for _, cells, _ in b.rows
               for c in cells) == len(stored)


def stacked_table(positions: int, *, limits_differ: bool = False) -> tuple[str, object]:
    """The printed matrix of one point measured at `positions` positions (their limits
    differing between positions when asked), and its FamilyMatrix."""
    from reports.page import environment

    rows = [row(p, p, 0.01 * p, low=-0.5 - (0.1 * p if limits_differ else 0))
            for p in range(1, positions + 1)]
    m = family_matrix("accuracy", rows, list(range(1, positions + 1)))
    page = environment(None).from_string('{% include "matrix.html" %}').render(matrix=[m])
    return page, m


def test_blocks_of_one_line_cells_are_lines_of_one_table_under_the_headings_lines():
    # 12 positions: two blocks of 6, printed as one table, a row per point, whose values
    # cell has a line per block under the heading's line for that block (at 48 positions a
    # table per block printed 4400 rows, each with its point, quantity, limit and U cells).
    page, m = stacked_table(12)
    assert m.stacked and [b.positions for b in m.blocks] == [tuple(range(1, 7)),
                                                             tuple(range(7, 13))]
    tables = re.findall(r'<table class="matrix stacked"[^>]*data-positions="([^"]+)"', page)
    assert tables == [" ".join(str(p) for p in range(1, 13))]
    assert page.count("<tr>") == 2  # the heading and the one point
    head = html.unescape(re.search(r'<th class="values">(.*?)</th>', page, re.S).group(1))
    values = html.unescape(re.search(r'<td class="values">(.*?)</td>', page, re.S).group(1))
    head_lines, value_lines = head.split("\n"), values.split("\n")
    assert [re.findall(r"Pos\. (\d+)", line) for line in head_lines] == [
        [str(p) for p in range(1, 7)], [str(p) for p in range(7, 13)]]
    # each value right-aligned under its position's heading
    for h, v in zip(head_lines, value_lines, strict=True):
        ends = [x.end() for x in re.finditer(r"Pos\. \d+", h)]
        assert [x.end() for x in re.finditer(r"\S+ \u2713", v)] == ends
    assert matrix_cells(page)[0] == Counter(cell_text(row(p, p, 0.01 * p))
                                            for p in range(1, 13))


def test_cells_of_more_than_one_line_keep_a_table_per_block():
    # Limits that differ between positions go into the cells (three lines each): the
    # blocks then stay tables of their own, each cell's lines its own.
    page, m = stacked_table(12, limits_differ=True)
    assert not m.stacked and len(m.blocks) == 4  # wide cells: 3 positions a block
    assert re.findall(r'<table class="matrix"[^>]*data-positions="([^"]+)"', page) == [
        "1 2 3", "4 5 6", "7 8 9", "10 11 12"]
    assert "stacked" not in page


def test_one_block_is_one_table_as_before():
    page, m = stacked_table(3)
    assert not m.stacked and len(m.blocks) == 1
    assert re.findall(r'<table class="matrix"[^>]*data-positions="([^"]+)"', page) == ["1 2 3"]
