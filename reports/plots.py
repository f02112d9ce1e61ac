"""Plots of a report as inline SVG text (matplotlib, no pyplot, no GUI backend).

Figures are built on matplotlib.figure.Figure directly, so nothing touches pyplot's global
state; text stays text in the SVG (svg.fonttype 'none'), and every id inside an SVG gets a
per-figure prefix so that many SVGs can live in one HTML page without id clashes.
"""

from __future__ import annotations

import hashlib
import io
import math
import re

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from reports.analysis import element_sort_key
from reports.numbers import is_number

FAIL_COLOUR = "#c62828"
LIMIT_COLOUR = "#555555"
_RC = {"svg.fonttype": "none", "svg.hashsalt": "meter-test-rig", "font.size": 8.0,
       "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
       "axes.titlesize": 9.0, "axes.grid": True, "grid.alpha": 0.3}

_ID = re.compile(r'\sid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^)"]+)')
_TAG = re.compile(r"<[^>]+>")
_LONG_FLOAT = re.compile(r"(\d\.\d{2})\d+")


def _compact_tag(tag: str) -> str:
    # Coordinates are in points: 0.01 pt is far below what a screen or printer shows.
    return _LONG_FLOAT.sub(r"\1", re.sub(r"\s*\n\s*", " ", tag))


def svg_of(fig: Figure, prefix: str) -> str:
    """The figure as an <svg> element for inlining.

    Only ids that something inside the SVG refers to are kept, each prefixed (derived
    from `prefix`, the figure's id) so that many SVGs can share one HTML page;
    coordinates are cut to 0.01 pt, indentation and metadata removed (a third of the
    size of matplotlib's own output)."""
    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.find("<svg"):]
    text = re.sub(r"<!--.*?-->|<metadata>.*?</metadata>", "", text, flags=re.S)
    # A short stand-in for the figure's id keeps references small but unique in the page.
    prefix = "s" + hashlib.sha1(prefix.encode()).hexdigest()[:8]
    refs = {m.group(2) for m in _REF.finditer(text)}
    text = _ID.sub(lambda m: f' id="{prefix}-{m.group(1)}"' if m.group(1) in refs else "",
                   text)
    text = _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
    text = _TAG.sub(lambda m: _compact_tag(m.group(0)), text)
    text = re.sub(r">\s+<", "><", text)
    return text.strip()


def _new_figure(n_axes: int, height: float = 2.6) -> tuple[Figure, list]:
    with matplotlib.rc_context(_RC):
        width = min(3.0 * n_axes + 0.8, 11.0)
        fig = Figure(figsize=(width, height))
        # Fixed margins: constrained layout would double the rendering time of a report.
        fig.subplots_adjust(left=0.7 / width, right=1 - 0.15 / width, bottom=0.45 / height,
                            top=1 - 0.62 / height, wspace=0.08)
        axes = fig.subplots(1, n_axes, sharey=True, squeeze=False)[0]
    return fig, list(axes)


