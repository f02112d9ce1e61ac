"""The run's plan items and each plan test's outcome, as store events for the report's
coverage statement (reports/planitems.py reads them: the event kinds and data are its)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from reports.planitems import ITEM_OUTCOME, PLAN_ITEMS
from reports.store import ResultsStore
from rig.plan import Plan

DESELECTED = "deselected by the test selection (-k / -m / node ids)"


def plan_item_id(test: pytest.Item) -> str | None:
    """The plan item a collected test runs, or None for a test that is not a plan test."""
    callspec = getattr(test, "callspec", None)
    item = callspec.params.get("plan_item") if callspec is not None else None
    return getattr(item, "id", None)


def declare(store: ResultsStore, run_id: str, plan: Plan, collected: list[pytest.Item],
            deselected: list[pytest.Item]) -> None:
    """One event naming every item of the plan, the tests collected of each, and those
    deselected."""
    tests = Counter(i for t in collected if (i := plan_item_id(t)) is not None)
    dropped = {i: DESELECTED for t in deselected if (i := plan_item_id(t)) is not None}
    data = {
        "plan": plan.plan, "version": plan.version, "title": plan.title,
        "standards": list(plan.standards),
        "items": [{"id": i.id, "family": i.family, "clause": i.clause} for i in plan.items],
        "collected": dict(tests), "deselected": dropped,
    }
    store.log(run_id, f"plan {plan.plan} {plan.version}: {len(plan.items)} item(s), "
              f"{sum(tests.values())} test(s) collected, {len(dropped)} item(s) deselected",
              kind=PLAN_ITEMS, data=data)


def outcome(store: ResultsStore, run_id: str, test: pytest.Item, report: Any,
            outcome_text: str) -> None:
    """The outcome of a plan test (passed / failed / skipped / error in setup / ...)."""
    item = plan_item_id(test)
    if item is None:
        return
    reason = ""
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    store.log(run_id, f"{test.nodeid}: {outcome_text}", kind=ITEM_OUTCOME,
              data={"item": item, "nodeid": test.nodeid, "outcome": outcome_text,
                    "reason": reason})
