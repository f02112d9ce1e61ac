"""The history of one meter: every run of a store that tested it (by serial number), with the
meter's verdict in each, and its error curves of all those runs overlaid.

Read through the store's public read functions (list_runs, positions, load_run), so that it
works on whichever store reports.store opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from reports.analysis import ROW, Analysed, Row, analyse, curve_groups, is_curve_row
from reports.html import CSS
from reports.numbers import fmt_time
from reports.page import environment
from reports.plots import COLUMNS
from reports.sections import curve_figures, plots_div
from reports.store import ResultsStore

RUN = "history_run"  # the series column of the overlaid curves


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
    curves: pd.DataFrame  # the curve rows of every run, with the RUN column
    curve_rows: list[Row]


def meter_history(store: ResultsStore, serial: str) -> MeterHistory:
    runs: list[MeterRun] = []
    frames = []
    rows: list[Row] = []
    for info in store.list_runs():
        positions = [p.position for p in store.positions(info.run_id) if p.serial == serial]
        if not positions:
            continue
        a: Analysed = analyse(store.load_run(info.run_id))
        for s in (s for s in a.summaries if s.position in positions):
            label = f"#{len(runs) + 1} {fmt_time(info.started_at)[:10]}"
            runs.append(MeterRun(label, info.run_id, fmt_time(info.started_at),
                                 f"{info.plan_name} {info.plan_version}".strip(),
                                 str(info.status), s.position,
                                 s.verdict.value if s.verdict else "no results", s.counts))
            mine = [r for r in s.rows if is_curve_row(r)]
            if mine:
                frame = a.meas.take([r[ROW] for r in mine])[list(COLUMNS)].astype(object)
                frame[RUN] = label
                frames.append(frame)
                rows.extend({**r, RUN: label} for r in mine)
    curves = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    # Plain rows index the combined frame in order (analysis.frame_of reads ROW).
    for i, r in enumerate(rows):
        r[ROW] = i
    return MeterHistory(serial, runs, curves, rows)


def render_history(h: MeterHistory) -> str:
    figures = (curve_figures(h.curves, h.curve_rows, series=RUN, id_base="history",
                             caption_base=f"Meter {h.serial}, every run")
               if h.curve_rows else [])
    template = environment(None).get_template("history.html")
    return template.render(css=Markup(CSS), h=h, plots=Markup(plots_div(figures)),
                           n_groups=len(curve_groups(h.curve_rows)))


def write_history(store: ResultsStore, serial: str, out: Path) -> MeterHistory:
    h = meter_history(store, serial)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_history(h), encoding="utf-8")
    return h
