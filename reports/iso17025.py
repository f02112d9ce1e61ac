"""The items a test report carries under ISO/IEC 17025:2017 7.8.2.1 and 7.8.3.1, filled from
the report metadata file, the run and its bench file.

The item letters and their subjects are the standard's (ISO/IEC 17025:2017, clause 7.8.2.1
a) to p): common requirements for reports; 7.8.3.1 a) to e): specific requirements for test
reports). Items a type test does not need (sampling, 7.8.2.1 k)) say why they do not apply
instead of being left out: a reviewer sees every item answered. An item the metadata file
would answer, when there is no metadata file, says so: the report is then not fit to sign.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from reports.benchinfo import BenchInfo
from reports.numbers import fmt_time
from reports.planitems import PlanCoverage
from reports.records import RunInfo
from reports.reportmeta import ReportMeta

NO_META = "not given: no report metadata file (python -m reports build RUN --meta FILE)"

RESULTS_RELATE = ("The results relate only to the items tested, as received. This report "
                  "shall not be reproduced except in full without the written approval of the "
                  "laboratory.")


@dataclass(frozen=True)
class Entry:
    clause: str  # e.g. "7.8.2.1 e)"
    subject: str  # what the standard asks for
    text: str  # the answer, as printed
    missing: bool = False  # the answer is not available: the report is not fit to sign
    href: str = ""  # the report section that carries it, when it is a whole section


@dataclass(frozen=True)
class Identification:
    """The report's identity: what the title, the page header and the PDF footer show."""

    title: str
    number: str
    issued: dt.date
    partial: bool


def identification(meta: ReportMeta | None, run: RunInfo, coverage: PlanCoverage,
                   issued: dt.date) -> Identification:
    partial = coverage.partial
    title = "Test report" + (" (PARTIAL)" if partial else "")
    title += f": {run.plan_name or 'test run'}"
    number = meta.number(run.run_id, run.plan_name, issued) if meta else f"run {run.run_id}"
    return Identification(title, number, issued, partial)


def _lab(meta: ReportMeta | None, run: RunInfo, bench: BenchInfo) -> tuple[str, bool]:
    if meta and meta.laboratory:
        lab = meta.laboratory
        return ", ".join(p for p in (lab.name, lab.address) if p), not lab.address
    name = run.lab or bench.lab
    return (f"{name} (address: {NO_META})" if name else NO_META), True


def _dates(run: RunInfo) -> str:
    start = fmt_time(run.started_at)
    end = fmt_time(run.ended_at) if run.ended_at is not None else "not ended"
    return f"{start} to {end}"


def entries(meta: ReportMeta | None, run: RunInfo, bench: BenchInfo, coverage: PlanCoverage,
            ident: Identification, *, n_positions: int, n_results: int) -> list[Entry]:
    """Every item of 7.8.2.1 and 7.8.3.1, in the standard's order."""
    lab, lab_missing = _lab(meta, run, bench)
    bench_name = bench.name or run.bench_path or "the bench of the run"
    location = (meta.location if meta and meta.location
                else f"the laboratory's premises, bench {bench_name}")
    method = (meta.method if meta and meta.method else
              f"test plan {run.plan_name} {run.plan_version}"
              + (f" ({coverage.title}; {', '.join(coverage.standards)})"
                 if coverage.standards else ""))
    if meta and meta.deviations:
        deviations = "; ".join(meta.deviations)
    else:
        deviations = "none" if meta else NO_META
    if coverage.partial:
        not_run = [i.item_id for i in coverage.items if not i.complete]
        deviations += (f". Exclusions: the run did not carry out the whole plan; items not "
                       f"(fully) run: {', '.join(not_run)} (see the coverage statement)")
    elif not coverage.known:
        deviations += ". Which plan items ran was not recorded (a run by an older rig version)"
    out = [
        Entry("7.8.2.1 a)", "Title", ident.title),
        Entry("7.8.2.1 b)", "Name and address of the laboratory", lab, lab_missing),
        Entry("7.8.2.1 c)", "Location of the laboratory activities", location),
        Entry("7.8.2.1 d)", "Unique identification of the report, on every page; its end",
              f"Report {ident.number}, printed with page x of y in the header of every page; "
              "the report ends with the line 'End of report'."),
        Entry("7.8.2.1 e)", "Customer: name and contact",
              ", ".join(p for p in (meta.customer.name, meta.customer.address,
                                    meta.customer.contact) if p) if meta else NO_META,
              meta is None),
        Entry("7.8.2.1 f)", "Method used", method),
        Entry("7.8.2.1 g)", "Description, identification and condition of the items",
              (f"{meta.item.description}"
               + (f"; identification: {meta.item.identification}"
                  if meta.item.identification else "")
               + f"; condition on receipt: {meta.item.condition or 'not stated'}"
               + f"; {n_positions} meter(s), serial numbers read from the meters in the "
                 "per-position sections") if meta else NO_META, meta is None),
        Entry("7.8.2.1 h)", "Date of receipt of the items",
              meta.item.received.isoformat() if meta else NO_META, meta is None),
        Entry("7.8.2.1 i)", "Date(s) of performance of the tests", _dates(run),
              run.ended_at is None),
        Entry("7.8.2.1 j)", "Date of issue of the report", ident.issued.isoformat()),
        Entry("7.8.2.1 k)", "Sampling plan and method",
              "not applicable: the items were supplied by the customer; the laboratory did "
              "not sample them"),
        Entry("7.8.2.1 l)", "Statement that the results relate only to the items tested",
              RESULTS_RELATE),
        Entry("7.8.2.1 m)", "Results with their units",
              f"{n_results} result(s), each with its unit, limits and expanded uncertainty, in "
              "the per-position sections", href="#summary"),
        Entry("7.8.2.1 n)", "Additions to, deviations or exclusions from the method",
              deviations, meta is None),
        Entry("7.8.2.1 o)", "Person(s) authorising the report",
              f"{meta.authoriser.name}, {meta.authoriser.function}" if meta else NO_META,
              meta is None, href="#signature"),
        Entry("7.8.2.1 p)", "Results from external providers",
              "none: every result was measured by the laboratory on the bench named here"),
        Entry("7.8.3.1 a)", "Specific test conditions (environmental conditions)",
              "see Environment, Instruments and the bench file stored with the run",
              href="#environment"),
        Entry("7.8.3.1 b)", "Statement of conformity",
              "not stated for the plan: the run did not carry out the whole plan; see the "
              "coverage statement" if coverage.partial else
              "per meter and for the batch, under the decision rule stated (7.8.6)",
              href="#summary"),
        Entry("7.8.3.1 c)", "Measurement uncertainty",
              "expanded uncertainty U (k = 2, about 95 % coverage) with every result, in the "
              "unit of the result; its budget in the tooltip of each U cell"),
        Entry("7.8.3.1 d)", "Opinions and interpretations", "none given in this report"),
        Entry("7.8.3.1 e)", "Additional information required by the method",
              "instruments with serial numbers, calibration dates and stated uncertainties "
              "(traceability); the decision rule", href="#instruments"),
    ]
    return out


def missing_items(items: list[Entry]) -> list[str]:
    """The clauses the report cannot answer (its signature block says it is not fit to sign)."""
    return [e.clause for e in items if e.missing]
