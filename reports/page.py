"""The report page: Jinja2 templates (autoescape on) render what reports.html computes.

Templates are looked up first in the lab's own folder (`report_templates` in the bench file,
relative to it), then in reports/templates/. The package's templates are also reachable as
"package/<name>", so a lab's report.html can extend the package's and override one block.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from reports import html
from reports.analysis import Analysed, Row, batch_conformity, batch_points
from reports.benchinfo import BenchInfo, bench_info
from reports.iso17025 import (
    RESULTS_RELATE,
    Identification,
    entries,
    identification,
    missing_items,
)
from reports.matrix import results_matrix
from reports.planitems import PlanCoverage, plan_coverage
from reports.records import Verdict
from reports.reportmeta import Laboratory, ReportMeta
from reports.sections import RUN_SECTIONS

PACKAGE_TEMPLATES = Path(__file__).parent / "templates"

PRINT_CSS = """
.letterhead { border-bottom: 2px solid #333; padding-bottom: .4em; margin-bottom: .8em; }
.letterhead .lab-name { font-size: 14pt; font-weight: bold; }
table#iso17025 { width: 100%; } table#iso17025 th { width: 17em; }
#iso17025 td.clause { white-space: nowrap; font-size: 8pt; width: 6em; }
#iso17025 tr.missing td { background: var(--inc-bg); }
table.signature td.sign-here { height: 3em; min-width: 20em; }
#end-of-report { margin-top: 2em; text-align: center; }
@media print { #signature { break-inside: avoid; page-break-inside: avoid; } }
"""


class TemplateFolderError(ValueError):
    """The lab's template folder named in the bench file cannot be used."""


@dataclass(frozen=True)
class PageInputs:
    """What the page needs besides the run: the metadata file, the lab's templates, the date."""

    meta: ReportMeta | None = None
    lab_templates: Path | None = None
    issued: dt.date | None = None  # default: the metadata file's issue_date, else today (UTC)


def lab_template_folder(bench: BenchInfo, bench_path: str) -> Path | None:
    """The lab's template folder of a bench file (relative paths from the bench file's folder)."""
    if not bench.report_templates:
        return None
    folder = Path(bench.report_templates).expanduser()
    if not folder.is_absolute() and bench_path:
        folder = Path(bench_path).parent / folder
    if not folder.is_dir():
        raise TemplateFolderError(f"{bench_path or 'bench file'}: report_templates: "
                                  f"{folder} is not a folder")
    return folder


def environment(lab_folder: Path | None) -> jinja2.Environment:
    package = jinja2.FileSystemLoader(PACKAGE_TEMPLATES)
    loaders: list[jinja2.BaseLoader] = []
    if lab_folder is not None:
        loaders.append(jinja2.FileSystemLoader(lab_folder))
    loaders += [jinja2.PrefixLoader({"package": package}), package]
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)

    def lab_file_uri(name: str) -> str:
        """A file of the lab's template folder (a logo) as a data: URI: no external fetch."""
        if lab_folder is None:
            raise jinja2.TemplateError(f"lab_file_uri({name!r}): no lab template folder")
        path = (lab_folder / name).resolve()
        if lab_folder.resolve() not in path.parents:
            raise jinja2.TemplateError(f"lab_file_uri({name!r}): outside {lab_folder}")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"

    env.globals["lab_file_uri"] = lab_file_uri
    env.globals.update(html.TEMPLATE_GLOBALS)
    # The budgets' tooltips worked out once a budget object for the page.
    env.globals["table_rows"] = functools.partial(html.table_rows, budget_titles={})
    return env


def _stopped(a: Analysed) -> bool:
    return a.data.run.ended_at is None or str(a.data.run.status) != "completed"


def coverage_of(a: Analysed) -> PlanCoverage:
    return plan_coverage(a.events, a.rows, _stopped(a))


def _partial_text(coverage: PlanCoverage) -> str:
    if not coverage.partial:
        return ""
    full = sum(i.complete for i in coverage.items)
    return f"{full} of {len(coverage.items)} plan items run in full"


@dataclass(frozen=True)
class Pages:
    """The report page (report.html) and, when asked for, the page printed to report.pdf:
    the same report with the results matrix (reports/matrix.py) in place of the
    per-position tables."""

    html: str
    printed: str | None
    ident: Identification


def render_page(a: Analysed, inputs: PageInputs = PageInputs()) -> tuple[str, Identification]:
    """The whole report page of an analysed run, and its identification."""
    pages = render_pages(a, inputs, printed=False)
    return pages.html, pages.ident


def render_pages(a: Analysed, inputs: PageInputs = PageInputs(), *,
                 printed: bool = True) -> Pages:
    """The report page and (printed) the page for report.pdf, from one computation of what
    they show (plots, views, coverage)."""
    pages = page_renderer(a, inputs)
    return Pages(pages.html(), pages.printed() if printed else None, pages.ident)


@dataclass(frozen=True)
class PageRenderer:
    """What both pages show, computed once (plots, views, coverage); each page is rendered
    when asked for, so that a build can hand the printed page to the browser to load before
    it renders report.html (reports/build.py)."""

    template: jinja2.Template
    context: dict[str, Any]
    ident: Identification
    rows: Sequence[Row]
    positions: list[int]

    def html(self) -> str:
        """report.html: the per-position tables."""
        return self.template.render(**self.context, printing=False, matrix=[])

    def printed(self) -> str:
        """The page printed to report.pdf: the results matrix in place of the tables."""
        return self.template.render(**self.context, printing=True,
                                    matrix=results_matrix(self.rows, self.positions))


def page_renderer(a: Analysed, inputs: PageInputs = PageInputs()) -> PageRenderer:
    """What the report page and the printed page show, ready to render either."""
    data = a.data
    run = data.run
    bench = bench_info(data, a.events)
    meta = inputs.meta
    issued = (inputs.issued or (meta.issue_date if meta else None)
              or dt.datetime.now(dt.UTC).date())
    coverage = coverage_of(a)
    ident = identification(meta, run, coverage, issued)
    partial = _partial_text(coverage)
    reasons = html.incomplete_reasons(a)
    summaries = a.summaries
    iso_items = entries(meta, run, bench, coverage, ident, n_positions=len(summaries),
                        n_results=len(a.rows))
    lab = (meta.laboratory if meta and meta.laboratory
           else Laboratory(name=run.lab or bench.lab or "Laboratory not named"))
    records = {p.position: p for p in a.positions}
    template = environment(inputs.lab_templates).get_template("report.html")
    context = dict(
        css=Markup(html.CSS + PRINT_CSS), run=run, ident=ident, lab=lab, meta=meta,
        iso_items=iso_items, coverage=coverage, incomplete=bool(reasons),
        results_relate=RESULTS_RELATE, not_fit_to_sign=missing_items(iso_items),
        authoriser=(f"{meta.authoriser.name}, {meta.authoriser.function}" if meta
                    else "not named (no report metadata file)"),
        schema_version=data.schema_version, n_results=len(a.rows),
        summaries=summaries, position_records=records,
        batch_conformity=batch_conformity(summaries, data, partial),
        failing=[s for s in summaries if s.verdict not in (Verdict.PASS, None)],
        meters=[html.meter_view(data, s, records.get(s.position), partial) for s in summaries],
        batch=html.batch_view(a, batch_points(a.rows), len(summaries)),
        **html.header_context(a, bench, reasons),
        **html.run_log_context(a),
        run_sections=list(RUN_SECTIONS),
        **{k: v for build in RUN_SECTIONS.values() for k, v in build(a.events).items()},
    )
    return PageRenderer(template, context, ident, a.rows, [s.position for s in summaries])
