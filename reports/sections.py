"""The figures of a family in a meter's section, from a registry: family -> section builder.

A builder gets the meter's context and the family's rows and returns the figures shown above
the family's table of points (Figure, or Plots: figures side by side); the templates render
them (reports/templates/figures.html). A new family gets its figures by registering a builder
here (`SECTIONS[family] = builder`); no template is edited. A family without a builder shows
its table alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from reports import plots
from reports.analysis import CURVE_FAMILIES, Row, curve_groups, is_curve_row
from reports.benchtime import bench_time
from reports.numbers import is_number
from reports.points import elapsed_hours
from reports.records import Event

HALF_WIDTH_PT = 300.0
_SVG_WIDTH = re.compile(r'<svg[^>]*?\swidth="([0-9.]+)pt"')


@dataclass(frozen=True)
class Figure:
    """One plot: its inline SVG (reports.plots; svgplot escapes the text it draws), an id
    and a caption."""

    fig_id: str
    svg: Markup
    caption: str

    @property
    def width(self) -> str:
        """The plot's width in pt as the SVG states it ('' if it does not): the figure is as
        wide as its plot, so that the caption wraps under it and the plots of a group sit
        side by side on a wide screen."""
        m = _SVG_WIDTH.search(self.svg)
        return m.group(1) if m else ""

    @property
    def half(self) -> bool:
        """Narrow enough (one axes) to print two abreast on A4 (slightly scaled)."""
        return bool(self.width) and float(self.width) <= HALF_WIDTH_PT


@dataclass(frozen=True)
class Plots:
    """Figures side by side (div.plots)."""

    figures: list[Figure]


def figure(svg: str, fig_id: str, caption: str) -> Figure:
    return Figure(fig_id, Markup(svg), caption)


def curve_figures(rows: Sequence[Row], *, series: plots.Series, id_base: str,
                  caption_base: str) -> list[Figure]:
    """The error curves of the curve rows `rows`, one figure per quantity, direction and PF."""
    out = []
    for (quantity, direction, pf), group in curve_groups(rows).items():
        fig_id = f"{id_base}-curve-{slug(quantity)}-{slug(direction or 'any')}-pf-{slug(pf)}"
        title = f"{quantity}, {direction or 'any direction'}, PF {pf}"
        svg = plots.curve_svg(group, series=series, title=title, prefix=fig_id)
        out.append(figure(svg, fig_id, f"{caption_base}: {title}. Dashed: limits; bars: "
                                       "expanded uncertainty (k = 2); red crosses: failed."))
    return out


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"


@dataclass
class MeterContext:
    """What a section builder knows of the meter whose section it fills."""

    position: int
    rows: list[Row]  # all the meter's rows
    curves_shown: bool = False  # the curve families share one set of figures


SectionItem = Figure | Plots
SectionBuilder = Callable[[MeterContext, list[Row]], list[SectionItem]]


def curves(ctx: MeterContext, rows: list[Row]) -> list[SectionItem]:
    """All curve families of the meter together (single elements beside balanced), once."""
    curve_rows = [r for r in ctx.rows if is_curve_row(r)]
    if ctx.curves_shown or not curve_rows:
        return []
    ctx.curves_shown = True
    return [Plots(curve_figures(curve_rows, series=None, id_base=f"plot-pos{ctx.position}",
                                caption_base=f"Position {ctx.position}"))]


def demand(ctx: MeterContext, rows: list[Row]) -> list[SectionItem]:
    has = [r for r in rows if isinstance(r.raw, Mapping)
           and is_number(r.raw.get("meter")) and is_number(r.raw.get("reference"))]
    if not has:
        return []
    fig_id = f"plot-pos{ctx.position}-demand"
    svg = plots.demand_svg(has, title=f"Position {ctx.position}: demand per window",
                           prefix=fig_id)
    return [figure(svg, fig_id, f"Position {ctx.position}: meter demand (points) against "
                                "reference demand (bars) per window.")]


def clock(ctx: MeterContext, rows: list[Row]) -> list[SectionItem]:
    timed = [r for r in rows if not math.isnan(elapsed_hours(r.point))]
    if not timed:
        return []
    fig_id = f"plot-pos{ctx.position}-clock"
    svg = plots.clock_svg(timed, series=None,
                          title=f"Position {ctx.position}: clock error over time", prefix=fig_id)
    return [figure(svg, fig_id, f"Position {ctx.position}: clock error against elapsed time, "
                                "with limits.")]


SECTIONS: dict[str, SectionBuilder] = {
    **dict.fromkeys(CURVE_FAMILIES, curves),
    "demand": demand,
    "clock": clock,
}


def family_figures(ctx: MeterContext, family: str, rows: list[Row],
                   registry: Mapping[str, SectionBuilder] = SECTIONS) -> list[SectionItem]:
    builder = registry.get(family)
    return builder(ctx, rows) if builder is not None else []


#: Sections of the whole run after the coverage statement: each template (reports/templates/)
#: with the builder of the values it shows, from the run's events (the page passes them by
#: name). A new run-level section registers here and brings its own template.
RUN_SECTIONS: dict[str, Callable[[Sequence[Event]], dict[str, Any]]] = {
    "benchtime.html": lambda events: {"bench_time": bench_time(events)},
}
