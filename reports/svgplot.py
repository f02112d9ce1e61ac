"""A small SVG plotting kit: axes side by side, linear or log10 x, lines, error bars, steps,
bands, bars; the whole figure as one <svg> string (no dependencies, about 1 ms a plot).

    fig = Figure(width=274, axes_height=102, title="Error curve", id_prefix="s1a2b3c4d")
    ax = fig.add(Axes(xscale="log", title="balanced", xlabel="current / In"))
    ax.add(Line([0.1, 1.0], [0.2, 0.1], yerr=[0.05, 0.05], marker="o", label="pos 1"))
    svg = render(fig)

Units are points (1/72 in): the <svg> is `width` pt wide and its user unit is the point.
Layout: the figure title top-left, the legend in rows below it (above the axes, never over
the title), then the axes in a row, sharing y when asked. Axis limits follow the data with
5 % margins; linear ticks step 1-2-5 x 10^k, log ticks sit at 1, 2, 5 x 10^k (labels thinned
when they would overlap). Values that are not finite (or not > 0 on a log axis) are skipped
point by point: a line breaks there. Text stays <text>; its width is estimated from
DejaVu Sans advance widths for the layout. Output is deterministic (coordinates rounded to
0.01 pt) and every id in it starts with the figure's `id_prefix`, so that many SVGs can share
one HTML page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

FONT_FAMILY = "DejaVu Sans, Arial, Helvetica, sans-serif"
FONT_SIZE = 8.0
TITLE_SIZE = 9.0  # figure title and axes titles
LEGEND_SIZE = 6.0
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")

# Layout, in points.
PAD = 4.3  # figure edge to title
TITLE_ROW = 18.7
LEGEND_ROW = 12.2
LEGEND_HANDLE = 14.0
AXES_TITLE_ROW = 17.3
NO_TITLE_GAP = 7.2
TICK = 3.5
TICK_PAD = 3.5
LABEL_GAP = 4.0
RIGHT = 10.8
SHARED_GAP = 16.0  # between axes that share y (no tick labels in between)
MARGIN = 0.05  # of the data span, on each side
ASCENT = 0.76  # of the font size: baseline below the top of the capitals
GRID_STYLE = "stroke:#b0b0b0;stroke-opacity:0.3;stroke-width:0.8"

# Advance widths of DejaVu Sans in em, for layout only (others count as 0.62 em).
_ADVANCE = dict.fromkeys("0123456789", 0.636)
_ADVANCE.update({" ": 0.318, ".": 0.318, ",": 0.318, ":": 0.337, "-": 0.361, "\u2212": 0.838,
                 "+": 0.838, "/": 0.337, "%": 0.95, "(": 0.39, ")": 0.39, "=": 0.838,
                 "i": 0.278, "j": 0.278, "l": 0.278, "f": 0.352, "t": 0.392, "r": 0.411,
                 "I": 0.295, "m": 0.974, "w": 0.818, "M": 0.863, "W": 0.989})


def text_width(text: str, size: float) -> float:
    return size * sum(_ADVANCE.get(c, 0.62) for c in text)


# -- artists -----------------------------------------------------------------------------


@dataclass
class Line:
    """A polyline through (x, y), optionally with markers and symmetric error bars."""

    x: Sequence[float]
    y: Sequence[float]
    colour: str = PALETTE[0]
    width: float = 1.0  # 0: markers only
    dashed: bool = False
    opacity: float = 1.0
    marker: str = ""  # "", "o" (filled circle) or "x" (cross)
    marker_size: float = 3.0  # diameter of 'o', width of 'x'
    marker_width: float = 1.0  # stroke of 'x'
    yerr: Sequence[float] | None = None
    capsize: float = 2.0  # half-width of an error bar's caps
    label: str | None = None


@dataclass
class Stairs:
    """A step line: values[i] holds from edges[i] to edges[i + 1]."""

    values: Sequence[float]
    edges: Sequence[float]
    colour: str = "#555555"
    width: float = 0.9
    dashed: bool = True
    label: str | None = None


@dataclass
class StepBand:
    """A filled band between two step curves on the same edges."""

    edges: Sequence[float]
    low: Sequence[float]
    high: Sequence[float]
    colour: str = "#4caf50"
    opacity: float = 0.08
    label: str | None = None


@dataclass
class Bars:
    """Vertical bars from 0 to each height, `width` in x data units (linear x)."""

    x: Sequence[float]
    heights: Sequence[float]
    width: float = 0.6
    colour: str = PALETTE[0]
    label: str | None = None


@dataclass
class HLine:
    """A horizontal line across the axes."""

    y: float
    colour: str = "#000000"
    width: float = 0.5
    label: str | None = None


Artist = Line | Stairs | StepBand | Bars | HLine


@dataclass
class Axes:
    xscale: str = "linear"  # or "log" (base 10)
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    xlim: tuple[float, float] | None = None  # data units; None: the data and margins
    ylim: tuple[float, float] | None = None
    xticks: list[tuple[float, str]] | None = None  # fixed ticks (e.g. categories)
    artists: list[Artist] = field(default_factory=list)

    def add(self, artist: Artist) -> Artist:
        self.artists.append(artist)
        return artist


@dataclass
class Figure:
    width: float  # pt
    axes_height: float  # pt; the figure's height follows from it and from the heading rows
    title: str = ""
    id_prefix: str = "f"
    share_y: bool = False
    axes: list[Axes] = field(default_factory=list)

    def add(self, axes: Axes) -> Axes:
        self.axes.append(axes)
        return axes


# -- numbers and text --------------------------------------------------------------------


def fmt(v: float) -> str:
    """A coordinate to 0.01, without trailing zeros."""
    # Called for every coordinate of every plot: two rstrips are the cheapest way.
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def escape(text: str) -> str:
    # Control characters are not allowed in XML at all: drop them.
    text = "".join(c for c in text if c >= " " or c in "\t\n\r")
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _finite(v: object) -> bool:
    try:
        return math.isfinite(v)  # type: ignore[arg-type]
    except TypeError:  # None, text
        return False


# -- scales and ticks --------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """Data to points: [lo, hi] (data units) onto [a, b] (points)."""

    log: bool
    lo: float
    hi: float
    a: float
    b: float
    _t0: float = field(init=False, repr=False)
    _k: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        t0, t1 = self.t(self.lo), self.t(self.hi)
        # Frozen: the transform's constants are set once, here.
        object.__setattr__(self, "_t0", t0)
        object.__setattr__(self, "_k", (self.b - self.a) / (t1 - t0))

    def t(self, v: float) -> float:
        """The transformed value (log10 on a log scale), NaN where it has none."""
        if not _finite(v):
            return math.nan
        if self.log:
            return math.log10(v) if v > 0 else math.nan
        return float(v)

    def __call__(self, v: float) -> float:
        return self.a + (self.t(v) - self._t0) * self._k


def nice_step(span: float, intervals: int) -> float:
    """The smallest step of 1, 2 or 5 x 10^k that cuts `span` into at most `intervals`."""
    raw = span / max(1, intervals)
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0):
        if m * mag >= raw * (1 - 1e-9):
            return m * mag
    return 10.0 * mag


def linear_ticks(lo: float, hi: float, step: float) -> list[tuple[float, str]]:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    out = []
    for k in range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1):
        v = k * step
        text = f"{v:.{decimals}f}" if 1e-4 <= step < 1e6 else f"{v:g}"
        if text.lstrip("-").strip("0.") == "":
            text = text.lstrip("-")  # no "-0.0"
        out.append((v, text.replace("-", "\u2212")))
    return out


def log_ticks(lo: float, hi: float, subs: Iterable[int] = (1, 2, 5),
              every: int = 1) -> list[tuple[float, str]]:
    """Ticks at m x 10^k (m in subs) within [lo, hi]; with `every` > 1 only in every
    such decade (k divisible by it)."""
    out = []
    for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        if k % every:
            continue
        for m in subs:
            v = float(f"{m}e{k}")  # exact decimal, not m * 10.0**k
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                out.append((v, f"{v:g}"))
    return out


def _overlap(scale: Scale, ticks: list[tuple[float, str]], size: float) -> bool:
    """Whether horizontal tick labels would touch (3 pt apart at least)."""
    spans = sorted((scale(v) - text_width(s, size) / 2, scale(v) + text_width(s, size) / 2)
                   for v, s in ticks)
    return any(b[0] - a[1] < 3.0 for a, b in pairwise(spans))


def x_ticks(scale: Scale) -> tuple[list[float], list[tuple[float, str]]]:
    """(tick positions, labelled ticks) of an x axis, labels not overlapping."""
    if scale.log:
        marks = [v for v, _ in log_ticks(scale.lo, scale.hi)]
        choices = [((1, 2, 5), 1), ((1, 5), 1), ((1,), 1), ((1,), 2), ((1,), 5)]
        if len(marks) < 2:  # less than a factor 2.5: every integer multiple of 10^k
            marks = [v for v, _ in log_ticks(scale.lo, scale.hi, range(1, 10))]
            choices = [(range(1, 10), 1), ((1, 2, 5), 1), *choices[1:]]
        for subs, every in choices:
            labelled = log_ticks(scale.lo, scale.hi, subs, every)
            if not _overlap(scale, labelled, FONT_SIZE):
                break
        return marks, labelled
    length = abs(scale.b - scale.a)
    step = nice_step(scale.hi - scale.lo, max(2, int(length // 36)))
    ticks = linear_ticks(scale.lo, scale.hi, step)
    while len(ticks) > 2 and _overlap(scale, ticks, FONT_SIZE):
        step = nice_step(step * 1.01, 1)
        ticks = linear_ticks(scale.lo, scale.hi, step)
    return [v for v, _ in ticks], ticks


def y_ticks(lo: float, hi: float, length: float) -> list[tuple[float, str]]:
    return linear_ticks(lo, hi, nice_step(hi - lo, max(2, int(length // 16))))


# -- data limits -------------------------------------------------------------------------


def _x_values(artist: Artist) -> Iterable[float]:
    if isinstance(artist, Line):
        return artist.x
    if isinstance(artist, Stairs | StepBand):
        return artist.edges
    if isinstance(artist, Bars):
        w = artist.width / 2
        return [v + d for v in artist.x for d in (-w, w)]
    return ()


def _y_values(artist: Artist) -> Iterable[float]:
    if isinstance(artist, Line):
        if artist.yerr is None:
            return artist.y
        out = list(artist.y)
        for y, e in zip(artist.y, artist.yerr, strict=True):
            if _finite(y) and _finite(e):
                out += [y - abs(e), y + abs(e)]
        return out
    if isinstance(artist, Stairs):
        return artist.values
    if isinstance(artist, StepBand):
        return [*artist.low, *artist.high]
    if isinstance(artist, Bars):
        return [*artist.heights, 0.0]
    return (artist.y,)


def _padded(values: list[float], log: bool, sticky_zero: bool = False) -> tuple[float, float]:
    """Data limits with margins (in log space on a log axis); a single value gets room
    around it, no data at all gives a unit range. `sticky_zero`: bars start at the edge."""
    if log:
        values = [math.log10(v) for v in values if v > 0]
    if not values:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12 * max(1.0, abs(lo)):
        half = 0.5 if log else (abs(lo) * 0.1 or 1.0)
        lo, hi = lo - half, hi + half
    else:
        pad = (hi - lo) * MARGIN
        new_lo, new_hi = lo - pad, hi + pad
        if sticky_zero and not log:
            new_lo = 0.0 if lo == 0.0 else new_lo
            new_hi = 0.0 if hi == 0.0 else new_hi
        lo, hi = new_lo, new_hi
    return (10.0 ** lo, 10.0 ** hi) if log else (lo, hi)


def _usable(lim: tuple[float, float] | None, log: bool) -> bool:
    """Whether given limits can make a scale (else the data's limits are used)."""
    return (lim is not None and all(_finite(v) for v in lim) and lim[1] > lim[0]
            and (not log or lim[0] > 0))


def _data_xlim(ax: Axes) -> tuple[float, float]:
    log = ax.xscale == "log"
    if ax.xlim is not None and _usable(ax.xlim, log):
        return ax.xlim
    xs = [v for a in ax.artists for v in _x_values(a) if _finite(v)]
    return _padded(xs, log)


def _data_ylim(axes: list[Axes]) -> tuple[float, float]:
    fixed = [ax.ylim for ax in axes if ax.ylim is not None and _usable(ax.ylim, False)]
    if fixed:
        return fixed[0]
    ys = [v for ax in axes for a in ax.artists for v in _y_values(a) if _finite(v)]
    bars = any(isinstance(a, Bars) for ax in axes for a in ax.artists)
    return _padded(ys, False, sticky_zero=bars)


# -- drawing -----------------------------------------------------------------------------


def _dash(width: float) -> str:
    return f";stroke-dasharray:{fmt(3.7 * width)},{fmt(1.6 * width)}"


def _segments(xs: Iterable[float], ys: Iterable[float]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive finite points (already in points)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(xs, ys, strict=True):
        if math.isfinite(x) and math.isfinite(y):
            runs[-1].append((x, y))
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


def _polyline(runs: list[list[tuple[float, float]]]) -> str:
    return "".join("M" + "L".join(f"{fmt(x)} {fmt(y)}" for x, y in run) for run in runs)


def _cross(x: float, y: float, half: float) -> str:
    return (f"M{fmt(x - half)} {fmt(y - half)}L{fmt(x + half)} {fmt(y + half)}"
            f"M{fmt(x - half)} {fmt(y + half)}L{fmt(x + half)} {fmt(y - half)}")


def _markers(line: Line, pts: list[tuple[float, float]], scale: float = 1.0) -> str:
    if not pts or not line.marker:
        return ""
    size = line.marker_size * scale
    if line.marker == "x":
        d = "".join(_cross(x, y, size / 2) for x, y in pts)
        return (f'<path d="{d}" style="fill:none;stroke:{line.colour};'
                f'stroke-width:{fmt(line.marker_width * scale)};stroke-linecap:butt"/>')
    return (f'<path d="{_dots(pts, size / 2)}" style="fill:{line.colour};'
            f'stroke:{line.colour};stroke-width:0.5"/>')


def _dots(pts: list[tuple[float, float]], radius: float) -> str:
    """Filled circles as the subpaths of one path, each two half-circle arcs from its left
    edge: the picture of a <circle> per point (one colour, opaque, so overlaps look the same),
    but one element for the browser to lay out and print instead of one per point (a report of
    48 positions has some 13 000 markers)."""
    r, d = fmt(radius), fmt(2 * radius)
    return "".join(f"M{fmt(x - radius)} {fmt(y)}a{r} {r} 0 1 0 {d} 0a{r} {r} 0 1 0 -{d} 0Z"
                   for x, y in pts)


def _draw_line(line: Line, sx: Scale, sy: Scale) -> str:
    xs = [sx(v) for v in line.x]
    ys = [sy(v) for v in line.y]
    out = []
    if line.yerr is not None:
        c = line.capsize
        d = []
        for x, y, e in zip(xs, line.y, line.yerr, strict=True):
            if math.isfinite(x) and _finite(y) and _finite(e) and e != 0:
                y0, y1 = sy(y - abs(e)), sy(y + abs(e))
                d.append(f"M{fmt(x)} {fmt(y0)}V{fmt(y1)}")
                if c > 0:
                    d.append(f"M{fmt(x - c)} {fmt(y0)}H{fmt(x + c)}"
                             f"M{fmt(x - c)} {fmt(y1)}H{fmt(x + c)}")
        if d:
            out.append(f'<path d="{"".join(d)}" style="fill:none;stroke:{line.colour};'
                       f'stroke-width:{fmt(max(line.width, 0.8))}"/>')
    runs = _segments(xs, ys)
    if line.width > 0 and runs:
        dash = _dash(line.width) if line.dashed else ""
        out.append(f'<path d="{_polyline(runs)}" style="fill:none;stroke:{line.colour};'
                   f'stroke-width:{fmt(line.width)};stroke-linejoin:round{dash}"/>')
    out.append(_markers(line, [p for run in runs for p in run]))
    body = "".join(out)
    return f'<g style="opacity:{line.opacity}">{body}</g>' if line.opacity < 1 else body


def _draw_stairs(st: Stairs, sx: Scale, sy: Scale) -> str:
    edges = [sx(v) for v in st.edges]
    d = []
    joined = False  # whether the previous step ended where this one starts
    for i, v in enumerate(st.values):
        x0, x1, y = edges[i], edges[i + 1], sy(v)
        if not (math.isfinite(x0) and math.isfinite(x1) and math.isfinite(y)):
            joined = False
            continue
        d.append(f"V{fmt(y)}H{fmt(x1)}" if joined else f"M{fmt(x0)} {fmt(y)}H{fmt(x1)}")
        joined = True
    if not d:
        return ""
    dash = _dash(st.width) if st.dashed else ""
    return (f'<path d="{"".join(d)}" style="fill:none;stroke:{st.colour};'
            f'stroke-width:{fmt(st.width)}{dash}"/>')


def _draw_band(band: StepBand, sx: Scale, sy: Scale) -> str:
    edges = [sx(v) for v in band.edges]
    d = []
    for i, (lo, hi) in enumerate(zip(band.low, band.high, strict=True)):
        x0, x1, y0, y1 = edges[i], edges[i + 1], sy(lo), sy(hi)
        if all(math.isfinite(v) for v in (x0, x1, y0, y1)):
            d.append(f"M{fmt(x0)} {fmt(y0)}H{fmt(x1)}V{fmt(y1)}H{fmt(x0)}Z")
    if not d:
        return ""
    # One path: adjacent steps share edges without seams.
    return (f'<path d="{"".join(d)}" style="fill:{band.colour};fill-opacity:{band.opacity};'
            'stroke:none"/>')


def _draw_bars(bars: Bars, sx: Scale, sy: Scale) -> str:
    out = []
    base = sy(0.0)
    for x, h in zip(bars.x, bars.heights, strict=True):
        x0, x1, y = sx(x - bars.width / 2), sx(x + bars.width / 2), sy(h)
        if all(math.isfinite(v) for v in (x0, x1, y)):
            out.append(f'<rect x="{fmt(min(x0, x1))}" y="{fmt(min(y, base))}" '
                       f'width="{fmt(abs(x1 - x0))}" height="{fmt(abs(base - y))}"/>')
    return f'<g style="fill:{bars.colour};stroke:none">{"".join(out)}</g>' if out else ""


def _draw(artist: Artist, sx: Scale, sy: Scale) -> str:
    if isinstance(artist, Line):
        return _draw_line(artist, sx, sy)
    if isinstance(artist, Stairs):
        return _draw_stairs(artist, sx, sy)
    if isinstance(artist, StepBand):
        return _draw_band(artist, sx, sy)
    if isinstance(artist, Bars):
        return _draw_bars(artist, sx, sy)
    y = sy(artist.y)
    if not math.isfinite(y):
        return ""
    return (f'<path d="M{fmt(sx.a)} {fmt(y)}H{fmt(sx.b)}" style="fill:none;'
            f'stroke:{artist.colour};stroke-width:{fmt(artist.width)}"/>')


def _text(x: float, y: float, text: str, size: float, anchor: str = "start",
          rotate: bool = False) -> str:
    attrs = f'x="{fmt(x)}" y="{fmt(y)}"'
    if size != FONT_SIZE:
        attrs += f' font-size="{fmt(size)}"'
    if anchor != "start":
        attrs += f' text-anchor="{anchor}"'
    if rotate:
        attrs += f' transform="rotate(-90 {fmt(x)} {fmt(y)})"'
    return f"<text {attrs}>{escape(text)}</text>"


# -- legend ------------------------------------------------------------------------------


def legend_entries(fig: Figure) -> list[tuple[str, Artist]]:
    """(label, artist) of every labelled artist, first one per label, in drawing order."""
    seen: dict[str, Artist] = {}
    for ax in fig.axes:
        for a in ax.artists:
            if a.label and a.label not in seen:
                seen[a.label] = a
    return list(seen.items())


def _handle(artist: Artist, x: float, y: float) -> str:
    """The entry's sample: a short piece of the line, its marker, or a filled box."""
    x1 = x + LEGEND_HANDLE
    if isinstance(artist, StepBand | Bars):
        opacity = f";fill-opacity:{artist.opacity}" if isinstance(artist, StepBand) else ""
        return (f'<rect x="{fmt(x + 2)}" y="{fmt(y - 3)}" width="{fmt(LEGEND_HANDLE - 4)}" '
                f'height="6" style="fill:{artist.colour}{opacity};stroke:none"/>')
    if isinstance(artist, Stairs | HLine):
        dash = _dash(artist.width) if isinstance(artist, Stairs) and artist.dashed else ""
        return (f'<path d="M{fmt(x)} {fmt(y)}H{fmt(x1)}" style="fill:none;'
                f'stroke:{artist.colour};stroke-width:{fmt(artist.width)}{dash}"/>')
    out = []
    mid = x + LEGEND_HANDLE / 2
    if artist.yerr is not None:
        out.append(f'<path d="M{fmt(mid)} {fmt(y - 3)}V{fmt(y + 3)}M{fmt(mid - 1.6)} '
                   f'{fmt(y - 3)}H{fmt(mid + 1.6)}M{fmt(mid - 1.6)} {fmt(y + 3)}'
                   f'H{fmt(mid + 1.6)}" style="fill:none;stroke:{artist.colour};'
                   f'stroke-width:0.8"/>')
    if artist.width > 0:
        dash = _dash(artist.width) if artist.dashed else ""
        out.append(f'<path d="M{fmt(x)} {fmt(y)}H{fmt(x1)}" style="fill:none;'
                   f'stroke:{artist.colour};stroke-width:{fmt(artist.width)}{dash}"/>')
    out.append(_markers(artist, [(mid, y)], scale=0.8))
    body = "".join(out)
    return f'<g style="opacity:{artist.opacity}">{body}</g>' if artist.opacity < 1 else body


@dataclass(frozen=True)
class _LegendGrid:
    columns: int
    rows: int
    column_width: float


def _legend_grid(entries: list[tuple[str, Artist]], width: float) -> _LegendGrid:
    if not entries:
        return _LegendGrid(1, 0, 0.0)
    column = LEGEND_HANDLE + 4 + max(text_width(s, LEGEND_SIZE) for s, _ in entries) + 10
    columns = max(1, min(len(entries), int((width - 2 * PAD - 6) // column)))
    return _LegendGrid(columns, math.ceil(len(entries) / columns), column)


# -- the figure --------------------------------------------------------------------------


def _y_label_room(ax: Axes, labels: list[tuple[float, str]], show_ticks: bool) -> float:
    """Room left of an axes for its y tick labels and y label."""
    room = TICK
    if show_ticks and labels:
        room += TICK_PAD + max(text_width(s, FONT_SIZE) for _, s in labels)
    if ax.ylabel:
        room += LABEL_GAP + FONT_SIZE
    return room


@dataclass(frozen=True)
class Layout:
    """Where everything of a figure goes, in points."""

    height: float
    scales: list[tuple[Scale, Scale]]  # (x, y) of each axes
    yticks: list[list[tuple[float, str]]]
    ylabel_rooms: list[float]
    entries: list[tuple[str, Artist]]
    legend: _LegendGrid
    legend_top: float


def layout(fig: Figure) -> Layout:
    """The figure's size, its axes' scales (data to points) and its legend grid."""
    n = len(fig.axes)
    if n == 0:
        raise ValueError("a figure needs at least one axes")
    entries = legend_entries(fig)
    grid = _legend_grid(entries, fig.width)
    legend_top = PAD + (TITLE_ROW if fig.title else 0.0)
    top = (legend_top + grid.rows * LEGEND_ROW
           + (AXES_TITLE_ROW if any(ax.title for ax in fig.axes) else NO_TITLE_GAP))
    has_xlabel = any(ax.xlabel for ax in fig.axes)
    bottom = TICK + TICK_PAD + FONT_SIZE + (LABEL_GAP + FONT_SIZE if has_xlabel else 0) + PAD
    ylims = ([_data_ylim(fig.axes)] * n if fig.share_y
             else [_data_ylim([ax]) for ax in fig.axes])
    yticks = [y_ticks(lo, hi, fig.axes_height) for lo, hi in ylims]
    rooms = [_y_label_room(ax, yticks[i], i == 0 or not fig.share_y)
             for i, ax in enumerate(fig.axes)]
    # Between axes: a small gap when they share y, else room for the next one's labels.
    gaps = [0.0] + [SHARED_GAP if fig.share_y else rooms[i] + 2 * LABEL_GAP
                    for i in range(1, n)]
    left = PAD + rooms[0]
    axes_width = (fig.width - left - RIGHT - sum(gaps)) / n
    if axes_width < 10:
        raise ValueError(f"a figure {fig.width} pt wide has no room for {n} axes")
    scales = []
    for i, ax in enumerate(fig.axes):
        x = left + sum(gaps[: i + 1]) + i * axes_width
        scales.append((Scale(ax.xscale == "log", *_data_xlim(ax), x, x + axes_width),
                       Scale(False, *ylims[i], top + fig.axes_height, top)))
    return Layout(top + fig.axes_height + bottom, scales, yticks, rooms, entries, grid,
                  legend_top)


def render(fig: Figure) -> str:
    """The figure as one <svg> element."""
    lay = layout(fig)
    w, h = fmt(fig.width), fmt(lay.height)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}pt" height="{h}pt" '
             f'viewBox="0 0 {w} {h}" font-family="{FONT_FAMILY}" '
             f'font-size="{fmt(FONT_SIZE)}">', "<defs>"]
    for i, (sx, sy) in enumerate(lay.scales):
        parts.append(f'<clipPath id="{fig.id_prefix}-c{i}"><rect x="{fmt(sx.a)}" '
                     f'y="{fmt(sy.b)}" width="{fmt(sx.b - sx.a)}" '
                     f'height="{fmt(sy.a - sy.b)}"/></clipPath>')
    parts.append("</defs>")
    for i, (ax, (sx, sy)) in enumerate(zip(fig.axes, lay.scales, strict=True)):
        parts.append(_axes(ax, sx, sy, lay.yticks[i], f"{fig.id_prefix}-c{i}",
                           show_ylabels=i == 0 or not fig.share_y,
                           ylabel_room=lay.ylabel_rooms[i]))
    if fig.title:
        parts.append(_text(PAD + 2.9, PAD + ASCENT * TITLE_SIZE, fig.title, TITLE_SIZE))
    for k, (label, artist) in enumerate(lay.entries):
        row, col = divmod(k, lay.legend.columns)
        ex = PAD + 2.9 + col * lay.legend.column_width
        ey = lay.legend_top + (row + 0.5) * LEGEND_ROW
        parts.append(_handle(artist, ex, ey))
        parts.append(_text(ex + LEGEND_HANDLE + 4, ey + 0.36 * LEGEND_SIZE, label,
                           LEGEND_SIZE))
    parts.append("</svg>")
    return "".join(parts)


def _axes(ax: Axes, sx: Scale, sy: Scale, yticks: list[tuple[float, str]], clip: str, *,
          show_ylabels: bool, ylabel_room: float) -> str:
    if ax.xticks is not None:
        xmarks, xlabels = [v for v, _ in ax.xticks], ax.xticks
    else:
        xmarks, xlabels = x_ticks(sx)
    xmarks = [v for v in xmarks if math.isfinite(sx(v))]
    left, right, bottom, top = sx.a, sx.b, sy.a, sy.b
    out = []
    grid = [f"M{fmt(sx(v))} {fmt(bottom)}V{fmt(top)}" for v in xmarks]
    grid += [f"M{fmt(left)} {fmt(sy(v))}H{fmt(right)}" for v, _ in yticks]
    if grid:
        out.append(f'<path d="{"".join(grid)}" style="fill:none;{GRID_STYLE}"/>')
    out.append(f'<g clip-path="url(#{clip})">')
    out.extend(_draw(a, sx, sy) for a in ax.artists)
    out.append("</g>")
    out.append(f'<rect x="{fmt(left)}" y="{fmt(top)}" width="{fmt(right - left)}" '
               f'height="{fmt(bottom - top)}" style="fill:none;stroke:#000000;'
               'stroke-width:0.8"/>')
    ticks = [f"M{fmt(sx(v))} {fmt(bottom)}v{TICK}" for v in xmarks]
    ticks += [f"M{fmt(left)} {fmt(sy(v))}h-{TICK}" for v, _ in yticks]
    out.append(f'<path d="{"".join(ticks)}" style="fill:none;stroke:#000000;'
               'stroke-width:0.8"/>')
    label_top = bottom + TICK + TICK_PAD
    out.extend(_text(sx(v), label_top + ASCENT * FONT_SIZE, s, FONT_SIZE, "middle")
               for v, s in xlabels if math.isfinite(sx(v)))
    if show_ylabels:
        out.extend(_text(left - TICK - TICK_PAD, sy(v) + 0.36 * FONT_SIZE, s, FONT_SIZE, "end")
                   for v, s in yticks)
    if ax.xlabel:
        y = label_top + FONT_SIZE + LABEL_GAP + ASCENT * FONT_SIZE
        out.append(_text((left + right) / 2, y, ax.xlabel, FONT_SIZE, "middle"))
    if ax.ylabel:
        x = left - ylabel_room + ASCENT * FONT_SIZE  # rotated: glyphs left of x
        out.append(_text(x, (top + bottom) / 2, ax.ylabel, FONT_SIZE, "middle", rotate=True))
    if ax.title:
        out.append(_text((left + right) / 2, top - 6.0, ax.title, TITLE_SIZE, "middle"))
    return "".join(out)
