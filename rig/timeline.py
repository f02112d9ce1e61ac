"""A pytest plugin that notes each plan test's planned seconds and the time it took on the bench
(its timebase's clock before and after its call: virtual time on the simulated bench), and
writes them as JSON at the end: `pytest testplans -p rig.timeline --timeline FILE`.

Rows: {"nodeid", "family", "simulated_only", "estimate_s", "timeline_s"}. The benchmark of
bench time (benchmarks/bench_benchtime.py) and the test of the estimate
(tests/rig/test_benchtime.py) read them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

_TIMES = pytest.StashKey[dict[str, dict]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("meter-test-rig").addoption(
        "--timeline", default=None, metavar="FILE",
        help="write each plan test's planned seconds and bench time to FILE (JSON)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    callspec = getattr(item, "callspec", None)
    plan_item = callspec.params.get("plan_item") if callspec is not None else None
    session = getattr(item, "funcargs", {}).get("rig")
    if plan_item is None or session is None:
        return (yield)
    start = session.timebase.now()
    try:
        return (yield)
    finally:
        item.config.stash.setdefault(_TIMES, {})[item.nodeid] = {
            "family": plan_item.family, "simulated_only": bool(plan_item.simulated_only),
            "timeline_s": session.timebase.now() - start}


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = session.config.getoption("timeline")
    if not out:
        return
    from rig.pytest_plugin import PLANNED_KEY

    planned = session.config.stash.get(PLANNED_KEY, {})
    times = session.config.stash.get(_TIMES, {})
    rows = [{"nodeid": n, **t, "estimate_s": planned.get(n)} for n, t in times.items()]
    Path(out).write_text(json.dumps(rows, indent=1), encoding="utf-8")
