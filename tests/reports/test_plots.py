import dataclasses
import hashlib
import math
import re
from operator import attrgetter

import pytest

from reports import plots
from reports import svgplot as sp
from reports.records import StoredMeasurement
from tests.reports.test_svgplot import NS, cross_centres, dot_centres, frames, parse, texts

LOADS = (0.01, 0.05, 0.1, 0.5, 1.0)
BY_POSITION = attrgetter("position")


def row(**kw) -> StoredMeasurement:
    fields = {"run_id": "r", "test_id": "t", "family": "accuracy", "position": 1,
              "quantity": "q", "value": None, "unit": "%", "verdict": "pass"}
    return StoredMeasurement(**{**fields, **kw})


def curve_rows(positions: int = 1, elements: tuple[str, ...] = ("balanced",),
               fails: tuple[tuple[int, str, float], ...] = ()) -> list[StoredMeasurement]:
    """Curve rows, one value per point."""
    rows = []
    for pos in range(1, positions + 1):
        for element in elements:
            for load in LOADS:
                lim = 1.0 if load < 0.05 else 0.5
                bad = (pos, element, load) in fails
                rows.append(row(position=pos, point={"element": element, "load": load},
                                value=1.37 if bad else 0.02 * pos, unit="%",
                                expanded_uncertainty=0.05, limit_low=-lim, limit_high=lim,
                                verdict="fail" if bad else "pass"))
    return rows


def legend(fig: sp.Figure) -> list[str]:
    return [label for label, _ in sp.legend_entries(fig)]


def test_curve_is_an_svg_sized_in_points_with_one_axes_per_element_balanced_first():
    rows = curve_rows(elements=("L2", "balanced", "L1"))
    svg = plots.curve_svg(rows, series=None, title="active energy error", prefix="plot-x")
    root = parse(svg)
    assert root.get("width") == "705.6pt"  # (3 in per axes + 0.8 in) x 72 pt
    assert re.search(r'<svg[^>]*?\swidth="([0-9.]+)pt"', svg)  # as html.py reads it
    assert len(frames(root)) == 3
    titles = [t.text for t in texts(root) if t.get("font-size") == "9"]
    assert titles[:3] == ["balanced", "L1", "L2"] and titles[3] == "active energy error"
    labels = {t.text for t in texts(root)}
    assert {"current / In", "error / %"} <= labels


def test_failed_point_is_a_red_cross_where_the_scale_puts_it():
    rows = curve_rows(fails=((1, "balanced", 0.01),))
    fig = plots.curve_figure(rows, series=None, title="t", prefix="p")
    sx, sy = sp.layout(fig).scales[0]
    svg = sp.render(fig)
    assert svg == plots.curve_svg(rows, series=None, title="t", prefix="p")
    (x, y), = cross_centres(parse(svg), plots.FAIL_COLOUR)
    assert (x, y) == (pytest.approx(sx(0.01), abs=0.02), pytest.approx(sy(1.37), abs=0.02))
    assert legend(fig) == ["limit", "measured", "fail"]


def test_no_failed_point_no_red():
    svg = plots.curve_svg(curve_rows(), series=None, title="t", prefix="p")
    assert plots.FAIL_COLOUR not in svg
    assert "fail" not in {t.text for t in texts(parse(svg))}


def test_log_axis_shows_labelled_1_2_5_ticks_within_the_data_and_limits():
    fig = plots.curve_figure(curve_rows(), series=None, title="t", prefix="p")
    sx, _ = sp.layout(fig).scales[0]
    assert sx.log and sx.lo < 0.01 / 1.25 and sx.hi > 1.25
    _, labelled = sp.x_ticks(sx)
    values = [v for v, _ in labelled]
    assert {0.01, 0.1, 1.0} <= set(values)
    assert all(round(v / 10 ** math.floor(math.log10(v) + 1e-9), 6) in (1, 2, 5)
               for v in values)


