"""Plots of a report as inline SVG text, drawn with reports.svgplot (about 1 ms a plot).

Each plot is one <svg> element sized in points; text stays text, and every id inside an SVG
starts with a prefix derived from the figure's id, so that many SVGs can live in one HTML
page without id clashes. Plots of one axes are narrow enough to print two abreast.

  curve_svg   percentage error against current (log x, multiples of In), one axes per
              element (balanced first, single elements beside it, y shared): limit envelope
              (dashed steps over a light green band), U bars (k = 2), one line per series,
              failed points as red crosses
  demand_svg  reference demand (bars) and meter demand (points) per window, and beside it
              the demand error per window with its limits and U bars
  clock_svg   clock error against elapsed hours, with the limits and U bars

Each *_svg function renders the svgplot.Figure of its *_figure twin (tests look at the
figure's scales to check where things are drawn).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from reports import svgplot as sp
from reports.analysis import Row, element_sort_key
from reports.numbers import is_number
from reports.points import elapsed_hours

FAIL_COLOUR = "#c62828"
LIMIT_COLOUR = "#555555"
BAND_COLOUR = "#4caf50"
GREY = "#9e9e9e"

# Above this many meters in one plot, each meter's line is drawn thin and grey, the
# batch mean in black, and only meters that fail a point in the plot get a colour and a
# legend entry: forty-eight coloured lines cannot be told apart.
MAX_COLOURED_SERIES = 8

# What splits a plot's rows into lines: a row's key (its position, its run), None for one line.
Series = Callable[[Row], Hashable] | None

PT = 72.0  # points per inch
CURVE_AXES_HEIGHT = 102.0  # pt: a figure 2.6 in high with one legend row
CLOCK_AXES_HEIGHT = 98.0
DEMAND_WIDTH = 7.6 * PT


def _id_prefix(prefix: str) -> str:
    # A short stand-in for the figure's id keeps references small but unique in the page.
    return "s" + hashlib.sha1(prefix.encode()).hexdigest()[:8]


def _axes_row_width(n_axes: int) -> float:
    return min(3.0 * n_axes + 0.8, 11.0) * PT


def _num(v: object) -> float:
    return float(v) if is_number(v) else math.nan


@dataclass(frozen=True)
class _Point:
    """One measurement as a plot needs it."""

    series: Hashable  # the value of the series column, None without one
    group: str  # the axes it belongs on (element), "" when there is one axes
    x: float
    value: float
    u: float
    low: float
    high: float
    fail: bool


def _points(rows: Sequence[Row], x: list[float], series: Series,
            by_element: bool = False) -> list[_Point]:
    """The rows as a plot needs them (x given per row)."""
    return [_Point(series(r) if series is not None else None, r.element if by_element else "",
                   float(xi), _num(r.value), _num(r.expanded_uncertainty), _num(r.limit_low),
                   _num(r.limit_high), r.verdict == "fail")
            for r, xi in zip(rows, x, strict=True)]


def _first_per_x(points: list[_Point]) -> list[_Point]:
    """The first point at each x (limits are the same for every series), sorted by x."""
    seen: dict[float, _Point] = {}
    for p in points:
        if not math.isnan(p.x):
            seen.setdefault(p.x, p)
    return sorted(seen.values(), key=lambda p: p.x)


def _limit_stairs(ax: sp.Axes, points: list[_Point]) -> None:
    """The class limit envelope: each point's limits hold from its current up to the next
    test current, as the limit tables define ranges "a <= I < b" (standards.md 1.2)."""
    lim = _first_per_x(points)
    if not lim:
        return
    xs = [p.x for p in lim]
    edges = [xs[0] / 1.25, *xs[1:], xs[-1] * 1.25]
    lows, highs = [p.low for p in lim], [p.high for p in lim]
    ax.add(sp.StepBand(edges, lows, highs, colour=BAND_COLOUR, opacity=0.08))
    label: str | None = "limit"
    for values in (highs, lows):
        if any(math.isfinite(v) for v in values):
            ax.add(sp.Stairs(values, edges, colour=LIMIT_COLOUR, width=0.9, label=label))
            label = None


def _decade_around(xs: list[float]) -> tuple[float, float] | None:
    """Limits for a current axis whose data span less than a decade (one or two close
    points), so that it shows labelled 1-2-5 ticks instead of one or none; else None."""
    xs = [x for x in xs if x > 0 and math.isfinite(x)]
    if not xs or max(xs) / min(xs) >= 10:
        return None
    centre = math.sqrt(min(xs) * max(xs))
    return centre / 3.2, centre * 3.2


class _Colours:
    """Series colours, the same in every axes of a figure: up to MAX_COLOURED_SERIES series
    each get one; above that only series that fail somewhere, in series order."""

    def __init__(self, points: list[_Point]) -> None:
        keys = sorted({p.series for p in points}, key=_series_order)
        self.many = len(keys) > MAX_COLOURED_SERIES
        if self.many:
            keys = sorted({p.series for p in points if p.fail}, key=_series_order)
        self.index = {k: i for i, k in enumerate(keys)}
        self.n_series = len({p.series for p in points})

    def line(self, key: Hashable, xs: list[float], ys: list[float], us: list[float],
             fails_here: bool) -> sp.Line:
        style = {"marker": "o", "marker_size": 3.0, "width": 1.0, "capsize": 2.0}
        if key is None:
            return sp.Line(xs, ys, yerr=us, colour=sp.PALETTE[0], label="measured", **style)
        if not self.many or fails_here:
            colour = sp.PALETTE[self.index[key] % len(sp.PALETTE)]
            # a number is a position; any other key (a run, in a meter's history) as it is
            label = f"pos {key}" if is_number(key) else str(key)
            return sp.Line(xs, ys, yerr=us, colour=colour, label=label, **style)
        return sp.Line(xs, ys, yerr=us, colour=GREY, opacity=0.6, width=0.6, marker="o",
                       marker_size=1.5, capsize=2.0)


def _series_order(key: Hashable) -> tuple:
    # Positions are numbers; anything else sorts after them by its text.
    return (0, float(key), "") if is_number(key) else (1, 0.0, str(key))


def _series_lines(ax: sp.Axes, points: list[_Point], colours: _Colours) -> list[_Point]:
    """One line per series, sorted by x; returns the failed points."""
    by_series: dict[Hashable, list[_Point]] = {}
    for p in points:
        by_series.setdefault(p.series, []).append(p)
    failed = []
    for key in sorted(by_series, key=_series_order):
        pts = sorted(by_series[key], key=lambda p: p.x)
        bad = [p for p in pts if p.fail]
        ax.add(colours.line(key, [p.x for p in pts], [p.value for p in pts],
                            [p.u for p in pts], bool(bad)))
        failed += bad
    return failed


def _fail_crosses(ax: sp.Axes, failed: list[_Point]) -> None:
    # Drawn after every line, so that no series hides a failed point.
    if failed:
        ax.add(sp.Line([p.x for p in failed], [p.value for p in failed], colour=FAIL_COLOUR,
                       width=0, marker="x", marker_size=8, marker_width=1.8, label="fail"))


def _mean_line(ax: sp.Axes, points: list[_Point], n_series: int) -> None:
    """The batch mean at each x (of the finite values)."""
    at: dict[float, list[float]] = {}
    for p in points:
        if math.isfinite(p.value) and not math.isnan(p.x):
            at.setdefault(p.x, []).append(p.value)
    xs = sorted(at)
    ax.add(sp.Line(xs, [sum(at[x]) / len(at[x]) for x in xs], colour="#000000", width=1.4,
                   label=f"mean of {n_series}"))


def curve_svg(rows: Sequence[Row], *, series: Series, title: str, prefix: str) -> str:
    """The error curves of `rows` as SVG (see curve_figure)."""
    return sp.render(curve_figure(rows, series=series, title=title, prefix=prefix))


def curve_figure(rows: Sequence[Row], *, series: Series, title: str,
                 prefix: str) -> sp.Figure:
    """Percentage error against current (log x, multiples of In), one axes per element
    (balanced first, single elements beside it), limit envelope, U bars (k = 2), failed
    points marked with a red cross. `series` gives the key that splits lines (a position)."""
    points = _points(rows, [r.load for r in rows], series, by_element=True)
    elements = sorted({p.group for p in points}, key=element_sort_key)
    colours = _Colours(points)
    fig = sp.Figure(width=_axes_row_width(len(elements)), axes_height=CURVE_AXES_HEIGHT,
                    title=title, id_prefix=_id_prefix(prefix), share_y=True)
    for element in elements:
        sub = [p for p in points if p.group == element]
        ax = fig.add(sp.Axes(xscale="log", title=element, xlabel="current / In"))
        _limit_stairs(ax, sub)
        ax.add(sp.HLine(0.0, colour="#000000", width=0.5))
        failed = _series_lines(ax, sub, colours)
        if colours.n_series > MAX_COLOURED_SERIES:
            _mean_line(ax, sub, colours.n_series)
        _fail_crosses(ax, failed)
        xs = [p.x for p in sub if p.x > 0 and math.isfinite(p.x)]
        if xs:  # the limit steps reach 1.25 times beyond the outer points
            ax.xlim = _decade_around([min(xs) / 1.25, max(xs) * 1.25])
    if fig.axes:
        fig.axes[0].ylabel = "error / %"
    else:  # no rows: an empty axes rather than no figure
        fig.add(sp.Axes(xscale="log", xlabel="current / In", ylabel="error / %"))
    return fig


def demand_svg(rows: Sequence[Row], *, title: str, prefix: str) -> str:
    """The demand plot of `rows` as SVG (see demand_figure)."""
    return sp.render(demand_figure(rows, title=title, prefix=prefix))


def demand_figure(rows: Sequence[Row], *, title: str, prefix: str) -> sp.Figure:
    """Each demand window: the meter's demand against the reference demand (bars), and
    beside it the demand error per window with its limits and U bars."""
    labels, ref, met = [], [], []
    unit = ""
    for i, r in enumerate(rows):
        raw = r.raw if isinstance(r.raw, dict) else {}
        point = r.point if isinstance(r.point, dict) else {}
        labels.append(str(point.get("window", i)))
        ref.append(_num(raw.get("reference")))
        met.append(_num(raw.get("meter")))
        unit = unit or str(raw.get("unit") or "")
    x = [float(i) for i in range(len(labels))]
    ticks = list(zip(x, labels, strict=True))
    points = _points(rows, x, None)
    fig = sp.Figure(width=DEMAND_WIDTH, axes_height=CLOCK_AXES_HEIGHT, title=title,
                    id_prefix=_id_prefix(prefix))
    ax = fig.add(sp.Axes(xticks=ticks, xlabel="demand window",
                         ylabel=f"demand / {unit}" if unit else "demand"))
    ax.add(sp.Bars(x, ref, width=0.6, colour="#90caf9", label="reference"))
    ax.add(sp.Line(x, met, colour="#0d47a1", width=0, marker="o", marker_size=6,
                   label="meter"))
    err_unit = str(rows[0].unit) if rows else ""
    ax_err = fig.add(sp.Axes(xticks=ticks, xlabel="demand window",
                             ylabel=f"demand error / {err_unit}" if err_unit
                             else "demand error"))
    edges = [v - 0.5 for v in x] + [x[-1] + 0.5] if x else [0.0, 1.0]
    label: str | None = "limit"
    for values in ([p.high for p in points], [p.low for p in points]):
        if any(math.isfinite(v) for v in values):
            ax_err.add(sp.Stairs(values, edges, colour=LIMIT_COLOUR, width=0.9, label=label))
            label = None
    ax_err.add(sp.HLine(0.0, colour="#000000", width=0.5))
    ax_err.add(sp.Line(x, [p.value for p in points], yerr=[p.u for p in points],
                       colour="#0d47a1", width=0, marker="o", marker_size=3, capsize=2,
                       label="error"))
    _fail_crosses(ax_err, [p for p in points if p.fail])
    return fig


def clock_svg(rows: Sequence[Row], *, series: Series, title: str, prefix: str) -> str:
    """The clock plot of `rows` as SVG (see clock_figure)."""
    return sp.render(clock_figure(rows, series=series, title=title, prefix=prefix))


def clock_figure(rows: Sequence[Row], *, series: Series, title: str,
                 prefix: str) -> sp.Figure:
    """Clock error against elapsed time, with the limits and U bars."""
    points = _points(rows, [elapsed_hours(r.point) for r in rows], series)
    colours = _Colours(points)
    unit = str(rows[0].unit) if rows else ""
    fig = sp.Figure(width=_axes_row_width(1), axes_height=CLOCK_AXES_HEIGHT, title=title,
                    id_prefix=_id_prefix(prefix))
    ax = fig.add(sp.Axes(xlabel="elapsed time / h",
                         ylabel=f"clock error / {unit}" if unit else "clock error"))
    lim = _first_per_x(points)
    label: str | None = "limit"
    for values in ([p.high for p in lim], [p.low for p in lim]):
        if any(math.isfinite(v) for v in values):
            ax.add(sp.Line([p.x for p in lim], values, colour=LIMIT_COLOUR, width=0.9,
                           dashed=True, label=label))
            label = None
    ax.add(sp.HLine(0.0, colour="#000000", width=0.5))
    _fail_crosses(ax, _series_lines(ax, points, colours))
    return fig
