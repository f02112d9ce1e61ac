"""The history of one meter: every run of a store that tested it (by serial number), with the
meter's verdict in each, and its error curves of all those runs overlaid.

Read through the store's public read functions (list_runs, positions, load_run), so that it
works on whichever store reports.store opens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from markupsafe import Markup

from reports.analysis import Analysed, Row, analyse, curve_groups, is_curve_row
from reports.html import CSS
from reports.numbers import fmt_time
from reports.page import environment
from reports.sections import Plots, curve_figures
from reports.store import ResultsStore


@dataclass(frozen=True)
class MeterRun:
    """One run that tested the meter, at one position."""

    label: str  # "#1 2026-12-05": the run's key in the plots
    run_id: str
    started: str
    plan: str
    status: str
    position: int
    verdict: str  # the meter's overall verdict in the run, or "no results"
    counts: dict[str, int]


@dataclass
class MeterHistory:
    serial: str
    runs: list[MeterRun]
    curve_rows: list[Row]  # the meter's curve rows of every run
    labels: dict[tuple[str, int], str] = field(default_factory=dict)  # (run, position) -> label

    def label_of(self, r: Row) -> str:
        """The series key of a curve row: the label of its run (and position)."""
        return self.labels[(r.run_id, r.position)]


def meter_history(store: ResultsStore, serial: str) -> MeterHistory:
    h = MeterHistory(serial, [], [])
    for info in store.list_runs():
        positions = [p.position for p in store.positions(info.run_id) if p.serial == serial]
        if not positions:
            continue
        a: Analysed = analyse(store.load_run(info.run_id))
        for s in (s for s in a.summaries if s.position in positions):
            label = f"#{len(h.runs) + 1} {fmt_time(info.started_at)[:10]}"
            h.runs.append(MeterRun(label, info.run_id, fmt_time(info.started_at),
                                   f"{info.plan_name} {info.plan_version}".strip(),
                                   str(info.status), s.position,
                                   s.verdict.value if s.verdict else "no results", s.counts))
            h.labels[(info.run_id, s.position)] = label
            h.curve_rows.extend(r for r in s.rows if is_curve_row(r))
    return h


def render_history(h: MeterHistory) -> str:
    figures = (curve_figures(h.curve_rows, series=h.label_of, id_base="history",
                             caption_base=f"Meter {h.serial}, every run")
               if h.curve_rows else [])
    template = environment(None).get_template("history.html")
    return template.render(css=Markup(CSS), h=h, plots=Plots(figures),
                           n_groups=len(curve_groups(h.curve_rows)))


def write_history(store: ResultsStore, serial: str, out: Path) -> MeterHistory:
    h = meter_history(store, serial)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_history(h), encoding="utf-8")
    return h
