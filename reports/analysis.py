"""What a report says, computed from a run's rows (pure functions, no output format).

The rows are the records of reports.records as reports.rows reads them from the store: each
measurement a StoredMeasurement (its test point's load, pf, direction, element and text are
properties of it: reports.points), each position a PositionRecord, each log line an Event.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from reports.numbers import (
    fmt_limits,
    fmt_uncertainty,
    fmt_value,
    is_number,
    with_unit,
)
from reports.points import pf_sort_key
from reports.records import (
    FAMILY_ORDER,
    POINT_STARTED,
    Event,
    PositionRecord,
    StoredMeasurement,
    Verdict,
)
from reports.rows import run_rows
from reports.store import RunData

CURVE_FAMILIES = ("accuracy", "single_element", "reactive")
ELEMENT_ORDER = ("balanced", "L1", "L2", "L3")
DIRECTION_ORDER = ("import", "export")

# Severity order for the overall verdict of a meter: one failing point fails the meter;
# an unmeasured point (error) or an inconclusive one leaves conformity undetermined.
SEVERITY = {Verdict.PASS: 0, Verdict.INCONCLUSIVE: 1, Verdict.ERROR: 2, Verdict.FAIL: 3}

# The report's row: one stored measurement.
Row = StoredMeasurement
K = TypeVar("K", bound=Hashable)

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


def _severity(verdict: Any) -> int:
    try:
        return SEVERITY[Verdict(verdict)]
    except ValueError:
        return SEVERITY[Verdict.ERROR]  # an unknown verdict cannot count as a pass


def is_missing(value: Any) -> bool:
    """None or NaN (a number the store does not have)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


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


def group_rows(rows: Iterable[Row], key: Callable[[Row], K]) -> dict[K, list[Row]]:
    """The rows by `key`, keys in order of first appearance, rows in theirs."""
    groups: dict[K, list[Row]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return groups


def is_curve_row(r: Row) -> bool:
    """A measurement that belongs on an error curve: % error at a load and PF, no influence."""
    return (r.family in CURVE_FAMILIES and r.unit == "%" and r.load > 0
            and r.pf != "" and not r.influenced)


def curve_groups(rows: Sequence[Row]) -> dict[tuple[str, str, str], list[Row]]:
    """The curve rows by (quantity, direction, pf), keys in report order, rows in theirs."""
    groups = group_rows(rows, lambda r: (r.quantity, r.direction, r.pf))

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
    rows: list[Row]  # the position's measurements
    bad: list[Row]  # those that are not 'pass', worst first


@dataclass
class Conformity:
    label: str  # CONFORMS / DOES NOT CONFORM / NOT DETERMINED / NO RESULTS
    css: str
    text: str


def position_summaries(rows: Sequence[Row],
                       positions: Sequence[PositionRecord]) -> list[PositionSummary]:
    """One summary per position, of those with measurements or a stored identity."""
    numbers = sorted({r.position for r in rows if r.position is not None}
                     | {p.position for p in positions})
    serials = {p.position: p.serial for p in positions}
    by_position = group_rows((r for r in rows if r.position is not None), lambda r: r.position)
    out = []
    for pos in numbers:
        pos_rows = by_position.get(pos, [])
        tally = Counter(r.verdict for r in pos_rows)
        counts = {v.value: tally[v.value] for v in Verdict}
        bad = sorted((r for r in pos_rows if r.verdict != Verdict.PASS.value),
                     key=lambda r: (-_severity(r.verdict), r.id))
        out.append(PositionSummary(pos, serials.get(pos, ""),
                                   verdict_of(r.verdict for r in pos_rows), counts,
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
    rules = sorted({str(r.decision_rule) for r in summary.rows
                    if not is_missing(r.decision_rule)})
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


def why_text(row: Row) -> str:
    """One line saying why a point did not pass."""
    unit = row.unit or ""
    v, u = row.value, row.expanded_uncertainty
    lim = fmt_limits(row.limit_low, row.limit_high, unit)
    verdict = row.verdict
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
    if row.message:
        text += f"; {row.message}"
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


def batch_points(rows: Iterable[Row]) -> list[BatchPoint]:
    """Per test point across positions: mean, spread (max - min), stdev and the worst meter
    (the one closest to, or furthest beyond, a limit; largest |value| without limits)."""
    groups = group_rows((r for r in rows if r.value is not None),
                        lambda r: (r.family, r.quantity, r.unit, r.point_key, r.clause))
    out = [_batch_point(key, g) for key, g in groups.items()]
    out.sort(key=lambda b: (family_sort_key(b.family), b.quantity))
    return out


def _batch_point(key: tuple[Any, ...], g: list[Row]) -> BatchPoint:
    family, quantity, unit, _pk, clause = key
    values = np.array([r.value for r in g], dtype=float)
    margins = [margin(r.value, r.limit_low, r.limit_high) for r in g]
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
        point_text=g[0].point_text, clause=str(clause), n=n,
        mean=float(mean), spread=float(values.max() - values.min()), stdev=stdev,
        worst_position=int(worst.position), worst_value=float(worst.value),
        verdicts=dict(Counter(str(r.verdict) for r in g if not is_missing(r.verdict))),
        typical_u=_median_positive(r.expanded_uncertainty for r in g),
    )


def _median_positive(values: Iterable[Any]) -> float:
    us = [float(u) for u in values if is_number(u) and u > 0]
    # statistics.median: the middle value, or the mean of the two middle ones, as pandas
    return float(statistics.median(us)) if us else math.nan



def interrupted_points(events: Iterable[Event], rows: Iterable[Row]) -> list[Event]:
    """'point started' marks without a recorded measurement: points a kill interrupted (the
    last mark of each point and position, in the log's order)."""
    done = {(r.test_id, r.position, r.point_key) for r in rows}
    last: dict[tuple[str, int | None], int] = {}
    started = [e for e in events if e.kind == POINT_STARTED]
    for i, e in enumerate(started):
        d = e.data if isinstance(e.data, Mapping) else {}
        if (str(d.get("test_id")), e.position, str(d.get("point_key"))) not in done:
            last[(e.message, e.position)] = i
    return [started[i] for i in sorted(last.values())]


@dataclass
class Analysed:
    """What every part of a report needs of a run, computed once per build."""

    data: RunData  # as the store read it (its frames are read once, into the rows below)
    rows: list[Row]  # the measurements, in the store's order (by id)
    positions: list[PositionRecord]  # by position number
    events: list[Event]  # the run log, by time
    summaries: list[PositionSummary]
    interrupted: list[Event]  # interrupted_points


def analyse(data: RunData) -> Analysed:
    """The rows, position summaries and interrupted points of a run."""
    read = run_rows(data)
    rows, positions, events = list(read.measurements), list(read.positions), list(read.events)
    return Analysed(data, rows, positions, events, position_summaries(rows, positions),
                    interrupted_points(events, rows))
