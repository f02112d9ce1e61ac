"""A pytest plugin that writes each plan test's planned seconds, physical minimum and the time
it took on the bench (its timebase's clock around its call: virtual time on the simulated
bench; the rig's plugin notes them, rig.pytest_plugin._bench_time) as JSON at the end:
`pytest testplans -p rig.timeline --timeline FILE`.

Rows: {"nodeid", "family", "simulated_only", "estimate_s", "minimum_s", "timeline_s"}
(`minimum_s`: the physical minimum, rig.benchtime.minimum_seconds). The benchmark of bench time
(benchmarks/bench_benchtime.py) and the test of the estimate (tests/rig/test_benchtime.py) read
them; every run also stores them with its results (the report's bench-time section).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("meter-test-rig").addoption(
        "--timeline", default=None, metavar="FILE",
        help="write each plan test's planned seconds and bench time to FILE (JSON)")


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = session.config.getoption("timeline")
    if not out:
        return
    from rig.pytest_plugin import TIMES_KEY

    rows = list(session.config.stash.get(TIMES_KEY, {}).values())
    Path(out).write_text(json.dumps(rows, indent=1), encoding="utf-8")
