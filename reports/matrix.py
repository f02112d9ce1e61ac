"""The results matrix of the printed report (report.pdf): per family, one row per test point and
one column per meter position, as commercial meter test systems print a batch (MTE's and ZERA's
bench software print the test points as rows and the positions as columns: instruments.md, the
background notes beside the checkout). A cell holds the position's measured value, rounded to
its uncertainty as everywhere in the report, and its verdict mark; the point's limit and
expanded uncertainty have a column of their own where every position shows the same text, and go
into each cell where they differ. Positions beyond what the paper's width holds wrap into
further column blocks, printed as further lines of each row's values cell
(FamilyMatrix.stacked). Every note a measurement carries (a failed point's reason, a
register's advance) is listed under its family's matrix with its position.

Why a matrix: the per-position tables (one row per measurement, ten fields) print about 700
rows per position, and Chromium's layout of them was most of a report's time, growing with
the positions; the matrix prints the rows once per block of positions with one cell per
value. The per-position tables, with every field, stay in report.html and the CSV and JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from reports.analysis import CURVE_FAMILIES, Row, family_sort_key, family_title, group_rows
from reports.html import curve_table_key, sign
from reports.numbers import fmt_limits, fmt_uncertainty, fmt_value, with_unit
from reports.sections import slug

# Positions per column block at most, and the characters their values may take on a line
# beside the test point, quantity, limit and U columns: A4 portrait at the matrix's 6.5 pt
# monospace (tests/reports/test_pdf_session.py checks the width). A family with wider values
# gets fewer positions a block; blocks are as even as they can be (12 positions: 6 and 6).
POSITIONS_PER_BLOCK = 8
LINE_CHARS = 76
GAP = "  "  # between two positions' columns
NOT_MEASURED = "\u2014"

# (test_id, stored point key, occurrence at the position): the same point at every position.
PointKey = tuple[str, str, int]


@dataclass(frozen=True)
class Cell:
    """One position's result of a point: its text (value, sign; limit and U when these
    differ between positions) and its verdict (the cell's colour)."""

    text: str
    verdict: str
    mid: int | None  # the measurement's id: a failed point's cell is a link target


@dataclass(frozen=True)
class MatrixRow:
    point: str
    quantity: str  # with its unit in brackets when every position's unit is the same
    limits: str  # '' when they differ between positions (then in the cells)
    uncertainty: str  # likewise
    clause: int  # its number in the family's clause list (0: the family has one clause)
    cells: tuple[Cell | None, ...]  # in the order of FamilyMatrix.positions; None: not measured


@dataclass(frozen=True)
class Segment:
    """A piece of a row's values text: a cell that did not pass (verdict, the measurement's
    id: coloured, a link target), or the plain text between such cells (verdict '')."""

    text: str
    verdict: str = ""
    mid: int | None = None


@dataclass(frozen=True)
class Block:
    """The columns of a few positions: the rows are repeated, the cells are theirs. All of a
    row's cells are one text of fixed-width columns (one table cell, not one per value:
    Chromium's layout of the matrix costs by the table cell), `header` their headings."""

    positions: tuple[int, ...]
    header: str
    rows: tuple[tuple[MatrixRow, tuple[Cell | None, ...], tuple[Segment, ...]], ...]


@dataclass(frozen=True)
class MatrixTable:
    """One printed table of a family's matrix: its positions, the values heading (a line per
    block it holds) and its rows, a test point with its values cell's lines (a line of
    segments per block it holds)."""

    positions: tuple[int, ...]
    header: str
    rows: tuple[tuple[MatrixRow, tuple[tuple[Segment, ...], ...]], ...]
    stacked: bool


@dataclass(frozen=True)
class Note:
    position: int
    point: str
    quantity: str
    verdict: str
    message: str


@dataclass(frozen=True)
class FamilyMatrix:
    family: str
    slug: str
    title: str
    n_points: int
    failed: int  # failed measurements, over every position
    clauses: tuple[str, ...]
    blocks: tuple[Block, ...]
    notes: tuple[Note, ...]

    @property
    def stacked(self) -> bool:
        """Print the blocks as lines of one table (a row per point, its values cell a line
        per block under the heading's line of that block) rather than a table per block:
        when every cell is one line (limit and U in columns of their own), so that a cell's
        lines are its blocks'. The browser's print costs by the table row (its test point,
        quantity, limit and U cells: most of the matrix's layout), and a table per block
        repeats every row once per block: at 48 positions 4400 rows instead of 630."""
        return len(self.blocks) > 1 and not any(
            "\n" in c.text for b in self.blocks for _, cells, _ in b.rows
            for c in cells if c is not None)

    @property
    def tables(self) -> tuple[MatrixTable, ...]:
        """The tables to print: one holding every block (`stacked`), else one per block.
        Every block has the family's rows in the same order (`family_matrix`), so a row's
        lines are the same row of each block."""
        groups = [self.blocks] if self.stacked else [(b,) for b in self.blocks]
        return tuple(
            MatrixTable(
                positions=tuple(p for b in group for p in b.positions),
                header="\n".join(b.header for b in group),
                rows=tuple((m, tuple(b.rows[i][2] for b in group))
                           for i, (m, _, _) in enumerate(group[0].rows)),
                stacked=len(group) > 1)
            for group in groups)


def _same(texts: Sequence[str]) -> bool:
    return len(set(texts)) <= 1


def _point_keys(rows: Sequence[Row]) -> dict[PointKey, list[Row]]:
    """The rows by point, each point's rows one per position in the order of the rows (a
    damaged store may hold a point twice at a position: the second is a point of its own)."""
    seen: dict[tuple[str, str, int], int] = {}
    keyed: dict[PointKey, list[Row]] = {}
    for r in rows:
        base = (r.test_id, r.point_key, r.position)
        k = seen.get(base, 0)
        seen[base] = k + 1
        keyed.setdefault((r.test_id, r.point_key, k), []).append(r)
    return keyed


def _order(family: str, rows: list[Row]) -> tuple:
    """A point's place: as the per-position tables sort it (curves by direction, element,
    PF and load; other families by when they were measured), from its first measurement."""
    first = min(rows, key=lambda r: r.id if r.id is not None else math.inf)
    if family in CURVE_FAMILIES:
        return curve_table_key(first)
    return (first.id if first.id is not None else math.inf,)


def _cell(r: Row, *, unit_shown: bool, limits: bool, uncertainty: bool) -> Cell:
    u = r.expanded_uncertainty
    value = fmt_value(r.value, u, signed=r.unit == "%")
    text = " ".join(t for t in (value if unit_shown else with_unit(value, r.unit),
                                sign(str(r.verdict))) if t)
    if limits:
        text += f"\nlimit {fmt_limits(r.limit_low, r.limit_high, r.unit) or 'none'}"
    if uncertainty:
        text += f"\nU {with_unit(fmt_uncertainty(u), r.unit) or 'none'}"
    return Cell(text, str(r.verdict), r.id)


def _block(positions: tuple[int, ...],
           rows: list[tuple[MatrixRow, tuple[Cell | None, ...]]]) -> Block:
    """The block's rows as texts of columns as wide as the block's widest line of each."""
    widths = [len(f"Pos. {p}") for p in positions]
    for _, cells in rows:
        for j, c in enumerate(cells):
            if c is not None:
                widths[j] = max(widths[j], *(len(line) for line in c.text.split("\n")))
    header = GAP.join(f"Pos. {p}".rjust(w) for p, w in zip(positions, widths, strict=True))
    return Block(positions, header,
                 tuple((m, cells, _segments(cells, widths)) for m, cells in rows))


def _segments(cells: tuple[Cell | None, ...], widths: list[int]) -> tuple[Segment, ...]:
    """One row's values as lines of right-aligned columns; a cell that did not pass is a
    segment of its own on the first line."""
    lines = [c.text.split("\n") if c is not None else [NOT_MEASURED] for c in cells]
    out: list[Segment] = []
    plain = ""
    for k in range(max(len(cell_lines) for cell_lines in lines)):
        if k:
            plain = plain.rstrip() + "\n"
        for j, (c, cell_lines, w) in enumerate(zip(cells, lines, widths, strict=True)):
            text = (cell_lines[k] if k < len(cell_lines) else "").rjust(w)
            if j:
                plain += GAP
            if k == 0 and c is not None and c.verdict != "pass":
                out.append(Segment(plain))
                out.append(Segment(text, c.verdict, c.mid))
                plain = ""
            else:
                plain += text
    out.append(Segment(plain.rstrip()))
    return tuple(seg for seg in out if seg.text)


def block_slices(n: int, per_block: int) -> list[slice]:
    """`n` columns in as few blocks of at most `per_block` as they need, as even as can be
    (the first blocks one wider where they cannot all be equal)."""
    blocks = max(1, math.ceil(n / per_block))
    size, wider = divmod(n, blocks)
    out, start = [], 0
    for i in range(blocks):
        end = start + size + (1 if i < wider else 0)
        out.append(slice(start, end))
        start = end
    return out


def family_matrix(family: str, rows: Sequence[Row], positions: Sequence[int],
                  per_block: int = POSITIONS_PER_BLOCK) -> FamilyMatrix:
    """The matrix of one family's rows (of every position) over `positions`."""
    column = {p: i for i, p in enumerate(positions)}
    clauses = tuple(sorted({str(r.clause) for r in rows if r.clause}))
    clause_no = {c: i + 1 for i, c in enumerate(clauses)} if len(clauses) > 1 else {}
    points = _point_keys(rows)
    matrix_rows: list[MatrixRow] = []
    notes: list[Note] = []
    for point_rows in sorted(points.values(), key=lambda g: _order(family, g)):
        units = [r.unit for r in point_rows]
        limit_texts = [fmt_limits(r.limit_low, r.limit_high, r.unit) for r in point_rows]
        u_texts = [with_unit(fmt_uncertainty(r.expanded_uncertainty), r.unit)
                   for r in point_rows]
        unit_shown, limits_same, u_same = _same(units), _same(limit_texts), _same(u_texts)
        cells: list[Cell | None] = [None] * len(positions)
        for r in point_rows:
            cells[column[r.position]] = _cell(r, unit_shown=unit_shown,
                                              limits=not limits_same, uncertainty=not u_same)
        first = point_rows[0]
        quantity = (f"{first.quantity} ({first.unit})" if unit_shown and first.unit
                    else first.quantity)
        matrix_rows.append(MatrixRow(
            first.point_text, quantity, limit_texts[0] if limits_same else "per position",
            u_texts[0] if u_same else "per position",
            clause_no.get(str(first.clause), 0), tuple(cells)))
        notes.extend(Note(r.position, r.point_text, r.quantity, str(r.verdict), r.message)
                     for r in sorted(point_rows, key=lambda r: r.position) if r.message)
    widest = max((len(line) for m in matrix_rows for c in m.cells if c is not None
                  for line in c.text.split("\n")), default=1)
    fits = max(1, min(per_block, LINE_CHARS // (max(widest, len(f"Pos. {positions[-1]}"))
                                                 + len(GAP))))
    blocks = [_block(tuple(positions[cols]), [(m, m.cells[cols]) for m in matrix_rows])
              for cols in block_slices(len(positions), fits)]
    return FamilyMatrix(family, slug(family), family_title(family), len(matrix_rows),
                        sum(str(r.verdict) == "fail" for r in rows), clauses, tuple(blocks),
                        tuple(notes))


def results_matrix(rows: Sequence[Row], positions: Sequence[int],
                   per_block: int = POSITIONS_PER_BLOCK) -> list[FamilyMatrix]:
    """Every family's matrix, in the report's family order, over `positions` (every
    position of the run, in order; a row of a position not listed gets a column too)."""
    all_positions = sorted(set(positions) | {r.position for r in rows if r.position is not None})
    by_family = group_rows((r for r in rows if r.position is not None), lambda r: r.family)
    return [family_matrix(f, by_family[f], all_positions, per_block)
            for f in sorted(by_family, key=family_sort_key)]