def test_a_single_current_still_gets_a_decade_wide_axis():
    rows = curve_rows()
    fig = plots.curve_figure([r for r in rows if r.load == 1.0], series=None, title="t", prefix="p")
    sx, _ = sp.layout(fig).scales[0]
    assert sx.hi / sx.lo >= 10
    assert len(sp.x_ticks(sx)[1]) >= 2


def test_limit_envelope_is_dashed_steps_over_a_green_band():
    svg = plots.curve_svg(curve_rows(), series=None, title="t", prefix="p")
    styles = [p.get("style") for p in parse(svg).iter(f"{NS}path")]
    limits = [s for s in styles if f"stroke:{plots.LIMIT_COLOUR}" in s]
    assert len(limits) == 3  # high and low steps, and the legend sample
    assert all("stroke-dasharray" in s for s in limits)
    assert any("fill:#4caf50;fill-opacity:0.08" in s for s in styles)


def test_few_series_each_get_a_colour_and_an_entry():
    rows = curve_rows(positions=3, elements=("balanced", "L1"))
    fig = plots.curve_figure(rows, series=BY_POSITION, title="t", prefix="p")
    assert legend(fig) == ["limit", "pos 1", "pos 2", "pos 3"]
    # a position has the same colour in every axes
    colours = [{a.label: a.colour for a in ax.artists if isinstance(a, sp.Line)}
               for ax in fig.axes]
    assert colours[0] == colours[1] and len(set(colours[0].values())) == 3


def test_many_series_are_grey_with_a_black_mean_and_only_failing_ones_coloured():
    n = plots.MAX_COLOURED_SERIES + 4
    rows = curve_rows(positions=n, fails=((3, "balanced", 0.1), (n, "balanced", 1.0)))
    fig = plots.curve_figure(rows, series=BY_POSITION, title="t", prefix="p")
    assert legend(fig) == ["limit", "pos 3", f"pos {n}", f"mean of {n}", "fail"]
    lines = [a for a in fig.axes[0].artists if isinstance(a, sp.Line)]
    grey = [a for a in lines if a.colour == plots.GREY]
    assert len(grey) == n - 2 and all(a.label is None and a.opacity < 1 for a in grey)
    mean = next(a for a in lines if a.label == f"mean of {n}")
    assert mean.colour == "#000000" and list(mean.x) == list(LOADS)
    at_01 = [r.value for r in rows if r.load == 0.1]
    at_01 = sum(at_01) / len(at_01)
    assert mean.y[LOADS.index(0.1)] == pytest.approx(at_01)
    svg = sp.render(fig)
    assert len(cross_centres(parse(svg), plots.FAIL_COLOUR)) == 2
    assert svg.count(f"stroke:{plots.GREY}") >= n - 2


def test_non_finite_values_and_uncertainties_are_skipped():
    rows = curve_rows()
    rows[1] = dataclasses.replace(rows[1], value=None)
    rows[2] = dataclasses.replace(rows[2], value=math.inf)
    rows[3] = dataclasses.replace(rows[3], expanded_uncertainty=math.nan)
    rows[0] = dataclasses.replace(rows[0], limit_high=None)
    svg = plots.curve_svg(rows, series=None, title="t", prefix="p")
    root = parse(svg)
    assert not re.search(r"nan|inf", svg, re.I)
    assert len(dot_centres(root)) == len(LOADS) - 2


def test_ids_are_prefixed_from_the_figure_id_and_unique_across_figures():
    ids = []
    for fig_id in ("plot-pos1-curve-a", "plot-pos2-curve-a"):
        rows = curve_rows(elements=("balanced", "L1"))
        root = parse(plots.curve_svg(rows, series=None, title="t", prefix=fig_id))
        own = [e.get("id") for e in root.iter() if e.get("id")]
        prefix = "s" + hashlib.sha1(fig_id.encode()).hexdigest()[:8] + "-"
        assert own and all(i.startswith(prefix) for i in own)
        ids += own
    assert len(ids) == len(set(ids))


