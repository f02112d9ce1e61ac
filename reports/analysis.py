"""What a report says, computed from stored results (pure functions, no output format).

Conventions read from a measurement's `point` (set by the test plans):
  load       multiple of In (number)        pf        "1", "0.5L", "0.8C" (or a number;
  direction  "import" / "export"                       a negative number = capacitive)
  element    "balanced" / "L1" / "L2" / "L3"  influence  influence quantity (no curve point)
  window / window_start   demand window index / start (epoch s); raw {"meter", "reference"}
  elapsed_s / elapsed_h   time since the clock was set, for clock error over time
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from reports.numbers import (
    fmt_compact,
    fmt_duration,
    fmt_limits,
    fmt_time,
    fmt_uncertainty,
    fmt_value,
    is_number,
    with_unit,
)
from reports.records import FAMILY_ORDER, Verdict
from reports.store import RunData

CURVE_FAMILIES = ("accuracy", "single_element", "reactive")
ELEMENT_ORDER = ("balanced", "L1", "L2", "L3")
DIRECTION_ORDER = ("import", "export")

# Severity order for the overall verdict of a meter: one failing point fails the meter;
# an unmeasured point (error) or an inconclusive one leaves conformity undetermined.
SEVERITY = {Verdict.PASS: 0, Verdict.INCONCLUSIVE: 1, Verdict.ERROR: 2, Verdict.FAIL: 3}

# A measurement as a dict of plain Python values (see plain_rows); ROW is the key of its row
# number in the frame it was taken from.
Row = dict[str, Any]
K = TypeVar("K", bound=Hashable)
ROW = "_row"

FAMILY_TITLES = {
    "accuracy": "Accuracy, balanced load",
    "single_element": "Accuracy, single-element load",
    "starting": "Starting current",
    "no_load": "No-load (creep)",
    "meter_constant": "Meter constant",
    "register": "Four-quadrant reactive registers",
    "repeatability": "Repeatability",
    "influence": "Influence quantities",
    "reactive": "Reactive energy",
    "demand": "Maximum demand",
    "tou": "Tariff (TOU) switching",
    "clock": "Clock",
    "events": "Events and ERR 1",
    "billing": "Automatic meter reading (billing)",
    "load_profile": "Load profile",
    "interruption": "Dips, interruptions and power-down",
}


def family_title(family: str) -> str:
    return FAMILY_TITLES.get(family, family.replace("_", " ").capitalize())


def family_sort_key(family: str) -> tuple[int, str]:
    try:
        return (FAMILY_ORDER.index(family), family)
    except ValueError:
        return (len(FAMILY_ORDER), family)


def pf_label(pf: Any) -> str:
    """Normalised power-factor label: '1', '0.5L' (inductive, lagging), '0.8C' (capacitive)."""
    if pf is None:
        return ""
    if is_number(pf):
        mag = abs(float(pf))
        if math.isclose(mag, 1.0):
            return "1"
        return f"{mag:g}" + ("C" if pf < 0 else "L")
    text = str(pf).strip().upper().replace(" ", "")
    for suffix, kind in (("IND", "L"), ("LAG", "L"), ("CAP", "C"), ("LEAD", "C"), ("I", "L"),
                         ("L", "L"), ("C", "C")):
        if text.endswith(suffix) and text[: -len(suffix)]:
            try:
                mag = float(text[: -len(suffix)])
            except ValueError:
                break
            return "1" if math.isclose(mag, 1.0) else f"{mag:g}{kind}"
    try:
        return pf_label(float(text))
    except ValueError:
        return str(pf)


def pf_sort_key(label: str) -> tuple[int, float]:
    if label == "1":
        return (0, 0.0)
    try:
        mag = float(label[:-1])
    except ValueError:
        return (3, 0.0)
    return (1 if label.endswith("L") else 2, -mag)


def describe_point(point: Mapping[str, Any]) -> str:
    """Human text of a test point, e.g. '0.05 In, PF 0.5L, import, L1'."""
    if not isinstance(point, Mapping):
        return str(point)
    parts: list[str] = []
    load = point.get("load")
    if is_number(load):
        parts.append(f"{fmt_compact(load)} In")
    if point.get("pf") is not None:
        parts.append(f"PF {pf_label(point.get('pf'))}")
    for key in ("direction", "element"):
        if point.get(key):
            parts.append(str(point[key]))
    inf = point.get("influence")
    if inf:
        if isinstance(inf, Mapping):
            q = inf.get("quantity", "influence")
            v = inf.get("value")
            parts.append(f"{q} {fmt_compact(v) if is_number(v) else v}".strip())
        else:
            parts.append(str(inf))
    skip = {"load", "pf", "direction", "element", "influence"}
    for key, value in point.items():
        if key in skip:
            continue
        parts.append(_point_item(str(key), value))
    return ", ".join(parts) if parts else "-"


def _point_item(key: str, value: Any) -> str:
    """'window start 2026-09-21 14:28:20', 'elapsed 6 h 00 min', 'voltage factor 1.15'."""
    if is_number(value):
        if key.endswith(("_start", "_at", "_time")) and value > 1e8:  # epoch seconds
            return f"{_words(key)} {fmt_time(value).removesuffix(' UTC')}"
        if key.endswith("_s"):
            return f"{_words(key[:-2])} {fmt_duration(value) or fmt_compact(value) + ' s'}"
        return f"{_words(key)} {fmt_compact(value)}"
    return f"{_words(key)} {value}"


def _words(key: str) -> str:
    """A plan's point key as words for the reader ('voltage_factor' -> 'voltage factor')."""
    return key.replace("_", " ")


