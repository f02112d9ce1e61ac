"""Which items of the plan a run ran, and with what outcome (the report's coverage statement).

The rig's pytest plugin writes two kinds of run events (ordinary store events, no schema
change):
  kind "plan_items"    once per start or resume: data {"plan", "version", "title",
                       "standards", "items": [{"id", "family", "clause"}], "collected": {id: tests},
                       "deselected": {id: reason}}
  kind "item_outcome"  once per plan test: data {"item", "nodeid", "outcome", "reason"}
A run is partial when an item of its plan did not run; its report then says so in its title
and states no conformity to the plan (ISO/IEC 17025:2017 7.8.6.2: the statement of
conformity identifies what it applies to).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reports.benchtime import BENCH_TIME
from reports.records import POINT_STARTED, Event, Measurement

PLAN_ITEMS = "plan_items"
ITEM_OUTCOME = "item_outcome"
# Events that are bookkeeping for the report, not lines of the run log.
BOOKKEEPING_KINDS = (POINT_STARTED, PLAN_ITEMS, ITEM_OUTCOME, BENCH_TIME)

RUN, PASSED, FAILED, NOT_RUN = "run", "passed", "failed", "not run"


@dataclass(frozen=True)
class ItemState:
    item_id: str
    family: str
    clause: str
    state: str  # passed / failed / run (no verdict either way) / not run
    why: str = ""  # why not run, or what failed
    tests: int = 0  # plan tests (item x point x direction) that ran
    complete: bool = True  # every test of the item ran (none deselected, skipped or missed)


@dataclass
class PlanCoverage:
    known: bool  # False: the run recorded no plan items (an older rig version)
    plan: str = ""
    version: str = ""
    title: str = ""
    standards: list[str] = field(default_factory=list)
    items: list[ItemState] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return self.known and any(not i.complete for i in self.items)

    @property
    def run_ids(self) -> list[str]:
        return [i.item_id for i in self.items if i.state != NOT_RUN]

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in (PASSED, FAILED, RUN, NOT_RUN)}
        for i in self.items:
            out[i.state] += 1
        return out


def _data(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def plan_coverage(events: Sequence[Event], measurements: Iterable[Measurement],
                  stopped: bool) -> PlanCoverage:
    """The state of every plan item from the run's events and measurements.

    `stopped`: the run ended before its plan did (aborted, failed or never ended), which is
    why a collected item without an outcome did not run."""
    declared = [_data(e.data) for e in events if e.kind == PLAN_ITEMS]
    if not declared:
        return PlanCoverage(known=False)
    last = declared[-1]  # a resumed run declares again; its plan is the same (the rig checks)
    collected: dict[str, int] = {}  # item -> its plan tests collected
    deselected: dict[str, str] = {}
    for d in declared:
        for k, n in _data(d.get("collected")).items():
            collected[str(k)] = max(collected.get(str(k), 0), int(n))
        deselected.update({str(k): str(v) for k, v in _data(d.get("deselected")).items()})
    outcomes: dict[str, list[Mapping[str, Any]]] = {}
    for e in events:
        if e.kind != ITEM_OUTCOME:
            continue
        d = _data(e.data)
        outcomes.setdefault(str(d.get("item")), []).append(d)
    failing_tests = {str(m.test_id) for m in measurements if m.verdict == "fail"}
    cov = PlanCoverage(known=True, plan=str(last.get("plan", "")),
                       version=str(last.get("version", "")), title=str(last.get("title", "")),
                       standards=[str(s) for s in last.get("standards") or []])
    for spec in last.get("items") or []:
        spec = _data(spec)
        item_id = str(spec.get("id", ""))
        ran = [o for o in outcomes.get(item_id, []) if o.get("outcome") != "skipped"]
        skipped = [o for o in outcomes.get(item_id, []) if o.get("outcome") == "skipped"]
        failed = [o for o in ran if o.get("outcome") != "passed"
                  or str(o.get("nodeid")) in failing_tests]
        if failed:
            state, why = FAILED, "; ".join(sorted({f"{o.get('nodeid')}: {o.get('outcome')}"
                                                    for o in failed}))
        elif ran and len(ran) == len(outcomes.get(item_id, [])):
            state, why = PASSED, ""
        elif ran:
            state, why = RUN, "; ".join(sorted({f"skipped: {o.get('reason')}" for o in skipped}))
        elif skipped:
            state, why = NOT_RUN, "skipped: " + "; ".join(sorted({str(o.get("reason"))
                                                                  for o in skipped}))
        elif item_id in deselected:
            state, why = NOT_RUN, deselected[item_id]
        elif item_id not in collected:
            state, why = NOT_RUN, "not collected: its plan module was not part of the run"
        elif stopped:
            state, why = NOT_RUN, "not reached: the run stopped before it"
        else:
            state, why = NOT_RUN, "collected but no outcome was recorded"
        missed = collected.get(item_id, 0) - len(outcomes.get(item_id, []))
        if state != NOT_RUN and missed > 0:
            why = "; ".join(w for w in (why, f"{missed} of its tests not reached: the run "
                                             "stopped before them") if w)
        complete = (state != NOT_RUN and not skipped and item_id not in deselected
                    and missed <= 0)
        if state != NOT_RUN and item_id in deselected:
            why = "; ".join(w for w in (why, f"partly: {deselected[item_id]}") if w)
        cov.items.append(ItemState(item_id, str(spec.get("family", "")),
                                   str(spec.get("clause", "")), state, why, len(ran), complete))
    return cov
