"""The fragments of the report page (header facts, summary, meters, batch, run log) as HTML
text; reports/page.py puts them into the page template (reports/templates/report.html).

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
from collections.abc import Mapping
from typing import Any

import pandas as pd
from markupsafe import Markup, escape

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
    frame_of,
    group_rows,
    is_curve_row,
    is_missing,
    pf_sort_key,
    rule_text,
    why_text,
)
from reports.benchinfo import BenchInfo
from reports.markup import e, slug
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
from reports.records import Verdict
from reports.sections import MeterContext, curve_figures, family_figures, figure, plots_div
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
  section.meter, section#batch, section#run-log { break-before: page;
         page-break-before: always; }
  tr, figure.plot { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  .plots { gap: 0 1em; }
  figure.plot.half { max-width: calc(50% - .5em); }
  table.points, table#batch-points { font-size: 8pt; }
  td.clause, td.rule { font-size: 7pt; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
  .banner, tr.verdict-fail td, tr.verdict-inconclusive td, tr.verdict-error td,
  .conformity { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _num_attr(value: Any) -> str:
    return repr(float(value)) if is_number(value) else ""


def _verdict_cell(verdict: Any) -> str:
    v = str(verdict)
    return f'<td class="verdict v-{e(v)}">{e(VERDICT_MARK.get(v, v))}</td>'


def _facts(rows: list[tuple[str, str]], table_id: str = "") -> str:
    ident = f' id="{table_id}"' if table_id else ""
    body = "".join(f"<tr><th>{e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="facts"{ident}>{body}</table>'


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# -- header ------------------------------------------------------------------------------


INSTRUMENT_COLUMNS = {"model": "Model", "serial": "Serial number",
                      "calibration": "Calibration date", "calibration_due": "Calibration due",
                      "uncertainty": "Stated uncertainty", "resource": "Resource"}


def header_context(data: RunData, bench: BenchInfo, reasons: list[str]) -> dict[str, Any]:
    """What templates/header.html shows: run facts, instruments, environment, decision rule.
    Values are plain text (the template escapes them) or Markup built with escaped parts."""
    run = data.run
    duration = (fmt_duration(run.ended_at - run.started_at)
                if is_number(run.ended_at) and is_number(run.started_at) else "")
    rules = sorted({str(r) for r in data.measurements["decision_rule"].dropna()})
    code = Markup("<code>{}</code>").format
    facts = [
        ("Laboratory", run.lab or bench.lab),
        ("Bench", _bench_name(bench.name, run.bench_path)),
        ("Bench file sha256", code(run.bench_hash)),
        ("Run", code(run.run_id)),
        ("Test plan", f"{run.plan_name} {run.plan_version}".strip()),
        ("Operator", run.operator),
        ("Software version", run.software_version),
        ("Started", fmt_time(run.started_at)),
        ("Ended", fmt_time(run.ended_at) or Markup('<span class="v-fail">not ended</span>')),
        ("Duration", duration),
        ("Run status", str(run.status)),
        ("Store", code(data.store_path) + f" (schema version {data.schema_version})"),
    ]
    cols = [c for c in INSTRUMENT_COLUMNS if any(c in i.fields for i in bench.instruments)]
    used = rules or [str(run.decision_rule)]
    return {
        "reasons": reasons, "facts": facts, "bench": bench,
        "instrument_columns": [(c, INSTRUMENT_COLUMNS[c]) for c in cols],
        "instrument_note": bench.problem or "the bench file lists no instruments",
        "environment_rows": [(str(k), _plain(v)) for k, v in (run.environment or {}).items()],
        "default_rule": str(run.decision_rule),
        "rules": [(r, rule_text(r)) for r in used],
    }


def _bench_name(name: str, path: str) -> Markup:
    """The bench's name with its file beside it, or the file alone when it has no name."""
    if not name:
        return Markup("<code>{}</code>").format(path) if path else Markup()
    return escape(name) + (Markup(' <span class="muted">({})</span>').format(path)
                           if path else Markup())


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if is_number(value):
        return fmt_compact(value)
    return str(value)


