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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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


def verdict_of(values: pd.Series) -> Verdict | None:
    """Overall verdict of a set of point verdicts (worst first), None if empty."""
    worst: Verdict | None = None
    for v in values.dropna():
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


def curve_rows(meas: pd.DataFrame) -> pd.DataFrame:
    """Measurements that belong on an error curve: % error at a load and PF, no influence."""
    df = with_point_columns(meas)
    mask = (
        df["family"].isin(CURVE_FAMILIES)
        & (df["unit"] == "%")
        & (df["p_load"] > 0)
        & (df["p_pf"] != "")
        & ~df["p_influenced"]
    )
    return df[mask]


def curve_groups(rows: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(quantity, direction, pf) keys, in report order."""
    keys = {(q, d, p) for q, d, p in zip(rows["quantity"], rows["p_direction"], rows["p_pf"],
                                         strict=True)}

    def order(key: tuple[str, str, str]) -> tuple:
        q, d, p = key
        di = DIRECTION_ORDER.index(d) if d in DIRECTION_ORDER else len(DIRECTION_ORDER)
        return (q, di, d, pf_sort_key(p))

    return sorted(keys, key=order)


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
    bad: pd.DataFrame  # measurements that are not 'pass', worst first


@dataclass
class Conformity:
    label: str  # CONFORMS / DOES NOT CONFORM / NOT DETERMINED / NO RESULTS
    css: str
    text: str


def position_summaries(data: RunData) -> list[PositionSummary]:
    meas = data.measurements
    positions = sorted({int(p) for p in meas["position"].dropna()}
                       | {int(p) for p in data.positions["position"].dropna()})
    serials = {int(r["position"]): str(r["serial"] or "")
               for r in data.positions.to_dict("records") if is_number(r["position"])}
    out = []
    for pos in positions:
        rows = meas[meas["position"] == pos]
        counts = {v.value: int((rows["verdict"] == v.value).sum()) for v in Verdict}
        bad = rows[rows["verdict"] != Verdict.PASS.value].copy()
        bad["_sev"] = [_severity(v) for v in bad["verdict"]]
        bad = bad.sort_values(["_sev", "id"], ascending=[False, True]).drop(columns="_sev")
        out.append(PositionSummary(pos, serials.get(pos, ""), verdict_of(rows["verdict"]),
                                   counts, bad))
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


def conformity(summary: PositionSummary, data: RunData, clauses: list[str]) -> Conformity:
    """The statement of conformity for one meter position."""
    run = data.run
    who = f"The meter at position {summary.position}"
    if summary.serial:
        who += f" (serial {summary.serial})"
    plan = f"plan {run.plan_name} {run.plan_version}".strip()
    scope = f"the requirements tested by {plan}"
    if clauses:
        scope += f" (clauses: {'; '.join(clauses)})"
    rules = sorted({str(r) for r in data.measurements.loc[
        data.measurements["position"] == summary.position, "decision_rule"].dropna()})
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
            f"{rule}.{caveat}")
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


def batch_conformity(summaries: list[PositionSummary], data: RunData) -> Conformity:
    n = len(summaries)
    failing = [s.position for s in summaries if s.verdict is Verdict.FAIL]
    undetermined = [s.position for s in summaries
                    if s.verdict in (Verdict.ERROR, Verdict.INCONCLUSIVE, None)]
    ok = n - len(failing) - len(undetermined)
    caveat = " Provisional: the run is incomplete." if data.incomplete else ""
    # in an incomplete run, a meter whose measured points all pass is not yet conforming
    parts = [f"{ok} of {n} meter(s) pass every point measured" if data.incomplete
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
    if undetermined or data.incomplete:
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


def batch_points(meas: pd.DataFrame) -> list[BatchPoint]:
    """Per test point across positions: mean, spread (max - min), stdev and the worst meter
    (the one closest to, or furthest beyond, a limit; largest |value| without limits)."""
    df = with_point_columns(meas)
    df = df[df["value"].notna()]
    out: list[BatchPoint] = []
    if df.empty:
        return out
    keys = ["family", "quantity", "unit", "point_key", "clause"]
    df = df.assign(clause=df["clause"].fillna(""), unit=df["unit"].fillna(""))
    for (family, quantity, unit, _pk, clause), g in df.groupby(keys, sort=False, dropna=False):
        values = g["value"].astype(float)
        margins = [margin(v, lo if is_number(lo) else None, hi if is_number(hi) else None)
                   for v, lo, hi in zip(values, g["limit_low"], g["limit_high"], strict=True)]
        if all(math.isinf(m) for m in margins):
            worst_i = int(values.abs().to_numpy().argmax())
        else:
            worst_i = int(pd.Series(margins).to_numpy().argmin())
        worst = g.iloc[worst_i]
        out.append(BatchPoint(
            family=str(family), quantity=str(quantity), unit=str(unit),
            point_text=str(g["p_text"].iloc[0]), clause=str(clause), n=len(g),
            mean=float(values.mean()), spread=float(values.max() - values.min()),
            stdev=float(values.std(ddof=1)) if len(g) > 1 else math.nan,
            worst_position=int(worst["position"]), worst_value=float(worst["value"]),
            verdicts={str(k): int(v) for k, v in g["verdict"].value_counts().items()},
            typical_u=_median_positive(g["expanded_uncertainty"]),
        ))
    out.sort(key=lambda b: (family_sort_key(b.family), b.quantity))
    return out


def _median_positive(values: pd.Series) -> float:
    us = [float(u) for u in values if is_number(u) and u > 0]
    return float(pd.Series(us).median()) if us else math.nan


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
    for _, r in started.iterrows():
        d = r["data"] if isinstance(r["data"], Mapping) else {}
        pos = r["position"]
        key = (str(d.get("test_id")), int(pos) if is_number(pos) else -1,
               str(d.get("point_key")))
        keep.append(key not in done)
    return started[keep].drop_duplicates(subset=["message", "position"], keep="last")
