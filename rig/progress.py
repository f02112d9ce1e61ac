"""Progress of a type-test run a person can read from across the room.

One line: the plan item (n of N) with its own bar and remaining time, the whole run's bar and
remaining time, the load point the source holds, each position's state and the last error, e.g.

    [ 12/140] acc.bal.pf05l-0.1In-import  ███▌      35 % 2 min 10 s left |
      run ██▏  9 % 14 h 02 min left | 230 V 0.5 A 60° 50 Hz | pos 1 ok 2 FAIL×1 |
      last: acc.bal.pf1-0.1In-import: position 2 active energy error FAIL ...

(shown here on three lines; it is one).

Times are the planned wall times on a real bench (rig.estimate), so remaining time is what
the bench still needs; the current item's progress is the time its timebase has passed (virtual
time on the simulated bench). Bars are drawn by tqdm (`tqdm.format_meter`).

Output goes through pytest's terminal writer with capture suspended (as pytest's live logging
does), so it shows without `-s`. On a terminal the line is rewritten in place while nothing else
was written after it (`refresh_s` apart), and left standing when the item ends; otherwise (CI
logs, a pipe) a line is printed when an item ends and at most every `interval_s` during a long
wait: no carriage returns, no escape sequences.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import pytest
from tqdm import tqdm

#: Back to the line above and erase it (ECMA-48 CUU cursor up, EL erase in line): the live
#: line is rewritten as a whole line ending in a newline, so pytest's own output (its test
#: letters, its percentage column) always starts on a line of its own.
REWRITE_LINE = "\x1b[1A\r\x1b[2K"


def hms(seconds: float) -> str:
    """'2 h 05 min', '4 min 07 s' or '12 s'."""
    s = max(0, round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def load_text(point: Any) -> str:
    """The load point in a few characters: U, I, angle and frequency (per phase when unequal)."""
    if point is None:
        return "source off"
    phases = point.phases
    volts = {round(p.voltage, 3) for p in phases}
    amps = {round(p.current, 4) for p in phases}
    phis = {round(p.phi, 1) for p in phases}
    if len(volts) == len(amps) == len(phis) == 1:
        return f"{phases[0].voltage:g} V {phases[0].current:g} A {phases[0].phi:g}° " \
               f"{point.frequency:g} Hz"
    each = " ".join(f"L{n} {p.voltage:g} V {p.current:g} A {p.phi:g}°"
                    for n, p in enumerate(phases, 1))
    return f"{each} {point.frequency:g} Hz"


def bar(fraction: float, width: int = 10, ascii_only: bool = False) -> str:
    """A bar of `width` characters filled to `fraction`, drawn by tqdm."""
    fraction = min(max(fraction, 0.0), 1.0)
    return tqdm.format_meter(
        round(fraction * 1000), 1000, 0, ascii=ascii_only, bar_format=f"{{bar:{width}}}"
    )


@dataclass
class ProgressState:
    """What the line shows; filled by the hooks and the timebase."""

    planned: dict[str, float]  # test id -> planned seconds on a real bench
    done: set[str] = field(default_factory=set)
    current: str | None = None
    item_start: float | None = None  # the session timebase's time when the item began
    item_elapsed: float = 0.0
    load: str = "source off"
    fails: dict[int, int] = field(default_factory=dict)  # position -> failed verdicts
    last_error: str = ""

    @property
    def total(self) -> float:
        return sum(self.planned.values())

    def remaining(self) -> tuple[float, float]:
        """(seconds left of the current item, seconds left of the whole run)."""
        item = 0.0
        if self.current is not None and self.current not in self.done:
            item = max(0.0, self.planned.get(self.current, 0.0) - self.item_elapsed)
        later = sum(s for t, s in self.planned.items() if t not in self.done and t != self.current)
        return item, item + later

    def line(self, ascii_only: bool = False) -> str:
        count, total = len(self.planned), self.total
        index = len(self.done) + (0 if self.current in self.done or self.current is None else 1)
        item_left, run_left = self.remaining()
        parts = []
        if self.current is not None:
            planned = self.planned.get(self.current, 0.0)
            frac = 1.0 if self.current in self.done else (
                self.item_elapsed / planned if planned > 0 else 0.0)
            name = self.current.rpartition("[")[2].rstrip("]") or self.current
            parts.append(f"[{index:>{len(str(count))}}/{count}] {name}  "
                         f"{bar(frac, 10, ascii_only)} {min(frac, 1.0):4.0%} "
                         f"{hms(item_left)} left")
        run_frac = 1.0 - run_left / total if total > 0 else 1.0
        parts.append(f"run {bar(run_frac, 10, ascii_only)} {run_frac:4.0%} {hms(run_left)} left")
        parts.append(self.load)
        if self.fails or self.current is not None:
            states = " ".join(
                f"{p} FAIL×{n}" if n else f"{p} ok" for p, n in sorted(self.fails.items())
            )
            parts.append(f"pos {states}" if states else "pos ok")
        if self.last_error:
            parts.append(f"last: {self.last_error}")
        return " | ".join(parts)


class RunProgress:
    """A pytest plugin object: registered by rig.pytest_plugin when plan tests are collected.

    `writer`: pytest's TerminalWriter (`config.get_terminal_writer()`); `session`: a callable
    giving the rig session once it exists (None before), from which the timebase (its time and
    its waits) and the bench (its load point) are read.
    """

    def __init__(
        self,
        writer: Any,
        capture: Any,
        planned: Mapping[str, float],
        session: Callable[[], Any],
        *,
        tty: bool | None = None,
        width: int | None = None,
        interval_s: float = 300.0,
        refresh_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.writer = writer
        self.capture = capture
        self.state = ProgressState(dict(planned))
        self._session = session
        self.tty = writer.hasmarkup if tty is None else tty  # pytest's own test for a terminal
        self.width = writer.fullwidth if width is None else width
        self.interval_s = interval_s
        self.refresh_s = refresh_s
        self._clock = clock
        self._last_write = -math.inf
        self._attached: Any = None
        self._live = False  # our line is the last one on the terminal

    # --- the pytest hooks ------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)  # after pytest wrote the test file's name
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        if nodeid not in self.state.planned:
            return
        self.state.current = nodeid
        self.state.item_start = None
        self.state.item_elapsed = 0.0
        self._tick()  # the item's start on the session's timebase (from the second item on)
        self._show(force=True)

    @pytest.hookimpl(tryfirst=True)  # before pytest writes the test's letter after our line
    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.nodeid not in self.state.planned:
            return
        if report.failed:
            text = getattr(report, "longreprtext", "") or ""
            first = next((ln.strip() for ln in text.splitlines() if ln.strip().startswith("E ")),
                         "")
            name = report.nodeid.rpartition("[")[2].rstrip("]")
            self.state.last_error = f"{name}: {first.removeprefix('E').strip() or report.outcome}"
        if report.when == "call":
            self._tick()  # the session may be closed by the teardown that follows
            self._finish(report.nodeid)

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        if nodeid in self.state.planned and nodeid not in self.state.done:
            self._finish(nodeid)  # no call phase (setup failed or skipped)

    def _finish(self, nodeid: str) -> None:
        self.state.done.add(nodeid)
        self._show(force=True, final=True)

    # --- what the plans report ----------------------------------------------------------------
    def measured(self, m: Any) -> None:
        """A measurement's verdict as it is recorded (Recorder's on_record): the position's
        state."""
        failed = str(getattr(m.verdict, "value", m.verdict)) != "pass"
        self.state.fails[m.position] = self.state.fails.get(m.position, 0) + failed

    # --- the timebase's waits (rig.timebase.Timebase.observer) --------------------------------
    def bar(self, total: float, label: str) -> _WaitBar:
        return _WaitBar(self, total)

    # --- drawing ------------------------------------------------------------------------------
    def _tick(self) -> None:
        """Read the session's time and load point (the session exists from the first test)."""
        session = self._session()
        if session is None:
            return
        timebase = getattr(session, "timebase", None)
        if timebase is not None:
            if self._attached is not timebase:
                timebase.observer = self
                self._attached = timebase
            now = timebase.now()
            if self.state.item_start is None:
                self.state.item_start = now
            self.state.item_elapsed = now - self.state.item_start
        bench = getattr(session, "bench", None)
        if bench is not None:
            self.state.load = load_text(getattr(bench, "point", None))

    def _show(self, *, force: bool = False, final: bool = False) -> None:
        now = self._clock()
        due = self.refresh_s if self.tty else self.interval_s
        if not force and now - self._last_write < due:
            return
        if not self.tty and not final and force:
            return  # a log gets a line when an item ends or after interval_s, not at each start
        self._last_write = now
        line = self.state.line(ascii_only=not self.tty)
        with self._uncaptured():
            if self.writer.width_of_current_line > 0:  # pytest wrote after our line
                self.writer.write("\n")
                self._live = False
            if self.tty:
                line = line[: self.width - 1]  # one terminal line: a wrap would break rewriting
                line = (REWRITE_LINE if self._live else "") + line
            self.writer.write(line + "\n", flush=True)
        self._live = self.tty and not final

    def _uncaptured(self) -> Any:
        if self.capture is None:
            return nullcontext()
        return self.capture.global_and_fixture_disabled()


class _WaitBar:
    """What a timebase's long wait updates (`update(seconds)` and `close()`, as tqdm's bar)."""

    def __init__(self, progress: RunProgress, total: float) -> None:
        self.progress = progress
        self.total = round(total)
        self.n = 0

    def update(self, k: int) -> None:
        self.n += k
        self.progress._tick()
        self.progress._show()

    def close(self) -> None:
        self.progress._tick()