# -- summary -----------------------------------------------------------------------------


def _conformity_block(c: Conformity, elem_id: str = "") -> str:
    ident = f' id="{elem_id}"' if elem_id else ""
    return (f'<p class="conformity c-{e(c.css)}"{ident} data-conformity="{e(c.label)}">'
            f"<strong>{e(c.label)}</strong> \u2014 {e(c.text)}</p>")


def _verdict_badge(verdict: Verdict | None) -> str:
    v = verdict.value if verdict else "none"
    label = VERDICT_MARK.get(v, "no results")
    return f'<span class="badge v-{e(v)}">{e(label)}</span>'


def summary(summaries: list[PositionSummary], batch: Conformity, positions: list[Row]) -> str:
    out = ['<section id="summary"><h2>Summary</h2>', _conformity_block(batch, "batch-conformity")]
    pos_info = {int(r["position"]): r for r in positions if is_number(r["position"])}
    rows = []
    for s in summaries:
        info = pos_info.get(s.position, {})
        c = s.counts
        v = s.verdict.value if s.verdict else "none"
        rows.append(
            f'<tr class="verdict-{e(v)}" data-position="{s.position}">'
            f'<td><a href="#pos-{s.position}">{s.position}</a></td><td>{e(s.serial)}</td>'
            f"<td>{e(info.get('manufacturer', ''))} {e(info.get('meter_type', ''))}</td>"
            f'<td class="verdict v-{e(v)}">{e(VERDICT_MARK.get(v, "no results"))}</td>'
            f'<td class="num">{c["pass"]}</td><td class="num">{c["fail"]}</td>'
            f'<td class="num">{c["inconclusive"]}</td><td class="num">{c["error"]}</td></tr>')
    out.append('<table id="positions-overview"><thead><tr><th>Position</th><th>Serial</th>'
               "<th>Meter</th><th>Verdict</th><th>pass</th><th>fail</th><th>inconclusive</th>"
               f"<th>error</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    out.append('<section id="failures"><h3>Meters that do not pass, and why</h3>')
    bad = [s for s in summaries if s.verdict not in (Verdict.PASS, None)]
    if not bad:
        out.append('<p class="muted">Every point of every meter passes.</p>')
    for s in bad:
        items = []
        for r in s.bad:
            v = str(r["verdict"])
            items.append(
                f'<li><a class="v-{e(v)}" href="#m-{int(r["id"])}">'
                f"{e(VERDICT_MARK.get(v, v))}</a> "
                f"{e(family_title(str(r['family'])))}, {e(r['p_text'])}: "
                f"{e(why_text(r))}"
                + (f" [{e(r['clause'])}]" if r.get("clause") else "") + "</li>")
        serial = f" (serial {s.serial})" if s.serial else ""
        out.append(f'<div class="failing" data-position="{s.position}"><strong>Position '
                   f"{s.position}{e(serial)}</strong>: {_verdict_badge(s.verdict)}"
                   f"<ul>{''.join(items)}</ul></div>")
    out.append("</section></section>")
    return "".join(out)


# -- per meter ---------------------------------------------------------------------------


def _sort_for_table(rows: list[Row], family: str) -> list[Row]:
    if family in CURVE_FAMILIES:
        return sorted(rows, key=_curve_table_key)
    return sorted(rows, key=lambda r: r["id"])


def _curve_table_key(r: Row) -> tuple:
    """Direction, element, PF, load (missing last), id."""
    d, load = r["p_direction"], r["p_load"]
    missing = math.isnan(load)
    return (0 if d == "import" else 1 if d == "export" else 2, element_sort_key(r["p_element"]),
            pf_sort_key(r["p_pf"]), missing, 0.0 if missing else load, r["id"])


def _budget_title(r: Mapping[str, Any]) -> str:
    """The uncertainty budget as a tooltip on the U cell (standard uncertainties, RSS, k)."""
    budget = r.get("uncertainty_budget")
    if not isinstance(budget, Mapping):
        return ""
    parts = []
    for c in budget.get("components") or []:
        if isinstance(c, Mapping) and is_number(c.get("standard_uncertainty")):
            parts.append(f"{c.get('name', '?')}: u = {fmt_number(c['standard_uncertainty'], 2)}")
    k = budget.get("coverage_factor")
    if is_number(k):
        parts.append(f"RSS x k = {fmt_compact(k)}")
    return f' title="{e("; ".join(parts))}"' if parts else ""


def _measurement_row(r: Mapping[str, Any]) -> str:
    unit = r.get("unit") if isinstance(r.get("unit"), str) else ""
    v, u = r.get("value"), r.get("expanded_uncertainty")
    verdict = str(r.get("verdict"))
    value_text = with_unit(fmt_value(v, u, signed=unit == "%"), unit)
    u_text = with_unit(fmt_uncertainty(u), unit)
    reps = ""
    if is_number(r.get("rep_n")) and not math.isnan(r["rep_n"]):
        reps = f"{int(r['rep_n'])}"
        if is_number(r.get("rep_stdev")):
            # the spread of the repetitions, to the value's decimal place and in its unit
            reps += f", s = {with_unit(fmt_value(r['rep_stdev'], u), unit)}"
    msg = r.get("message") if isinstance(r.get("message"), str) else ""
    mid = int(r["id"])
    return (
        f'<tr class="measurement verdict-{e(verdict)}" id="m-{mid}" data-mid="{mid}" '
        f'data-verdict="{e(verdict)}" data-test-id="{e(r.get("test_id"))}">'
        f'<td class="point">{e(r.get("p_text"))}</td>'
        f'<td class="quantity">{e(r.get("quantity"))}</td>'
        f'<td class="value" data-value="{_num_attr(v)}">{e(value_text)}</td>'
        f'<td class="limit" data-low="{_num_attr(r.get("limit_low"))}" '
        f'data-high="{_num_attr(r.get("limit_high"))}">'
        f"{e(fmt_limits(r.get('limit_low'), r.get('limit_high'), unit))}</td>"
        f'<td class="uncertainty" data-u="{_num_attr(u)}"{_budget_title(r)}>{e(u_text)}</td>'
        f'<td class="num reps">{e(reps)}</td>'
        f"{_verdict_cell(verdict)}"
        f'<td class="rule">{e(r.get("decision_rule"))}</td>'
        f'<td class="clause">{e(r.get("clause"))}</td>'
        f'<td class="message">{e(msg)}</td></tr>'
    )


TABLE_HEAD = ("<thead><tr><th>Test point</th><th>Quantity</th><th>Measured</th><th>Limit</th>"
              "<th>U (k=2)</th><th>Repetitions</th><th>Verdict</th><th>Rule</th><th>Clause</th>"
              "<th>Note</th></tr></thead>")


def _points_table(rows: list[Row], family: str) -> str:
    body = "".join(_measurement_row(r) for r in _sort_for_table(rows, family))
    return (f'<table class="points" data-family="{e(family)}">{TABLE_HEAD}<tbody>{body}'
            "</tbody></table>")


# Constants the rig stores per position (rig/session.py), as the reader knows them.
_RATING_KEYS = (("wiring", "", ""), ("un_v", "Un ", " V"), ("in_a", "In ", " A"),
                ("imax_a", "Imax ", " A"), ("class", "class ", ""))
_CONSTANT_KEYS = (("active_imp_per_kwh", "imp/kWh"), ("reactive_imp_per_kvarh", "imp/kvarh"))


def _identity(positions: list[Row], position: int) -> str:
    """The meter's identity: names first, then rating and constants in one line each, then
    what was read from the meter (OBIS code = value) in one cell."""
    recs = [r for r in positions if r["position"] == position]
    if not recs:
        return ('<p class="muted">No meter identity was recorded for this position.</p>')
    r = recs[0]
    rows = [("Serial number", e(r.get("serial"))),
            ("Meter", e(" ".join(str(r.get(k) or "") for k in ("manufacturer", "meter_type"))
                        .strip()))]
    if r.get("firmware"):
        rows.append(("Firmware", e(r.get("firmware"))))
    constants = ({str(k).lower(): v for k, v in r["constants"].items()}
                 if isinstance(r.get("constants"), Mapping) else {})
    rating = [f"{pre}{_plain(constants.pop(k))}{post}" for k, pre, post in _RATING_KEYS
              if k in constants]
    if rating:
        rows.append(("Rating", e(", ".join(rating))))
    pulse = [f"{_plain(constants.pop(k))} {unit}" for k, unit in _CONSTANT_KEYS
             if k in constants]
    if pulse:
        rows.append(("Meter constants", e(", ".join(pulse))))
    rows.extend((str(k).replace("_", " "), e(_plain(v))) for k, v in constants.items())
    identity = r.get("identity")
    if isinstance(identity, Mapping) and identity:
        ident = identity.get("identification")
        if ident:
            rows.append(("Identification", f"<code>{e(ident)}</code>"))
        read = "; ".join(f"<code>{e(k)}</code> = {e(_plain(v))}" for k, v in identity.items()
                         if k != "identification")
        if read:
            rows.append(("Read from the meter", read))
    if is_number(r.get("read_at")):
        rows.append(("Read at", e(fmt_time(r["read_at"]))))
    return _facts(rows, f"identity-{position}")


def meter_section(data: RunData, s: PositionSummary, positions: list[Row],
                  plot_meas: pd.DataFrame, partial: str = "") -> str:
    rows = s.rows
    v = s.verdict.value if s.verdict else "none"
    out = [f'<section class="meter" id="pos-{s.position}" data-position="{s.position}" '
           f'data-verdict="{e(v)}">',
           f"<h2>Position {s.position}" + (f" \u2014 meter {e(s.serial)}" if s.serial else "")
           + f" {_verdict_badge(s.verdict)}</h2>",
           _identity(positions, s.position),
           _conformity_block(conformity(s, data, sorted(
               {str(r["clause"]) for r in rows
                if not is_missing(r["clause"]) and str(r["clause"])}), partial))]
    ctx = MeterContext(s.position, rows, plot_meas)
    by_family = group_rows(rows, lambda r: r["family"])
    for family in sorted(by_family, key=family_sort_key):
        fam_rows = by_family[family]
        nfail = sum(r["verdict"] == "fail" for r in fam_rows)
        out.append(f'<section class="family" id="pos-{s.position}-{slug(family)}" '
                   f'data-family="{e(family)}"><h3>{e(family_title(family))} '
                   f'<span class="muted">({_count(len(fam_rows), "point")}'
                   + (f', <span class="v-fail">{nfail} \u2717 fail</span>' if nfail else "")
                   + ")</span></h3>")
        out.extend(family_figures(ctx, family, fam_rows))
        out.append(_points_table(fam_rows, family))
        out.append("</section>")
    if not rows:
        out.append('<p class="muted">No measurements recorded for this position.</p>')
    out.append("</section>")
    return "".join(out)


# -- batch -------------------------------------------------------------------------------


def _batch_number(x: float, b: BatchPoint, significant: int, signed: bool = False) -> str:
    """A batch figure to the decimal place of the point's typical U, as the values are shown;
    without U: counts as integers, other figures to `significant` digits (0: as a value)."""
    if is_number(b.typical_u):
        return fmt_value(x, b.typical_u, signed=signed)
    if significant == 0 or (is_number(x) and float(x).is_integer()):
        return fmt_value(x, signed=signed)
    return fmt_number(x, significant, signed=signed)


def batch_section(a: Analysed, plot_meas: pd.DataFrame, points: list[BatchPoint],
                   n_positions: int) -> str:
    out = ['<section id="batch"><h2>Batch summary</h2>']
    curves = [r for r in a.rows if is_curve_row(r)]
    if n_positions > 1 and curves:
        out.append("<h3>Error curves, all positions</h3>")
        out.append(plots_div(curve_figures(plot_meas, curves, series="position",
                                           id_base="plot-batch", caption_base="All positions")))
    clock = [r for r in a.rows
             if r["family"] == "clock" and not math.isnan(plots.elapsed_hours(r["point"]))]
    if n_positions > 1 and clock:
        svg = plots.clock_svg(frame_of(plot_meas, clock), series="position",
                              title="Clock error, all positions", prefix="plot-batch-clock")
        out.append(figure(svg, "plot-batch-clock", "Clock error of every position against "
                           "elapsed time."))
    out.append("<h3>Per test point across positions</h3>")
    rows = []
    for b in points:
        signed = b.unit == "%"
        verdicts = ", ".join(f"{k} {n}" for k, n in sorted(b.verdicts.items()))
        rows.append(
            f'<tr class="batch-point{" verdict-fail" if b.verdicts.get("fail") else ""}">'
            f"<td>{e(family_title(b.family))}</td><td>{e(b.point_text)}</td>"
            f"<td>{e(b.quantity)}</td><td class=\"num\">{b.n}</td>"
            f'<td class="num">{e(with_unit(_batch_number(b.mean, b, 3, signed), b.unit))}</td>'
            f'<td class="num">{e(with_unit(_batch_number(b.spread, b, 0), b.unit))}</td>'
            f'<td class="num">{e(with_unit(_batch_number(b.stdev, b, 2), b.unit))}</td>'
            f'<td class="worst"><a href="#pos-{b.worst_position}">{b.worst_position}</a>: '
            f"{e(with_unit(_batch_number(b.worst_value, b, 0, signed), b.unit))}</td>"
            f"<td>{e(verdicts)}</td><td>{e(b.clause)}</td></tr>")
    out.append('<table id="batch-points"><thead><tr><th>Family</th><th>Test point</th>'
               "<th>Quantity</th><th>Meters</th><th>Mean</th><th>Spread (max\u2212min)</th>"
               "<th>Std dev</th><th>Worst meter</th><th>Verdicts</th><th>Clause</th></tr>"
               f"</thead><tbody>{''.join(rows)}</tbody></table></section>")
    return "".join(out)


def run_log_context(data: RunData, interrupted: pd.DataFrame) -> dict[str, Any]:
    """What templates/runlog.html shows: interrupted points, log lines, the bench file."""
    ev = data.events
    shown = ev[~ev["kind"].isin(BOOKKEEPING_KINDS)] if "kind" in ev else ev
    return {
        "interrupted": [(_plain(r["position"]), r["message"], fmt_time(r["t"]))
                        for r in interrupted.to_dict("records")],
        "events": [(fmt_time(r["t"]), r["level"], r["kind"],
                    _plain(r["position"]) if is_number(r["position"]) else "", r["message"])
                   for r in shown.to_dict("records")],
        "bench_file": data.run.bench_file,
    }


def incomplete_reasons(data: RunData, interrupted: pd.DataFrame) -> list[str]:
    run = data.run
    reasons = []
    if run.ended_at is None:
        reasons.append(f"the run has no end time (status '{run.status}'): it was killed, "
                       "lost power or is still running")
    elif run.status == "aborted":
        # The rig logs why it stopped (a signal, the operator) as a 'stop' event.
        events = data.events
        why = ([str(m) for m in events.loc[events["kind"] == "stop", "message"]]
               if {"kind", "message"} <= set(events.columns) else [])
        reasons.append("the run was ABORTED before the end of its plan"
                       + (f" ({'; '.join(why)})" if why else "")
                       + ": points it did not reach are not in this report")
    elif run.status != "completed":
        reasons.append(f"the run ended with status '{run.status}'")
    if len(interrupted):
        reasons.append(f"{len(interrupted)} point(s) were started but have no result")
    reasons.extend(data.problems)
    return reasons