def _severity(verdict: Any) -> int:
    try:
        return SEVERITY[Verdict(verdict)]
    except ValueError:
        return SEVERITY[Verdict.ERROR]  # an unknown verdict cannot count as a pass


def is_missing(value: Any) -> bool:
    """None, NaN or NA: what pandas' dropna / fillna treat as missing (scalars only)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def verdict_of(values: Iterable[Any]) -> Verdict | None:
    """Overall verdict of a set of point verdicts (worst first), None if empty."""
    worst: Verdict | None = None
    for v in values:
        if is_missing(v):
            continue
        try:
            verdict = Verdict(v)
        except ValueError:
            verdict = Verdict.ERROR
        if worst is None or SEVERITY[verdict] > SEVERITY[worst]:
            worst = verdict
    return worst


def with_point_columns(meas: pd.DataFrame) -> pd.DataFrame:
    """Add load, pf (label), direction, element, influenced columns from the point JSON."""
    df = meas.copy()
    points = [p if isinstance(p, Mapping) else {} for p in df["point"]]
    df["p_load"] = [float(p["load"]) if is_number(p.get("load")) else math.nan for p in points]
    df["p_pf"] = [pf_label(p.get("pf")) for p in points]
    df["p_direction"] = [str(p.get("direction") or "") for p in points]
    df["p_element"] = [str(p.get("element") or "balanced") for p in points]
    df["p_influenced"] = [bool(p.get("influence")) for p in points]
    df["p_text"] = [describe_point(p) for p in points]
    return df


def plain_rows(frame: pd.DataFrame) -> list[Row]:
    """The frame's rows as dicts of plain Python values, as DataFrame.to_dict("records") gives
    them for the store's frames (several times faster), each with its row number in the frame
    under ROW, so that `frame.take` gives any selection of rows back as a frame (for the plots).

    The report works on these: pandas filtering and to_dict per table, figure or group of a
    few rows cost far more than the work done on them."""
    names = [*frame.columns, ROW]
    columns = [_plain_values(frame[c]) for c in frame.columns]
    return [dict(zip(names, values, strict=True))
            for values in zip(*columns, range(len(frame)), strict=True)]


def _plain_values(column: pd.Series) -> list[Any]:
    values = column.tolist()
    # to_dict gives None for pandas' NA (of nullable integer columns such as position)
    return [None if v is pd.NA else v for v in values] if column.hasnans else values


def frame_of(frame: pd.DataFrame, rows: list[Row]) -> pd.DataFrame:
    """The rows (plain_rows of `frame`, or of a frame with the same rows) as a frame, in
    their order."""
    return frame.take([r[ROW] for r in rows])


def group_rows(rows: Iterable[Row], key: Callable[[Row], K]) -> dict[K, list[Row]]:
    """The rows by `key`, keys in order of first appearance, rows in theirs."""
    groups: dict[K, list[Row]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return groups


def is_curve_row(r: Row) -> bool:
    """A measurement that belongs on an error curve: % error at a load and PF, no influence.
    `r` is a row with the point columns (with_point_columns)."""
    return (r["family"] in CURVE_FAMILIES and r["unit"] == "%" and r["p_load"] > 0
            and r["p_pf"] != "" and not r["p_influenced"])


def curve_groups(rows: list[Row]) -> dict[tuple[str, str, str], list[Row]]:
    """The curve rows by (quantity, direction, pf), keys in report order, rows in theirs."""
    groups = group_rows(rows, lambda r: (r["quantity"], r["p_direction"], r["p_pf"]))

    def order(key: tuple[str, str, str]) -> tuple:
        q, d, p = key
        di = DIRECTION_ORDER.index(d) if d in DIRECTION_ORDER else len(DIRECTION_ORDER)
        return (q, di, d, pf_sort_key(p))

    return {key: groups[key] for key in sorted(groups, key=order)}


def element_sort_key(element: str) -> tuple[int, str]:
    return (ELEMENT_ORDER.index(element) if element in ELEMENT_ORDER else 9, element)


def margin(value: float, low: float | None, high: float | None) -> float:
    """Distance from the value to the nearest limit (negative outside the limits)."""
    m = math.inf
    if is_number(low):
        m = min(m, value - low)
    if is_number(high):
        m = min(m, high - value)
    return m


@dataclass
class PositionSummary:
    position: int
    serial: str
    verdict: Verdict | None
    counts: dict[str, int]
    rows: list[Row]  # the position's measurements (plain rows with the point columns)
    bad: list[Row]  # those that are not 'pass', worst first


@dataclass
class Conformity:
    label: str  # CONFORMS / DOES NOT CONFORM / NOT DETERMINED / NO RESULTS
    css: str
    text: str


def position_summaries(data: RunData, rows: list[Row]) -> list[PositionSummary]:
    """One summary per position; `rows` are the run's measurements as plain rows with the
    point columns (plain_rows of with_point_columns)."""
    meas = data.measurements
    positions = sorted({int(p) for p in meas["position"].dropna()}
                       | {int(p) for p in data.positions["position"].dropna()})
    serials = {int(r["position"]): str(r["serial"] or "")
               for r in data.positions.to_dict("records") if is_number(r["position"])}
    by_position = group_rows((r for r in rows if not is_missing(r["position"])),
                             lambda r: r["position"])
    out = []
    for pos in positions:
        pos_rows = by_position.get(pos, [])
        tally = Counter(r["verdict"] for r in pos_rows)
        counts = {v.value: tally[v.value] for v in Verdict}
        bad = sorted((r for r in pos_rows if r["verdict"] != Verdict.PASS.value),
                     key=lambda r: (-_severity(r["verdict"]), r["id"]))
        out.append(PositionSummary(pos, serials.get(pos, ""),
                                   verdict_of(r["verdict"] for r in pos_rows), counts,
                                   pos_rows, bad))
    return out


def rule_text(rule: str) -> str:
    if rule == "guarded":
        return ("guarded acceptance: a point passes when |value| + U <= limit, fails when "
                "|value| - U > limit, and is inconclusive otherwise (U: expanded uncertainty, "
                "k = 2)")
    if rule == "simple":
        return ("simple acceptance (shared risk): a point passes when the measured value lies "
                "within the limit; the expanded uncertainty U (k = 2) is reported but not "
                "deducted")
    return f"decision rule {rule!r}"


def _partial_text(partial: str) -> str:
    return f"the run was partial ({partial})"


def conformity(summary: PositionSummary, data: RunData, clauses: list[str],
               partial: str = "") -> Conformity:
    """The statement of conformity for one meter position. `partial`: how the run fell short
    of its plan (e.g. '1 of 4 plan items run'), or '' when it ran the whole plan; a partial
    run states no conformity with the plan, only non-conformity (one failing point is final)."""
    run = data.run
    who = f"The meter at position {summary.position}"
    if summary.serial:
        who += f" (serial {summary.serial})"
    plan = f"plan {run.plan_name} {run.plan_version}".strip()
    scope = f"the requirements tested by {plan}"
    if clauses:
        scope += f" (clauses: {'; '.join(clauses)})"
    rules = sorted({str(r["decision_rule"]) for r in summary.rows
                    if not is_missing(r["decision_rule"])})
    rule = (" and ".join(rules) + (" decision rules" if len(rules) > 1 else " decision rule")
            if rules else f"{run.decision_rule} decision rule")
    caveat = ""
    if data.incomplete:
        caveat = (" This statement is provisional: the run is incomplete, and it covers only "
                  "the points measured.")
    c = summary.counts
    if summary.verdict is None:
        return Conformity("NO RESULTS", "none", f"{who} has no recorded measurements.{caveat}")
    if summary.verdict is Verdict.FAIL:
        return Conformity(
            "DOES NOT CONFORM", "fail",
            f"{who} does not conform to {scope}: {c['fail']} point(s) fail under the "
            f"{rule}.{caveat}" + (f" Note: {_partial_text(partial)}." if partial else ""))
    if summary.verdict in (Verdict.ERROR, Verdict.INCONCLUSIVE):
        why = []
        if c["error"]:
            why.append(f"{c['error']} point(s) could not be measured")
        if c["inconclusive"]:
            why.append(f"{c['inconclusive']} point(s) are inconclusive (the measured value lies "
                       "within the expanded uncertainty of the limit)")
        return Conformity(
            "NOT DETERMINED", "inconclusive",
            f"Conformity of {who[0].lower() + who[1:]} with {scope} is not determined: "
            f"{'; '.join(why)}. No point fails.{caveat}")
    if partial:
        return Conformity(
            "NOT DETERMINED", "inconclusive",
            f"Conformity of {who[0].lower() + who[1:]} with {plan} is not stated: "
            f"{_partial_text(partial)}. All {c['pass']} point(s) measured pass under the "
            f"{rule}.{caveat}")
    if data.incomplete:
        # A fail is final, but a pass is not: the points the run did not reach, or the
        # store could not show, might fail. A lab must not sign CONFORMS on that.
        return Conformity(
            "NOT DETERMINED", "inconclusive",
            f"Conformity of {who[0].lower() + who[1:]} with {scope} is not determined: the "
            f"run is incomplete. All {c['pass']} point(s) measured pass under the {rule}; "
            "this statement is provisional and covers only the points measured.")
    return Conformity(
        "CONFORMS", "pass",
        f"{who} conforms to {scope}: all {c['pass']} point(s) pass under the {rule}.")


def batch_conformity(summaries: list[PositionSummary], data: RunData,
                     partial: str = "") -> Conformity:
    n = len(summaries)
    failing = [s.position for s in summaries if s.verdict is Verdict.FAIL]
    undetermined = [s.position for s in summaries
                    if s.verdict in (Verdict.ERROR, Verdict.INCONCLUSIVE, None)]
    ok = n - len(failing) - len(undetermined)
    caveat = " Provisional: the run is incomplete." if data.incomplete else ""
    if partial:
        caveat += (f" Conformity with the plan is not stated: {_partial_text(partial)}.")
    # in an incomplete or partial run, a meter whose measured points all pass is not yet
    # conforming
    parts = [f"{ok} of {n} meter(s) pass every point measured" if data.incomplete or partial
             else f"{ok} of {n} meter(s) conform"]
    if failing:
        parts.append(f"{len(failing)} do not conform (position(s) "
                     f"{', '.join(map(str, failing))})")
    if undetermined:
        parts.append(f"{len(undetermined)} not determined (position(s) "
                     f"{', '.join(map(str, undetermined))})")
    text = "Batch: " + "; ".join(parts) + "." + caveat
    if n == 0 or all(s.verdict is None for s in summaries):
        return Conformity("NO RESULTS", "none",
                          f"Batch: no measurements recorded for its {n} position(s)." + caveat)
    if failing:
        return Conformity("DOES NOT CONFORM", "fail", text)
    if undetermined or data.incomplete or partial:
        return Conformity("NOT DETERMINED", "inconclusive", text)
    return Conformity("CONFORMS", "pass", text)


def why_text(row: Mapping[str, Any]) -> str:
    """One line saying why a point did not pass."""
    unit = row.get("unit") or ""
    v = row.get("value")
    u = row.get("expanded_uncertainty")
    lim = fmt_limits(row.get("limit_low"), row.get("limit_high"), unit)
    verdict = row.get("verdict")
    if verdict == Verdict.ERROR.value or not is_number(v):
        text = "no value could be measured"
    else:
        val = with_unit(fmt_value(v, u, signed=unit == "%"), unit)
        if verdict == Verdict.FAIL.value:
            text = f"{val} breaks the limit {lim}" if lim else f"{val} failed"
        elif verdict == Verdict.INCONCLUSIVE.value:
            text = f"{val} within U of the limit {lim}"
        else:
            text = f"{val} ({verdict})"
        if is_number(u):
            text += f" (U = {with_unit(fmt_uncertainty(u), unit)})"
    msg = row.get("message")
    if isinstance(msg, str) and msg:
        text += f"; {msg}"
    return text


@dataclass
class BatchPoint:
    family: str
    quantity: str
    unit: str
    point_text: str
    clause: str
    n: int
    mean: float
    spread: float
    stdev: float
    worst_position: int
    worst_value: float
    verdicts: dict[str, int] = field(default_factory=dict)
    # Median expanded uncertainty of the point's values (NaN when none is stored): the
    # batch figures are shown to its decimal place, like the values themselves.
    typical_u: float = math.nan


def batch_points(rows: list[Row]) -> list[BatchPoint]:
    """Per test point across positions: mean, spread (max - min), stdev and the worst meter
    (the one closest to, or furthest beyond, a limit; largest |value| without limits).
    `rows`: the run's measurements as plain rows with the point columns."""
    groups = group_rows(
        (r for r in rows if not is_missing(r["value"])),
        lambda r: (r["family"], r["quantity"], _text_or_empty(r["unit"]), r["point_key"],
                   _text_or_empty(r["clause"])),
    )
    out = [_batch_point(key, g) for key, g in groups.items()]
    out.sort(key=lambda b: (family_sort_key(b.family), b.quantity))
    return out


