import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from reports import svgplot as sp

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    return root


def texts(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{NS}text"))


def x_tick_labels(root: ET.Element, frame_bottom: float) -> dict[str, float]:
    """Text below the axes, centred on its tick: label -> x."""
    return {t.text: float(t.get("x")) for t in texts(root)
            if t.get("text-anchor") == "middle" and float(t.get("y")) > frame_bottom
            and t.text and re.fullmatch(r"[\d.e+\u2212-]+", t.text)}


def frames(root: ET.Element) -> list[tuple[float, float, float, float]]:
    """(left, top, right, bottom) of each axes frame (the black outline)."""
    out = []
    for r in root.iter(f"{NS}rect"):
        if "stroke:#000000" in (r.get("style") or ""):
            x, y, w, h = (float(r.get(k)) for k in ("x", "y", "width", "height"))
            out.append((x, y, x + w, y + h))
    return out


def clipped_paths(root: ET.Element) -> Iterator[ET.Element]:
    """The paths drawn inside clipped axes groups (the data, not the frame or the ticks)."""
    for g in root.iter(f"{NS}g"):
        if g.get("clip-path"):
            yield from g.iter(f"{NS}path")


def dot_centres(root: ET.Element) -> list[tuple[float, float]]:
    """Centres of the 'o' markers inside clipped axes groups: each a subpath
    "M x-r y a r r 0 1 0 2r 0 a r r 0 1 0 -2r 0 Z" of a filled path."""
    return [(float(x) + float(r), float(y))
            for path in clipped_paths(root)
            for x, y, r in re.findall(r"M(-?[\d.]+) (-?[\d.]+)a([\d.]+) \3 0 1 0 ",
                                      path.get("d") or "")]


def cross_centres(root: ET.Element, colour: str) -> list[tuple[float, float]]:
    """Centres of the 'x' markers drawn in `colour` inside a clipped axes group."""
    out = []
    for path in clipped_paths(root):
        if f"stroke:{colour}" not in (path.get("style") or ""):
            continue
        nums = [float(v) for v in re.findall(r"-?[\d.]+", path.get("d"))]
        for i in range(0, len(nums), 8):  # M a b L c d M e f L g h per cross
            out.append(((nums[i] + nums[i + 2]) / 2, (nums[i + 1] + nums[i + 3]) / 2))
    return out


def curve_figure(**kwargs) -> sp.Figure:
    fig = sp.Figure(width=280, axes_height=100, title=kwargs.pop("title", "Curve"),
                    id_prefix=kwargs.pop("id_prefix", "sfig"))
    ax = fig.add(sp.Axes(xscale="log", title="balanced", xlabel="current / In",
                         ylabel="error / %", **kwargs))
    edges = [0.008, 0.05, 0.1, 1.25]
    ax.add(sp.StepBand(edges, [-1, -0.5, -0.5], [1, 0.5, 0.5]))
    ax.add(sp.Stairs([1, 0.5, 0.5], edges, label="limit"))
    ax.add(sp.HLine(0.0))
    ax.add(sp.Line([0.01, 0.05, 0.1, 1.0], [1.3, 0.2, 0.1, 0.05], yerr=[0.1] * 4, marker="o",
                   label="pos 1"))
    ax.add(sp.Line([0.01], [1.3], colour="#c62828", width=0, marker="x", marker_size=8,
                   label="fail"))
    return fig


def test_svg_is_xml_with_size_in_points_and_a_matching_view_box():
    root = parse(sp.render(curve_figure()))
    width, height = root.get("width"), root.get("height")
    assert width.endswith("pt") and height.endswith("pt")
    assert root.get("viewBox") == f"0 0 {width[:-2]} {height[:-2]}"
    assert float(width[:-2]) == 280
    assert "DejaVu Sans" in root.get("font-family")


def test_log_axis_ticks_are_1_2_5_values_inside_the_range():
    fig = curve_figure()
    lay = sp.layout(fig)
    sx, _ = lay.scales[0]
    root = parse(sp.render(fig))
    (_, _, _, bottom), = frames(root)
    labels = x_tick_labels(root, bottom)
    assert {"0.01", "0.1", "1"} <= set(labels)
    for text, x in labels.items():
        v = float(text)
        assert sx.lo <= v <= sx.hi
        mantissa = v / 10 ** math.floor(math.log10(v) + 1e-9)
        assert round(mantissa, 6) in (1, 2, 5), text
        assert x == pytest.approx(sx(v), abs=0.01)  # and sits where the scale puts it


def test_log_ticks_and_labels():
    assert sp.log_ticks(0.008, 1.5) == [(0.01, "0.01"), (0.02, "0.02"), (0.05, "0.05"),
                                        (0.1, "0.1"), (0.2, "0.2"), (0.5, "0.5"), (1.0, "1")]
    assert [s for _, s in sp.log_ticks(1, 1e3, subs=(1,))] == ["1", "10", "100", "1000"]


def test_crowded_log_labels_are_thinned_not_overlapping():
    scale = sp.Scale(True, 1e-3, 1e3, 0, 120)
    marks, labelled = sp.x_ticks(scale)
    assert len(marks) == 19  # tick marks stay at every 1-2-5 value
    assert 2 <= len(labelled) < len(marks)
    assert not sp._overlap(scale, labelled, sp.FONT_SIZE)


def test_linear_ticks_step_1_2_5_and_read_well():
    assert sp.nice_step(2.2, 5) == 0.5
    assert sp.nice_step(47, 6) == 10
    assert sp.nice_step(0.3, 2) == 0.2
    assert [s for _, s in sp.linear_ticks(-1.1, 1.1, 0.5)] == [
        "\u22121.0", "\u22120.5", "0.0", "0.5", "1.0"]
    assert [s for _, s in sp.linear_ticks(4, 52, 10)] == ["10", "20", "30", "40", "50"]


def test_scale_maps_data_to_points():
    lin = sp.Scale(False, -1.0, 1.0, 100.0, 0.0)  # y: up is smaller
    assert lin(-1.0) == 100 and lin(1.0) == 0 and lin(0.5) == 25
    log = sp.Scale(True, 0.01, 1.0, 0.0, 200.0)
    assert log(0.1) == pytest.approx(100) and log(1.0) == pytest.approx(200)
    assert math.isnan(log(0.0)) and math.isnan(lin(math.nan)) and math.isnan(lin(None))


def test_failed_point_cross_is_drawn_at_its_data_position():
    fig = curve_figure(xlim=(0.005, 2.0), ylim=(-2.0, 2.0))
    lay = sp.layout(fig)
    root = parse(sp.render(fig))
    (left, top, right, bottom), = frames(root)
    # The scale, computed here from the frame and the limits alone.
    x = left + (math.log10(0.01) - math.log10(0.005)) / math.log10(2.0 / 0.005) * (right - left)
    y = bottom - (1.3 + 2.0) / 4.0 * (bottom - top)
    sx, sy = lay.scales[0]
    assert (sx(0.01), sy(1.3)) == (pytest.approx(x, abs=0.02), pytest.approx(y, abs=0.02))
    (cx, cy), = cross_centres(root, "#c62828")
    assert cx == pytest.approx(x, abs=0.02) and cy == pytest.approx(y, abs=0.02)


def test_non_finite_values_are_skipped_and_break_the_line():
    nan, inf = math.nan, math.inf
    fig = sp.Figure(width=300, axes_height=100, id_prefix="sq")
    ax = fig.add(sp.Axes())
    ax.add(sp.Line([1, 2, 3, 4, 5, inf, 7], [1, 2, nan, 4, 5, 6, None], marker="o",
                   yerr=[0.1, nan, 0.1, inf, 0.1, 0.1, 0.1]))
    ax.add(sp.Stairs([1, nan, 2], [0, 1, 2, 3]))
    ax.add(sp.StepBand([0, 1, 2, 3], [0, nan, 0], [1, 1, inf]))
    ax.add(sp.Bars([1, 2], [nan, 3]))
    ax.add(sp.HLine(nan))
    svg = sp.render(fig)
    root = parse(svg)
    assert not re.search(r"nan|inf", svg, re.I)
    assert len(dot_centres(root)) == 4  # x = 1, 2, 4, 5
    d = [p.get("d") for p in root.iter(f"{NS}path") if "stroke-linejoin" in p.get("style")]
    assert len(d) == 1 and d[0].count("M") == 2 and d[0].count("L") == 2  # 1-2, 4-5


def test_ids_are_prefixed_unique_and_resolve_within_their_svg():
    svgs = {}
    for prefix in ("sa1", "sb2"):
        fig = curve_figure(id_prefix=prefix)
        fig.add(sp.Axes(xscale="log")).add(sp.Line([0.1, 1], [0, 1]))
        svgs[prefix] = sp.render(fig)
    all_ids = []
    for prefix, svg in svgs.items():
        ids = [e.get("id") for e in parse(svg).iter() if e.get("id")]
        assert ids and all(i.startswith(f"{prefix}-") for i in ids)
        refs = re.findall(r"url\(#([^)]+)\)|href=\"#([^\"]+)\"", svg)
        assert refs and {a or b for a, b in refs} <= set(ids)
        all_ids += ids
    assert len(all_ids) == len(set(all_ids))


def test_text_is_escaped():
    fig = curve_figure(title='I < 0.05 In & "PF" 1 \x01')
    svg = sp.render(fig)
    root = parse(svg)
    assert any(t.text == 'I < 0.05 In & "PF" 1 ' for t in texts(root))


def test_output_is_deterministic():
    assert sp.render(curve_figure()) == sp.render(curve_figure())
    assert re.search(r"\d\.\d{3}", sp.render(curve_figure())) is None  # 0.01 pt at most


def test_legend_has_one_entry_per_label_in_rows_between_title_and_axes():
    fig = curve_figure()
    fig.add(sp.Axes(xscale="log")).add(sp.Line([0.1, 1], [0, 1], label="pos 1"))
    assert [label for label, _ in sp.legend_entries(fig)] == ["limit", "pos 1", "fail"]
    root = parse(sp.render(fig))
    by_text = {t.text: float(t.get("y")) for t in texts(root)}
    top = min(t for _, t, _, _ in frames(root))
    for label in ("limit", "pos 1", "fail"):
        assert by_text["Curve"] < by_text[label] < top - 10  # above the axes title row


def test_many_legend_entries_wrap_into_more_rows_and_a_taller_figure():
    def figure(n: int) -> sp.Figure:
        fig = sp.Figure(width=280, axes_height=100, title="t")
        ax = fig.add(sp.Axes())
        for i in range(n):
            ax.add(sp.Line([0, 1], [i, i], label=f"pos {i}"))
        return fig

    one, many = sp.layout(figure(2)), sp.layout(figure(20))
    assert one.legend.rows == 1 and many.legend.rows > 2
    assert many.height == pytest.approx(one.height + (many.legend.rows - 1) * sp.LEGEND_ROW)


def test_shared_y_axes_have_one_range_and_labels_only_on_the_first():
    fig = sp.Figure(width=500, axes_height=100, share_y=True)
    fig.add(sp.Axes(ylabel="error / %")).add(sp.Line([0, 1], [0, 1]))
    fig.add(sp.Axes()).add(sp.Line([0, 1], [-3, 0]))
    lay = sp.layout(fig)
    (_, y0), (_, y1) = lay.scales
    assert (y0.lo, y0.hi) == (y1.lo, y1.hi) and y0.lo < -3 and y0.hi > 1
    root = parse(sp.render(fig))
    end_labels = [t for t in texts(root) if t.get("text-anchor") == "end"]
    assert end_labels and all(float(t.get("x")) < lay.scales[0][0].a for t in end_labels)


def test_bars_start_at_zero_and_fixed_ticks_label_categories():
    fig = sp.Figure(width=300, axes_height=100)
    ax = fig.add(sp.Axes(xticks=[(0, "w0"), (1, "w1")]))
    ax.add(sp.Bars([0, 1], [3.0, 1.5], width=0.6, colour="#90caf9"))
    lay = sp.layout(fig)
    _, sy = lay.scales[0]
    assert sy.lo == 0
    root = parse(sp.render(fig))
    bars = [g for g in root.iter(f"{NS}g") if "fill:#90caf9" in (g.get("style") or "")]
    rects = [r for g in bars for r in g.iter(f"{NS}rect")]
    assert len(rects) == 2
    for r, h in zip(rects, (3.0, 1.5), strict=True):
        assert float(r.get("y")) + float(r.get("height")) == pytest.approx(sy(0), abs=0.01)
        assert float(r.get("y")) == pytest.approx(sy(h), abs=0.01)
    assert {t.text for t in texts(root)} >= {"w0", "w1"}


def test_an_empty_axes_still_renders_and_a_figure_needs_one():
    parse(sp.render(sp.Figure(width=200, axes_height=80, axes=[sp.Axes(xscale="log")])))
    with pytest.raises(ValueError):
        sp.render(sp.Figure(width=200, axes_height=80))


def test_rendering_is_fast():
    import time

    fig = curve_figure()
    t0 = time.perf_counter()
    for _ in range(50):
        sp.render(fig)
    assert (time.perf_counter() - t0) / 50 < 0.02  # about 0.3 ms here; generous for CI


def test_dot_markers_are_circles_at_their_data_positions_in_one_path():
    # Two dots of marker_size 3 at (2, 1) and (4, -1) on axes 0..5 by -2..2: each a subpath of
    # two half-circle arcs of radius 1.5 from its left edge, both in one filled path.
    fig = sp.Figure(width=300, axes_height=100, id_prefix="sd")
    ax = fig.add(sp.Axes(xlim=(0.0, 5.0), ylim=(-2.0, 2.0)))
    ax.add(sp.Line([2.0, 4.0], [1.0, -1.0], marker="o", width=0, colour="#1f77b4"))
    root = parse(sp.render(fig))
    (left, top, right, bottom), = frames(root)
    expected = [(left + 2 / 5 * (right - left), bottom - 3 / 4 * (bottom - top)),
                (left + 4 / 5 * (right - left), bottom - 1 / 4 * (bottom - top))]
    got = dot_centres(root)
    assert [(pytest.approx(x, abs=0.02), pytest.approx(y, abs=0.02)) for x, y in expected] == got
    (dots,) = [p for p in root.iter(f"{NS}path") if "fill:#1f77b4" in (p.get("style") or "")]
    assert dots.get("d").count("a1.5 1.5 0 1 0 3 0a1.5 1.5 0 1 0 -3 0Z") == 2
    assert not list(root.iter(f"{NS}circle"))
