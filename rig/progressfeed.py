"""The run's progress written to the results store, for the lab panel (python -m reports serve).

A pytest plugin object registered beside rig.progress.RunProgress: when a plan item starts and
when it ends it stores one `progress` event with what the progress line shows (item n of N, the
remaining planned time of the run, the load point, failures per position, the last error). The
panel reads the events as they are committed; nothing here waits or talks to the bench.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest

from rig.progress import ProgressState

PROGRESS_KIND = "progress"


def progress_data(state: ProgressState) -> dict[str, Any]:
    """The progress line's facts as JSON-able data."""
    item_left, run_left = state.remaining()
    current = state.current or ""
    index = len(state.done) + (0 if current in state.done or not current else 1)
    return {
        "item": current.rpartition("[")[2].rstrip("]") or current,
        "test_id": current,
        "index": index,
        "count": len(state.planned),
        "item_left_s": item_left,
        "run_left_s": run_left,
        "run_total_s": state.total,
        "load": state.load,
        "fails": {str(p): n for p, n in sorted(state.fails.items())},
        "last_error": state.last_error,
    }


class ProgressFeed:
    """Stores a progress event after RunProgress has taken each item's start and end."""

    def __init__(self, state: ProgressState, session: Callable[[], Any]) -> None:
        self.state = state
        self._session = session
        #: Why progress stopped being stored (the run itself goes on; said in the summary).
        self.failed = ""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> Generator[None]:
        yield
        if nodeid in self.state.planned:
            self._store("started")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> Generator[None]:
        yield
        if nodeid in self.state.planned:
            self._store("ended")

    def _store(self, what: str) -> None:
        session = self._session()
        store = getattr(session, "store", None)
        run = getattr(session, "run", None)
        if store is None or run is None or store.closed or self.failed:
            return  # before the session started (the first item's start) or after it closed
        data = progress_data(self.state)
        try:
            store.log(run.run_id, f"{data['item']} {what} ({data['index']}/{data['count']})",
                      kind=PROGRESS_KIND, data=data)
        except Exception as exc:  # the panel's feed must never stop a run that measures
            self.failed = f"{type(exc).__name__}: {exc}"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.failed:
            terminalreporter.write_line(
                f"meter-test-rig: progress was not stored for the lab panel after: {self.failed}")