def _text_or_empty(value: Any) -> Any:
    return "" if is_missing(value) else value


def _batch_point(key: tuple[Any, ...], g: list[Row]) -> BatchPoint:
    family, quantity, unit, _pk, clause = key
    values = np.array([r["value"] for r in g], dtype=float)
    margins = [margin(r["value"], r["limit_low"] if is_number(r["limit_low"]) else None,
                      r["limit_high"] if is_number(r["limit_high"]) else None) for r in g]
    if all(math.isinf(m) for m in margins):
        worst = g[int(np.abs(values).argmax())]
    else:
        worst = g[int(np.argmin(margins))]
    n = len(g)
    # The same arithmetic as pandas' Series.mean and .std(ddof=1) (numpy's pairwise sum,
    # two-pass variance), so that the figures are those pandas gave, to the last bit.
    mean = values.sum() / n
    stdev = float(np.sqrt(((mean - values) ** 2).sum() / (n - 1))) if n > 1 else math.nan
    return BatchPoint(
        family=str(family), quantity=str(quantity), unit=str(unit),
        point_text=str(g[0]["p_text"]), clause=str(clause), n=n,
        mean=float(mean), spread=float(values.max() - values.min()), stdev=stdev,
        worst_position=int(worst["position"]), worst_value=float(worst["value"]),
        verdicts=dict(Counter(str(r["verdict"]) for r in g if not is_missing(r["verdict"]))),
        typical_u=_median_positive(r["expanded_uncertainty"] for r in g),
    )


