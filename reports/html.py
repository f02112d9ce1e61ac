"""What the report page shows, as values for its templates (reports/templates/: header,
summary, meter, batch and run log); reports/page.py renders them. No HTML is written here:
the templates write it, and autoescape escapes every value.

Stable structure for tools and tests:
  body[data-run-id][data-incomplete][data-partial][data-report-number]
  div#letterhead, h1#report-title, table#iso17025 > tr[data-clause], p#results-relate,
  section#coverage: table#plan-items > tr[data-item][data-state], section#signature,
  p#end-of-report (page.py and the templates)
  div#incomplete.banner when incomplete
  table#run-facts, table#instruments, table#environment, div#decision-rule
  section#summary: p#batch-conformity, table#positions-overview, section#failures
  section.meter#pos-N[data-position][data-verdict]: p.conformity,
      section.family#pos-N-<family>: table.points > tr.measurement#m-<id>[data-mid]
      (one row per stored measurement, cells td.value[data-value], td.limit[data-low]
      [data-high], td.uncertainty[data-u], td.verdict)
  div.plots > figure.plot#plot-... > svg (inline) + figcaption (curves of a group side by side)
  section#batch: table#batch-points;  section#run-log: div#interrupted, table#events,
      section#bench-file (the stored bench file, verbatim)
No external resources: styles are inline, plots are inline SVG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import escape

from reports import plots
from reports.analysis import (
    CURVE_FAMILIES,
    Analysed,
    BatchPoint,
    Conformity,
    PositionSummary,
    Row,
    conformity,
    element_sort_key,
    family_sort_key,
    family_title,
    group_rows,
    is_curve_row,
    is_missing,
    rule_text,
    why_text,
)
from reports.benchinfo import BenchInfo
from reports.numbers import (
    fmt_compact,
    fmt_duration,
    fmt_limits,
    fmt_number,
    fmt_time,
    fmt_uncertainty,
    fmt_value,
    is_number,
    with_unit,
)
from reports.planitems import BOOKKEEPING_KINDS
from reports.points import elapsed_hours, pf_sort_key
from reports.records import PositionRecord
from reports.sections import (
    Figure,
    MeterContext,
    Plots,
    SectionItem,
    curve_figures,
    family_figures,
    figure,
    slug,
)
from reports.store import RunData

VERDICT_MARK = {
    "pass": "\u2713 pass",
    "fail": "\u2717 FAIL",
    "inconclusive": "? INCONCLUSIVE",
    "error": "! ERROR",
}

CSS = """
:root { --fail: #c62828; --fail-bg: #fde0dc; --inc: #8a5a00; --inc-bg: #fff3cd;
        --err: #5b2c83; --err-bg: #ece1f5; --pass: #1b5e20; --line: #c8c8c8; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; font-size: 10pt;
       color: #111; margin: 1.5em auto; max-width: 1100px; padding: 0 1em; }
h1 { font-size: 16pt; margin: 0 0 .3em; } h2 { font-size: 13pt; margin-top: 1.2em; }
h3 { font-size: 11pt; margin: 1em 0 .3em; }
table { border-collapse: collapse; margin: .4em 0 .8em; width: 100%; }
th, td { border: 1px solid var(--line); padding: 2px 5px; text-align: left;
         vertical-align: top; }
th { background: #f0f0f0; } td.num, td.value, td.uncertainty, td.limit { text-align: right;
         white-space: nowrap; font-variant-numeric: tabular-nums; }
table.facts { width: auto; } table.facts th { width: 13em; }
tr.verdict-fail td { background: var(--fail-bg); }
tr.verdict-inconclusive td { background: var(--inc-bg); }
tr.verdict-error td { background: var(--err-bg); }
.v-fail { color: var(--fail); font-weight: bold; }
.v-inconclusive { color: var(--inc); font-weight: bold; }
.v-error { color: var(--err); font-weight: bold; }
.v-pass { color: var(--pass); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 3px; font-weight: bold;
         border: 2px solid currentColor; }
.banner { border: 3px solid var(--fail); background: var(--fail-bg); padding: .5em 1em;
          margin: .8em 0; }
.conformity { border-left: 6px solid var(--line); padding: .3em .8em; background: #fafafa; }
.conformity.c-pass { border-color: var(--pass); }
.conformity.c-fail { border-color: var(--fail); background: var(--fail-bg); }
.conformity.c-inconclusive, .conformity.c-none { border-color: var(--inc);
    background: var(--inc-bg); }
figure.plot { margin: .5em 0 1em; max-width: 100%; break-inside: avoid;
              page-break-inside: avoid; }
.plots { display: flex; flex-wrap: wrap; gap: 0 2em; align-items: flex-start; }
td.worst { white-space: nowrap; }
ul.failures li { margin: .15em 0; }
figure.plot svg { max-width: 100%; height: auto; }
figcaption { font-size: 8.5pt; color: #444; }
pre.bench { background: #f6f6f6; padding: .5em; font-size: 8pt; white-space: pre-wrap; }
.muted { color: #666; }
@media print {
  body { margin: 0; max-width: none; font-size: 9pt; }
  /* Long words may break: no table is wider than the paper. A wider one would make Chromium
     shrink every page to fit and lay the whole report out again (reports/pdf.py). */
  th, td, code { overflow-wrap: anywhere; }
  section.meter, section#batch, section#run-log { break-before: page;
         page-break-before: always; }
  tr, figure.plot { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  .plots { gap: 0 1em; }
  figure.plot.half { max-width: calc(50% - .5em); }
  table.points, table#batch-points { font-size: 8pt; }
  section#results-matrix { break-before: page; page-break-before: always; }
  table.matrix { font-size: 7pt; }
  table.matrix .values { white-space: pre; text-align: right; font-size: 6.5pt;
         font-family: "DejaVu Sans Mono", monospace; overflow-wrap: normal; }
  ol.clauses, p.clauses, ul.notes { font-size: 8pt; }
  td.clause, td.rule { font-size: 7pt; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
  .banner, tr.verdict-fail td, tr.verdict-inconclusive td, tr.verdict-error td,
  .conformity { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""



# -- what a measurement row shows (templates/meter.html) --------------------------------


def num_attr(value: Any) -> str:
    """A number for a data- attribute: exact (repr), '' when there is none."""
    return repr(float(value)) if is_number(value) else ""


# A verdict as one sign (the results matrix's cells; its legend spells them out).
VERDICT_SIGN = {"pass": "\u2713", "fail": "\u2717", "inconclusive": "?", "error": "!"}


def sign(verdict: Any) -> str:
    v = str(verdict)
    return VERDICT_SIGN.get(v, v)


def verdict_mark(verdict: Any, none: str | None = None) -> str:
    v = str(verdict)
    return VERDICT_MARK.get(v, v if none is None else none)


@dataclass(frozen=True)
class RowTexts:
    """The texts of one measurement's table row: numbers rounded as the GUM habit has them
    (reports.numbers), exact in the data- attributes. One call per row: a template calling a
    function per cell costs more than the formatting."""

    value: str
    value_attr: str
    limits: str
    low_attr: str
    high_attr: str
    uncertainty: str
    uncertainty_attr: str
    budget: str  # the uncertainty budget, as the U cell's tooltip
    repetitions: str
    mark: str  # the verdict with its sign


def row_texts(r: Row, budget: str | None = None) -> RowTexts:
    """budget: the row's budget_title, when the caller has it already."""
    u, unit = r.expanded_uncertainty, r.unit
    return RowTexts(
        value=with_unit(fmt_value(r.value, u, signed=unit == "%"), unit),
        value_attr=num_attr(r.value),
        limits=fmt_limits(r.limit_low, r.limit_high, unit),
        low_attr=num_attr(r.limit_low), high_attr=num_attr(r.limit_high),
        uncertainty=with_unit(fmt_uncertainty(u), unit), uncertainty_attr=num_attr(u),
        budget=budget_title(r) if budget is None else budget, repetitions=repetitions_text(r),
        mark=verdict_mark(r.verdict))


# Between the cells of a row escaped in one call (table_rows); markupsafe escapes only
# & < > ' ", so the separator comes through as it is.
_CELL_SEPARATOR = "\x1f"


def table_rows(rows: Sequence[Row], budget_titles: dict[int, tuple[Any, str]] | None = None
               ) -> list[tuple[str, ...]]:
    """The cells of the measurements' table rows (templates/meter.html), escaped exactly as
    autoescape escapes a value (markupsafe.escape of its text), the template writing them
    as they are: verdict, id, test id, point, quantity, value (attribute, text), low and
    high limit (attributes), limits, U (attribute, budget, text), repetitions, verdict mark,
    rule, clause, note.

    Why not a cell at a time: autoescape makes a Markup object per value, and a 48-position
    report has 30 000 rows of 18 values; its escaping was most of the page's rendering. A
    row is escaped in one call here (its cells joined by a separator that escaping leaves
    alone); a row whose text holds the separator is escaped cell by cell.
    tests/reports/test_html.py checks the rows against the cell-at-a-time template.

    budget_titles: the budgets' tooltips by the id of the budget object (with the object,
    which keeps its id its own), kept between calls (a page's environment keeps one:
    reports.page): the rows read from a store share the object of each distinct budget
    (reports.store), and a budget recurs at every position."""
    out = []
    for r in rows:
        budget = r.uncertainty_budget
        known = None if budget_titles is None else budget_titles.get(id(budget))
        if known is not None and known[0] is budget:
            t = row_texts(r, known[1])
        else:
            t = row_texts(r)
            if budget_titles is not None:
                budget_titles[id(budget)] = (budget, t.budget)
        cells = [c if type(c) is str else str(c) for c in (
            r.verdict, r.id, r.test_id, r.point_text, r.quantity, t.value_attr, t.value,
            t.low_attr, t.high_attr, t.limits, t.uncertainty_attr, t.budget, t.uncertainty,
            t.repetitions, t.mark, r.decision_rule, r.clause, r.message)]
        joined = _CELL_SEPARATOR.join(cells)
        if joined.count(_CELL_SEPARATOR) == len(cells) - 1:
            out.append(tuple(str(escape(joined)).split(_CELL_SEPARATOR)))
        else:
            out.append(tuple(str(escape(c)) for c in cells))
    return out


def repetitions_text(r: Row) -> str:
    """'5, s = 0.012 %': the count and the spread of the repetitions, to the value's
    decimal place and in its unit."""
    reps = r.repetitions
    if reps is None or not is_number(reps.n):
        return ""
    text = f"{int(reps.n)}"
    if is_number(reps.stdev):
        text += f", s = {with_unit(fmt_value(reps.stdev, r.expanded_uncertainty), r.unit)}"
    return text


def budget_title(r: Row) -> str:
    """The uncertainty budget as a tooltip on the U cell (standard uncertainties, RSS, k)."""
    budget = r.uncertainty_budget
    if not isinstance(budget, Mapping):
        return ""
    parts = []
    for c in budget.get("components") or []:
        if isinstance(c, Mapping) and is_number(c.get("standard_uncertainty")):
            parts.append(f"{c.get('name', '?')}: u = {fmt_number(c['standard_uncertainty'], 2)}")
    k = budget.get("coverage_factor")
    if is_number(k):
        parts.append(f"RSS x k = {fmt_compact(k)}")
    return "; ".join(parts)


def count_text(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# -- header ------------------------------------------------------------------------------


INSTRUMENT_COLUMNS = {"model": "Model", "serial": "Serial number",
                      "calibration": "Calibration date", "calibration_due": "Calibration due",
                      "uncertainty": "Stated uncertainty", "resource": "Resource"}


def header_context(a: Analysed, bench: BenchInfo, reasons: list[str]) -> dict[str, Any]:
    """What templates/header.html shows: run facts, instruments, environment, decision rule."""
    data = a.data
    run = data.run
    duration = (fmt_duration(run.ended_at - run.started_at)
                if is_number(run.ended_at) and is_number(run.started_at) else "")
    rules = sorted({str(r.decision_rule) for r in a.rows if not is_missing(r.decision_rule)})
    cols = [c for c in INSTRUMENT_COLUMNS if any(c in i.fields for i in bench.instruments)]
    used = rules or [str(run.decision_rule)]
    return {
        "reasons": reasons, "bench": bench, "store_path": str(data.store_path),
        "started": fmt_time(run.started_at), "ended": fmt_time(run.ended_at),
        "duration": duration,
        "instrument_columns": [(c, INSTRUMENT_COLUMNS[c]) for c in cols],
        "instrument_note": bench.problem or "the bench file lists no instruments",
        "environment_rows": [(str(k), _plain(v)) for k, v in (run.environment or {}).items()],
        "default_rule": str(run.decision_rule),
        "rules": [(r, rule_text(r)) for r in used],
    }


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if is_number(value):
        return fmt_compact(value)
    return str(value)


# -- per meter ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyView:
    family: str
    slug: str
    rows: list[Row]  # in the table's order
    failed: int
    figures: list[SectionItem]  # from the section registry (reports.sections)


@dataclass(frozen=True)
class MeterView:
    """What templates/meter.html shows of one meter position."""

    summary: PositionSummary
    identity: list[tuple[str, Any, str]] | None  # identity_facts, None: nothing recorded
    conformity: Conformity
    families: list[FamilyView]


def _sort_for_table(rows: list[Row], family: str) -> list[Row]:
    if family in CURVE_FAMILIES:
        return sorted(rows, key=curve_table_key)
    return sorted(rows, key=lambda r: r.id)


def curve_table_key(r: Row) -> tuple:
    """Direction, element, PF, load (missing last), id."""
    d, load = r.direction, r.load
    missing = math.isnan(load)
    return (0 if d == "import" else 1 if d == "export" else 2, element_sort_key(r.element),
            pf_sort_key(r.pf), missing, 0.0 if missing else load, r.id)


# Constants the rig stores per position (rig/session.py), as the reader knows them.
_RATING_KEYS = (("wiring", "", ""), ("un_v", "Un ", " V"), ("in_a", "In ", " A"),
                ("imax_a", "Imax ", " A"), ("class", "class ", ""))
_CONSTANT_KEYS = (("active_imp_per_kwh", "imp/kWh"), ("reactive_imp_per_kvarh", "imp/kvarh"))


def identity_facts(r: PositionRecord) -> list[tuple[str, Any, str]]:
    """The meter's identity as (label, value, kind) lines: names first, then rating and
    constants in one line each, then what was read from the meter. kind: 'text'; 'code'
    (an identification text); 'pairs' (OBIS code, value)."""
    rows: list[tuple[str, Any, str]] = [
        ("Serial number", r.serial, "text"),
        ("Meter", f"{r.manufacturer or ''} {r.meter_type or ''}".strip(), "text")]
    if r.firmware:
        rows.append(("Firmware", r.firmware, "text"))
    constants = ({str(k).lower(): v for k, v in r.constants.items()}
                 if isinstance(r.constants, Mapping) else {})
    rating = [f"{pre}{_plain(constants.pop(k))}{post}" for k, pre, post in _RATING_KEYS
              if k in constants]
    if rating:
        rows.append(("Rating", ", ".join(rating), "text"))
    pulse = [f"{_plain(constants.pop(k))} {unit}" for k, unit in _CONSTANT_KEYS
             if k in constants]
    if pulse:
        rows.append(("Meter constants", ", ".join(pulse), "text"))
    rows.extend((str(k).replace("_", " "), _plain(v), "text") for k, v in constants.items())
    identity = r.identity
    if isinstance(identity, Mapping) and identity:
        ident = identity.get("identification")
        if ident:
            rows.append(("Identification", ident, "code"))
        read = [(k, _plain(v)) for k, v in identity.items() if k != "identification"]
        if read:
            rows.append(("Read from the meter", read, "pairs"))
    if is_number(r.read_at):
        rows.append(("Read at", fmt_time(r.read_at), "text"))
    return rows


def meter_view(data: RunData, s: PositionSummary, position: PositionRecord | None,
               partial: str = "") -> MeterView:
    rows = s.rows
    clauses = sorted({str(r.clause) for r in rows if r.clause})
    ctx = MeterContext(s.position, rows)
    by_family = group_rows(rows, lambda r: r.family)
    families = []
    for family in sorted(by_family, key=family_sort_key):
        fam_rows = by_family[family]
        families.append(FamilyView(
            family, slug(family), _sort_for_table(fam_rows, family),
            sum(r.verdict == "fail" for r in fam_rows),
            family_figures(ctx, family, fam_rows)))
    return MeterView(s, identity_facts(position) if position is not None else None,
                     conformity(s, data, clauses, partial), families)


# -- batch -------------------------------------------------------------------------------


def batch_text(x: float, b: BatchPoint, significant: int, signed: bool = False) -> str:
    """A batch figure in the point's unit, to the decimal place of its typical U, as the
    values are shown; without U: counts as integers, other figures to `significant` digits
    (0: as a value)."""
    if is_number(b.typical_u):
        text = fmt_value(x, b.typical_u, signed=signed)
    elif significant == 0 or (is_number(x) and float(x).is_integer()):
        text = fmt_value(x, signed=signed)
    else:
        text = fmt_number(x, significant, signed=signed)
    return with_unit(text, b.unit)


@dataclass(frozen=True)
class BatchView:
    """What templates/batch.html shows: the curves and clock errors of all positions (with
    more than one), and the batch table."""

    curves: Plots | None
    clock: Figure | None
    points: list[BatchPoint]


def batch_view(a: Analysed, points: list[BatchPoint], n_positions: int) -> BatchView:
    curves = [r for r in a.rows if is_curve_row(r)] if n_positions > 1 else []
    clock = ([r for r in a.rows if r.family == "clock" and not math.isnan(elapsed_hours(r.point))]
             if n_positions > 1 else [])
    return BatchView(
        Plots(curve_figures(curves, series=_position, id_base="plot-batch",
                            caption_base="All positions")) if curves else None,
        figure(plots.clock_svg(clock, series=_position, title="Clock error, all positions",
                               prefix="plot-batch-clock"),
               "plot-batch-clock", "Clock error of every position against elapsed time.")
        if clock else None,
        points)


def _position(r: Row) -> int:
    """The series key of the batch plots: one line per meter."""
    return r.position


# -- run log -----------------------------------------------------------------------------


def run_log_context(a: Analysed) -> dict[str, Any]:
    """What templates/runlog.html shows: interrupted points, log lines, the bench file."""
    return {
        "interrupted": [(_plain(e.position), e.message, fmt_time(e.t)) for e in a.interrupted],
        "events": [(fmt_time(e.t), e.level, e.kind,
                    _plain(e.position) if is_number(e.position) else "", e.message)
                   for e in a.events if e.kind not in BOOKKEEPING_KINDS],
        "bench_file": a.data.run.bench_file,
    }


def incomplete_reasons(a: Analysed) -> list[str]:
    """Why the report cannot be taken as that of a whole, finished run ([] when it can)."""
    data, run = a.data, a.data.run
    reasons = []
    if run.ended_at is None:
        reasons.append(f"the run has no end time (status '{run.status}'): it was killed, "
                       "lost power or is still running")
    elif run.status == "aborted":
        # The rig logs why it stopped (a signal, the operator) as a 'stop' event.
        why = [e.message for e in a.events if e.kind == "stop"]
        reasons.append("the run was ABORTED before the end of its plan"
                       + (f" ({'; '.join(why)})" if why else "")
                       + ": points it did not reach are not in this report")
    elif run.status != "completed":
        reasons.append(f"the run ended with status '{run.status}'")
    if a.interrupted:
        reasons.append(f"{len(a.interrupted)} point(s) were started but have no result")
    reasons.extend(data.problems)
    return reasons


# The helpers the templates call (page.environment makes them globals).
TEMPLATE_GLOBALS = {
    "verdict_mark": verdict_mark, "row_texts": row_texts, "table_rows": table_rows,
    "count_text": count_text,
    "family_title": family_title, "why_text": why_text,
    "batch_text": batch_text, "sign": sign,
}
