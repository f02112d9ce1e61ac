"""The figures of a family in a meter's section, from a registry: family -> section builder.

A builder gets the meter's context and the family's rows and returns HTML fragments (figures)
shown above the family's table of points. A new family gets its figures by registering a
builder here (`SECTIONS[family] = builder`); the page template is not edited. A family
without a builder shows its table alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from reports import plots
from reports.analysis import CURVE_FAMILIES, Row, curve_groups, frame_of, is_curve_row
from reports.markup import e, slug
from reports.numbers import is_number

HALF_WIDTH_PT = 300.0
_SVG_WIDTH = re.compile(r'<svg[^>]*?\swidth="([0-9.]+)pt"')


def figure(svg: str, fig_id: str, caption: str) -> str:
    # The figure is as wide as its plot, so that the caption wraps under it and plots
    # of a group sit side by side on a wide screen.
    m = _SVG_WIDTH.search(svg)
    width = f' style="width: {m.group(1)}pt"' if m else ""
    # Plots of one axes are narrow enough to print two abreast on A4 (slightly scaled).
    half = " half" if m and float(m.group(1)) <= HALF_WIDTH_PT else ""
    return (f'<figure class="plot{half}" id="{e(fig_id)}"{width}>{svg}'
            f"<figcaption>{e(caption)}</figcaption></figure>")


def plots_div(figures: list[str]) -> str:
    return f'<div class="plots">{"".join(figures)}</div>' if figures else ""


def curve_figures(meas: pd.DataFrame, rows: list[Row], *, series: str | None, id_base: str,
                  caption_base: str) -> list[str]:
    """The error curves of the curve rows `rows` (plain rows of `meas`)."""
    out = []
    for (quantity, direction, pf), group in curve_groups(rows).items():
        sub = frame_of(meas, group)
        fig_id = f"{id_base}-curve-{slug(quantity)}-{slug(direction or 'any')}-pf-{slug(pf)}"
        title = f"{quantity}, {direction or 'any direction'}, PF {pf}"
        svg = plots.curve_svg(sub, series=series, title=title, prefix=fig_id)
        out.append(figure(svg, fig_id, f"{caption_base}: {title}. Dashed: limits; bars: "
                                       "expanded uncertainty (k = 2); red crosses: failed."))
    return out


@dataclass
class MeterContext:
    """What a section builder knows of the meter whose section it fills."""

    position: int
    rows: list[Row]  # all the meter's rows
    plot_meas: pd.DataFrame  # the run's measurements in the plots' columns
    curves_shown: bool = False  # the curve families share one set of figures


SectionBuilder = Callable[[MeterContext, list[Row]], list[str]]


def curves(ctx: MeterContext, rows: list[Row]) -> list[str]:
    """All curve families of the meter together (single elements beside balanced), once."""
    curve_rows = [r for r in ctx.rows if is_curve_row(r)]
    if ctx.curves_shown or not curve_rows:
        return []
    ctx.curves_shown = True
    return [plots_div(curve_figures(ctx.plot_meas, curve_rows, series=None,
                                    id_base=f"plot-pos{ctx.position}",
                                    caption_base=f"Position {ctx.position}"))]


def demand(ctx: MeterContext, rows: list[Row]) -> list[str]:
    has = [r for r in rows if isinstance(r["raw"], Mapping)
           and is_number(r["raw"].get("meter")) and is_number(r["raw"].get("reference"))]
    if not has:
        return []
    fig_id = f"plot-pos{ctx.position}-demand"
    svg = plots.demand_svg(frame_of(ctx.plot_meas, has), title=f"Position {ctx.position}: "
                           "demand per window", prefix=fig_id)
    return [figure(svg, fig_id, f"Position {ctx.position}: meter demand (points) against "
                                "reference demand (bars) per window.")]


def clock(ctx: MeterContext, rows: list[Row]) -> list[str]:
    timed = [r for r in rows if not math.isnan(plots.elapsed_hours(r["point"]))]
    if not timed:
        return []
    fig_id = f"plot-pos{ctx.position}-clock"
    svg = plots.clock_svg(frame_of(ctx.plot_meas, timed), series=None,
                          title=f"Position {ctx.position}: clock error over time", prefix=fig_id)
    return [figure(svg, fig_id, f"Position {ctx.position}: clock error against elapsed time, "
                                "with limits.")]


SECTIONS: dict[str, SectionBuilder] = {
    **dict.fromkeys(CURVE_FAMILIES, curves),
    "demand": demand,
    "clock": clock,
}


def family_figures(ctx: MeterContext, family: str, rows: list[Row],
                   registry: Mapping[str, SectionBuilder] = SECTIONS) -> list[str]:
    builder = registry.get(family)
    return builder(ctx, rows) if builder is not None else []