def test_title_text_is_escaped_and_output_deterministic():
    rows = curve_rows(positions=2, elements=("balanced", "L3"))
    title = "reactive <energy> error & more"
    svg = plots.curve_svg(rows, series=BY_POSITION, title=title, prefix="p")
    assert "&lt;energy&gt; error &amp; more" in svg
    assert title in {t.text for t in texts(parse(svg))}
    assert svg == plots.curve_svg(list(rows), series=BY_POSITION, title=title, prefix="p")


def demand_rows(fail_window: int | None = None) -> list[StoredMeasurement]:
    rows = []
    for w in range(4):
        ref = 3.45 if w % 2 == 0 else 1.725
        err = 0.9 if w == fail_window else 0.05
        rows.append(row(raw={"meter": ref * (1 + err / 100), "reference": ref, "unit": "kW"},
                        point={"window": w}, value=err, unit="%", expanded_uncertainty=0.05,
                        limit_low=-0.56, limit_high=0.56,
                        verdict="fail" if w == fail_window else "pass"))
    return rows


def test_demand_plot_bars_points_and_the_error_with_a_failed_window():
    fig = plots.demand_figure(demand_rows(fail_window=2), title="demand", prefix="d")
    assert legend(fig) == ["reference", "meter", "limit", "error", "fail"]
    lay = sp.layout(fig)
    svg = sp.render(fig)
    root = parse(svg)
    assert len(frames(root)) == 2
    labels = [t.text for t in texts(root)]
    assert labels.count("2") >= 2 and "demand / kW" in labels and "demand error / %" in labels
    sx, sy = lay.scales[1]
    (x, y), = cross_centres(root, plots.FAIL_COLOUR)
    assert (x, y) == (pytest.approx(sx(2), abs=0.02), pytest.approx(sy(0.9), abs=0.02))
    assert lay.scales[0][1].lo == 0  # bars stand on the axis


def clock_rows(positions: int = 1,
               fail: tuple[int, float] | None = None) -> list[StoredMeasurement]:
    rows = []
    for pos in range(1, positions + 1):
        for hours in (6, 12, 24, 48):
            bad = (pos, hours) == fail
            rows.append(row(position=pos, point={"elapsed_s": hours * 3600.0},
                            value=1.5 if bad else 0.01 * pos * hours, unit="s",
                            expanded_uncertainty=0.02, limit_low=-hours / 48,
                            limit_high=hours / 48, verdict="fail" if bad else "pass"))
    return rows


def test_clock_plot_against_elapsed_hours_with_a_failed_point():
    fig = plots.clock_figure(clock_rows(fail=(1, 24)), series=None, title="clock", prefix="c")
    sx, sy = sp.layout(fig).scales[0]
    root = parse(sp.render(fig))
    (x, y), = cross_centres(root, plots.FAIL_COLOUR)
    assert (x, y) == (pytest.approx(sx(24), abs=0.02), pytest.approx(sy(1.5), abs=0.02))
    labels = {t.text for t in texts(root)}
    assert {"elapsed time / h", "clock error / s", "10", "40"} <= labels
    assert legend(fig) == ["limit", "measured", "fail"]


def test_batch_clock_of_many_positions_colours_only_the_failing_one():
    n = plots.MAX_COLOURED_SERIES + 2
    fig = plots.clock_figure(clock_rows(positions=n, fail=(4, 48)), series=BY_POSITION,
                             title="clock", prefix="c")
    assert legend(fig) == ["limit", "pos 4", "fail"]


def test_elapsed_hours():
    assert plots.elapsed_hours({"elapsed_s": 7200}) == 2.0
    assert plots.elapsed_hours({"elapsed_h": 1.5}) == 1.5
    assert math.isnan(plots.elapsed_hours({"elapsed_s": None}))
    assert math.isnan(plots.elapsed_hours("6h"))