def _median_positive(values: Iterable[Any]) -> float:
    us = [float(u) for u in values if is_number(u) and u > 0]
    # statistics.median: the middle value, or the mean of the two middle ones, as pandas
    return float(statistics.median(us)) if us else math.nan


def interrupted_points(data: RunData) -> pd.DataFrame:
    """'point started' marks without a recorded measurement: points a kill interrupted."""
    ev = data.events
    if ev.empty or "kind" not in ev:
        return ev.iloc[0:0]
    started = ev[ev["kind"] == "point_started"]
    done = {(str(t), int(p), str(k)) for t, p, k in zip(
        data.measurements["test_id"], data.measurements["position"].fillna(-1),
        data.measurements["point_key"], strict=True)}
    keep = []
    for d, pos in zip(started["data"], started["position"], strict=True):
        d = d if isinstance(d, Mapping) else {}
        key = (str(d.get("test_id")), int(pos) if is_number(pos) else -1,
               str(d.get("point_key")))
        keep.append(key not in done)
    return started[keep].drop_duplicates(subset=["message", "position"], keep="last")


@dataclass
class Analysed:
    """What every part of a report needs of a run, computed once per build."""

    data: RunData
    meas: pd.DataFrame  # data.measurements with the point columns (with_point_columns)
    rows: list[Row]  # meas as plain rows (plain_rows): rows[i] is row i of meas
    summaries: list[PositionSummary]
    interrupted: pd.DataFrame  # interrupted_points(data)


def analyse(data: RunData) -> Analysed:
    """The point columns, plain rows, position summaries and interrupted points of a run."""
    meas = with_point_columns(data.measurements)
    rows = plain_rows(meas)
    return Analysed(data, meas, rows, position_summaries(data, rows), interrupted_points(data))
