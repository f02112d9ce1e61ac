"""How a failing plan test is shown: the measurement facts, a few lines per point.

A plan test fails with the facts of the point as its message (`Recorder.assert_all_pass`: value,
limit, uncertainty, clause). The traceback through the rig's internals says nothing more to the
operator, so unless asked for (any explicit `--tb`), a plan test's failure shows only its
message, an error that is not a verdict adds its type and where it was raised, and the terminal
summary lists every failing point with its facts in full (pytest's short summary cuts each line
to the terminal width, which a plan test's long id leaves almost none of).

Registered by the rig's plugin (a pytest plugin of its own: hooks kept out of the main one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

FAILED_KEY = pytest.StashKey[list[tuple[str, list[str]]]]()


@dataclass(frozen=True)
class _Crash:
    """What pytest reads of a failure for its short summary (`reprcrash`)."""

    path: str
    lineno: int
    message: str


class ConciseFailure:
    """A plan test's failure as its facts: the longrepr pytest prints instead of a traceback."""

    def __init__(self, lines: list[str], path: str, lineno: int) -> None:
        self.lines = lines
        self.reprcrash = _Crash(path, lineno, lines[0] if lines else "")

    def toterminal(self, tw: Any) -> None:
        for line in self.lines:
            tw.line(line, red=True, bold=False)

    def __str__(self) -> str:
        return "\n".join(self.lines)


def facts(excinfo: pytest.ExceptionInfo[BaseException]) -> list[str]:
    """The lines that say why a plan test failed."""
    lines = [line for line in str(excinfo.value).splitlines() if line.strip()]
    if isinstance(excinfo.value, AssertionError) and lines:
        return lines  # a verdict: its message is the measurement's facts
    entry = excinfo.traceback[-1]
    first = f"{excinfo.typename}: {lines[0]}" if lines else excinfo.typename
    return [first, *lines[1:], f"(raised at {entry.path}:{entry.lineno + 1}; "
            "--tb=long shows the traceback)"]


def _asked_for_tracebacks(config: pytest.Config) -> bool:
    return config.option.tbstyle != "auto"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    if (
        report.failed
        and report.when == "call"
        and call.excinfo is not None
        and item.get_closest_marker("family") is not None
        and not _asked_for_tracebacks(item.config)
    ):
        lines = facts(call.excinfo)
        path, lineno, _ = item.location
        report.longrepr = ConciseFailure(lines, path, (lineno or 0) + 1)
        item.config.stash.setdefault(FAILED_KEY, []).append((item.nodeid, lines))
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    failed = config.stash.get(FAILED_KEY, [])
    if not failed:
        return
    terminalreporter.section(f"meter-test-rig: {len(failed)} failing plan point(s)", sep="-")
    for nodeid, lines in failed:
        terminalreporter.write_line(nodeid.rpartition("/")[2])
        for line in lines:
            terminalreporter.write_line(f"    {line}")