def _limit_stairs(ax, loads: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> None:
    """The class limit envelope: each point's limits hold from its current up to the next
    test current, as the limit tables define ranges "a <= I < b" (standards.md 1.2)."""
    order = np.argsort(loads)
    x, lo, hi = loads[order], lows[order], highs[order]
    edges = np.concatenate(([x[0] / 1.25], x[1:], [x[-1] * 1.25]))
    with matplotlib.rc_context(_RC):
        if np.isfinite(hi).any():
            ax.stairs(hi, edges, color=LIMIT_COLOUR, linestyle="--", linewidth=0.9,
                      label="limit", baseline=None)
        if np.isfinite(lo).any():
            ax.stairs(lo, edges, color=LIMIT_COLOUR, linestyle="--", linewidth=0.9,
                      baseline=None)
        if np.isfinite(hi).all() and np.isfinite(lo).all():
            ax.fill_between(edges, np.append(lo, lo[-1]), np.append(hi, hi[-1]), step="post",
                            color="#4caf50", alpha=0.08, linewidth=0)


def _log_current_axis(ax) -> None:
    """Log x axis labelled 0.01, 0.02, 0.05, 0.1 ... (multiples of In), no minor ticks."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.set_xlabel("current / In")


# Heading rows above the axes, in inches: the title, then the legend in rows of entries.
TITLE_ROW_IN = 0.26
LEGEND_ROW_IN = 0.17
LEGEND_ENTRY_IN = 0.8  # room for one entry at 6 pt: handle and a label like "mean of 48"
AXES_TITLE_IN = 0.24  # the axes title ("balanced", "L1") above each axes


def _at_least_a_decade(ax) -> None:
    """Widen a current axis that spans less than a decade (one or two close points), so
    that it shows labelled 1-2-5 ticks instead of crowded fallback ones."""
    lo, hi = ax.get_xlim()
    if lo > 0 and hi / lo < 10:
        centre = math.sqrt(lo * hi)
        ax.set_xlim(centre / 3.2, centre * 3.2)


def _title_and_legend(fig: Figure, axes: list, title: str) -> None:
    """The title in the top-left corner and the figure's one legend in rows below it, both
    above the axes: a legend beside a left-aligned title collides with it on narrow figures."""
    handles, labels = [], []
    for ax in axes:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    width, height = fig.get_size_inches()
    rows, ncols = 0, 1
    if handles:
        ncols = max(1, min(len(labels), int((width - 0.2) // LEGEND_ENTRY_IN)))
        rows = math.ceil(len(labels) / ncols)
    # Legend rows past the first make the figure taller, not the axes smaller.
    bottom_in = fig.subplotpars.bottom * height
    height += max(0, rows - 1) * LEGEND_ROW_IN
    fig.set_size_inches(width, height)
    fig.suptitle(title, fontsize=9, x=0.1 / width, y=1 - 0.06 / height, ha="left", va="top")
    if handles:
        fig.legend(handles, labels, loc="upper left", fontsize=6, ncols=ncols, frameon=False,
                   markerscale=0.8, borderaxespad=0, columnspacing=1.2,
                   bbox_to_anchor=(0.1 / width, 1 - (0.06 + TITLE_ROW_IN) / height))
    gap = AXES_TITLE_IN if any(ax.get_title() for ax in axes) else 0.1
    top_in = 0.06 + TITLE_ROW_IN + rows * LEGEND_ROW_IN + gap
    fig.subplots_adjust(top=1 - top_in / height, bottom=bottom_in / height)


def _floats(series: pd.Series) -> np.ndarray:
    return np.array([float(v) if is_number(v) else np.nan for v in series], dtype=float)


# Above this many meters in one plot, each meter's line is drawn thin and grey, the
# batch mean in black, and only meters that fail a point in the plot get a colour and a
# legend entry: forty-eight coloured lines cannot be told apart.
MAX_COLOURED_SERIES = 8


def _series_kwargs(label: object, n_series: int, fails: bool) -> dict:
    if label is None:
        return {"label": "measured"}
    if n_series <= MAX_COLOURED_SERIES or fails:
        return {"label": f"pos {label}"}
    return {"label": None, "color": "#9e9e9e", "alpha": 0.6, "linewidth": 0.6,
            "markersize": 1.5}


def curve_svg(rows: pd.DataFrame, *, series: str | None, title: str, prefix: str) -> str:
    """Percentage error against current (log x, multiples of In), one axes per element
    (balanced first, single elements beside it), limit envelope, U bars (k = 2), failed
    points marked with a red cross. `series` = column that splits lines (e.g. 'position')."""
    elements = sorted(set(rows["p_element"]), key=element_sort_key)
    n_series = 1 if series is None else rows[series].nunique()
    fig, axes = _new_figure(len(elements))
    with matplotlib.rc_context(_RC):
        for ax, element in zip(axes, elements, strict=True):
            sub = rows[rows["p_element"] == element]
            groups = [(None, sub)] if series is None else list(sub.groupby(series, sort=True))
            for label, g in groups:
                g = g.sort_values("p_load")
                x = g["p_load"].to_numpy(dtype=float)
                y = _floats(g["value"])
                u = _floats(g["expanded_uncertainty"])
                bad = (g["verdict"] == "fail").to_numpy()
                style = {"marker": "o", "markersize": 3, "linewidth": 1, "capsize": 2}
                style.update(_series_kwargs(label, n_series, bool(bad.any())))
                ax.errorbar(x, y, yerr=np.where(np.isfinite(u), u, 0.0), **style)
                if bad.any():
                    ax.plot(x[bad], y[bad], linestyle="none", marker="x", markersize=8,
                            markeredgewidth=1.8, color=FAIL_COLOUR, label="fail")
            if n_series > MAX_COLOURED_SERIES:
                mean = sub.assign(_v=_floats(sub["value"])).groupby("p_load")["_v"].mean()
                ax.plot(mean.index.to_numpy(dtype=float), mean.to_numpy(), color="black",
                        linewidth=1.4, label=f"mean of {n_series}")
            lim = sub.drop_duplicates("p_load")
            _limit_stairs(ax, lim["p_load"].to_numpy(dtype=float), _floats(lim["limit_low"]),
                          _floats(lim["limit_high"]))
            _log_current_axis(ax)
            _at_least_a_decade(ax)
            ax.set_title(element)
            ax.axhline(0, color="black", linewidth=0.5)
        axes[0].set_ylabel("error / %")
        _title_and_legend(fig, axes, title)
    return svg_of(fig, prefix)


def demand_svg(rows: pd.DataFrame, *, title: str, prefix: str) -> str:
    """Each demand window: the meter's demand against the reference demand (bars), and
    beside it the demand error per window with its limits and U bars."""
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(7.6, 2.4))
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.19, top=0.8, wspace=0.3)
        ax, ax_err = fig.subplots(1, 2)
    labels, ref, met = [], [], []
    unit = ""
    for i, r in enumerate(rows.to_dict("records")):
        raw = r["raw"] if isinstance(r["raw"], dict) else {}
        point = r["point"] if isinstance(r["point"], dict) else {}
        labels.append(str(point.get("window", i)))
        ref.append(float(raw["reference"]) if is_number(raw.get("reference")) else math.nan)
        met.append(float(raw["meter"]) if is_number(raw.get("meter")) else math.nan)
        unit = unit or str(raw.get("unit") or "")
    x = np.arange(len(labels))
    bad = (rows["verdict"] == "fail").to_numpy()
    with matplotlib.rc_context(_RC):
        ax.bar(x, ref, width=0.6, color="#90caf9", label="reference")
        ax.plot(x, met, linestyle="none", marker="o", color="#0d47a1", label="meter")
        ax.set_xticks(x, labels)
        ax.set_xlabel("demand window")
        ax.set_ylabel(f"demand / {unit}" if unit else "demand")
        err_unit = str(rows["unit"].iloc[0]) if len(rows) else ""
        y = _floats(rows["value"])
        u = _floats(rows["expanded_uncertainty"])
        ax_err.errorbar(x, y, yerr=np.where(np.isfinite(u), u, 0.0), linestyle="none",
                        marker="o", markersize=3, capsize=2, color="#0d47a1", label="error")
        if bad.any():
            ax_err.plot(x[bad], y[bad], linestyle="none", marker="x", markersize=8,
                        markeredgewidth=1.8, color=FAIL_COLOUR, label="fail")
        edges = np.concatenate((x - 0.5, [x[-1] + 0.5])) if len(x) else np.array([0.0, 1.0])
        for col in ("limit_high", "limit_low"):
            lim = _floats(rows[col])
            if np.isfinite(lim).any():
                ax_err.stairs(lim, edges, color=LIMIT_COLOUR, linestyle="--", linewidth=0.9,
                              baseline=None, label="limit" if col == "limit_high" else None)
        ax_err.axhline(0, color="black", linewidth=0.5)
        ax_err.set_xticks(x, labels)
        ax_err.set_xlabel("demand window")
        ax_err.set_ylabel(f"demand error / {err_unit}" if err_unit else "demand error")
        _title_and_legend(fig, [ax, ax_err], title)
    return svg_of(fig, prefix)


def elapsed_hours(point: object) -> float:
    if isinstance(point, dict):
        if is_number(point.get("elapsed_s")):
            return float(point["elapsed_s"]) / 3600.0
        if is_number(point.get("elapsed_h")):
            return float(point["elapsed_h"])
    return math.nan


def clock_svg(rows: pd.DataFrame, *, series: str | None, title: str, prefix: str) -> str:
    """Clock error against elapsed time, with the limits and U bars."""
    fig, (ax,) = _new_figure(1, height=2.4)
    df = rows.assign(_h=[elapsed_hours(p) for p in rows["point"]]).sort_values("_h")
    with matplotlib.rc_context(_RC):
        groups = [(None, df)] if series is None else list(df.groupby(series, sort=True))
        for label, g in groups:
            u = _floats(g["expanded_uncertainty"])
            bad = (g["verdict"] == "fail").to_numpy()
            style = {"marker": "o", "markersize": 3, "linewidth": 1, "capsize": 2}
            style.update(_series_kwargs(label, len(groups), bool(bad.any())))
            ax.errorbar(g["_h"], _floats(g["value"]), yerr=np.where(np.isfinite(u), u, 0.0),
                        **style)
            if bad.any():
                ax.plot(g["_h"].to_numpy()[bad], _floats(g["value"])[bad], linestyle="none",
                        marker="x", markersize=8, markeredgewidth=1.8, color=FAIL_COLOUR,
                        label="fail")
        lim = df.drop_duplicates("_h")
        ax.plot(lim["_h"], _floats(lim["limit_high"]), color=LIMIT_COLOUR, linestyle="--",
                linewidth=0.9, label="limit")
        ax.plot(lim["_h"], _floats(lim["limit_low"]), color=LIMIT_COLOUR, linestyle="--",
                linewidth=0.9)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_xlabel("elapsed time / h")
        unit = str(df["unit"].iloc[0]) if len(df) else ""
        ax.set_ylabel(f"clock error / {unit}" if unit else "clock error")
        _title_and_legend(fig, [ax], title)
    return svg_of(fig, prefix)
