"""The run's progress line: what it says, and how it is written on a terminal and in a log."""

from __future__ import annotations

from types import SimpleNamespace

from rig.instruments.loadpoint import LoadPoint
from rig.progress import REWRITE_LINE, ProgressState, RunProgress, hms, load_text


class Writer:
    """The part of pytest's TerminalWriter the progress line writes through."""

    def __init__(self, tty: bool = False) -> None:
        self.out: list[str] = []
        self.hasmarkup = tty
        self.fullwidth = 400

    def write(self, text: str, flush: bool = False) -> None:
        self.out.append(text)

    @property
    def width_of_current_line(self) -> int:
        return len("".join(self.out).rpartition("\n")[2])


class Capture:
    """Counts how often capture was suspended around a write (pytest's capture manager)."""

    def __init__(self) -> None:
        self.suspended = 0

    def global_and_fixture_disabled(self):
        from contextlib import contextmanager

        @contextmanager
        def cm():
            self.suspended += 1
            yield

        return cm()


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


PLANNED = {"t.py::test[a]": 3600.0, "t.py::test[b]": 1800.0, "t.py::test[c]": 1800.0}


def _session(clock: Clock, point=None):
    return SimpleNamespace(timebase=SimpleNamespace(now=clock.now, observer=None),
                           bench=SimpleNamespace(point=point))


def test_times_and_load_text() -> None:
    assert (hms(12), hms(247), hms(7500)) == ("12 s", "4 min 07 s", "2 h 05 min")
    assert load_text(None) == "source off"
    assert load_text(LoadPoint.balanced(230, 5, "0.5L")) == "230 V 5 A 60° 50 Hz"


def test_line_holds_item_run_load_positions_and_last_error() -> None:
    state = ProgressState(dict(PLANNED))
    state.done.add("t.py::test[a]")
    state.current, state.item_elapsed = "t.py::test[b]", 900.0
    state.load, state.fails = "230 V 5 A 0° 50 Hz", {1: 0, 2: 3}
    state.last_error = "b: position 2 FAIL"
    line = state.line(ascii_only=True)
    # Item b half done (15 min of 30 left); the run: 15 + 30 min of 2 h left.
    assert line.startswith("[2/3] b  #####")
    assert " 50% 15 min 00 s left | run " in line and " 62% 45 min 00 s left" in line
    assert line.endswith("| 230 V 5 A 0° 50 Hz | pos 1 ok 2 FAIL×3 | last: b: position 2 FAIL")


def _drive(progress: RunProgress, writer: Writer, clock: Clock) -> None:
    """Three items; the second waits 1800 s through the timebase in steps of 60 s and records
    a failed verdict at position 2; pytest writes its letter after each call report."""
    for nodeid in PLANNED:
        progress.pytest_runtest_logstart(nodeid, None)
        if nodeid.endswith("[b]"):
            wait = progress.bar(1800, "dwell")
            for _ in range(30):
                clock.t += 60
                wait.update(60)
            wait.close()
            progress.measured(SimpleNamespace(position=1, verdict="pass"))
            progress.measured(SimpleNamespace(position=2, verdict="fail"))
        progress.pytest_runtest_logreport(SimpleNamespace(nodeid=nodeid, when="call",
                                                          failed=False))
        writer.write(".")
        progress.pytest_runtest_logfinish(nodeid, None)


def test_in_a_log_one_line_per_item_and_no_carriage_returns() -> None:
    writer, capture, clock, wall = Writer(), Capture(), Clock(), Clock()
    session = _session(clock, LoadPoint.balanced(230, 5, "1"))
    progress = RunProgress(writer, capture, PLANNED, lambda: session, interval_s=600,
                           clock=wall.now)
    _drive(progress, writer, clock)
    text = "".join(writer.out)
    assert "\r" not in text and "\x1b" not in text
    lines = [ln for ln in text.splitlines() if ln != "."]
    assert [ln.split("]")[0] for ln in lines] == ["[1/3", "[2/3", "[3/3"]
    assert lines[1].endswith("pos 1 ok 2 FAIL×1")
    assert lines[-1].startswith("[3/3] c") and "run ########## 100% 0 s left" in lines[-1]
    assert "230 V 5 A 0° 50 Hz" in lines[0]
    assert session.timebase.observer is progress  # the timebase reports its waits here
    # Each line written with pytest's capture suspended; none during the wait (the wall
    # clock did not reach interval_s).
    assert capture.suspended == 3


def test_on_a_terminal_the_line_is_rewritten_in_place_during_a_long_wait() -> None:
    writer, clock, wall = Writer(tty=True), Clock(), Clock()
    session = _session(clock)
    progress = RunProgress(writer, None, PLANNED, lambda: session, refresh_s=0.0,
                           clock=wall.now)
    _drive(progress, writer, clock)
    during = [t for t in writer.out if "] b " in t]
    # Start, 30 wait updates, end of item b: the start written as a new line, every later
    # one rewriting it, each a whole line (pytest's output starts on a line of its own).
    assert len(during) == 32 and all(t.endswith("\n") for t in during)
    assert not during[0].startswith(REWRITE_LINE)
    assert all(t.startswith(REWRITE_LINE) for t in during[1:])
    assert "50%" in during[15] and "15 min 00 s left" in during[15]
    assert "100%" in during[-1]
    # What pytest wrote after a finished item is kept: the next item starts on a new line.
    text = "".join(writer.out)
    assert ".\n[2/3] b" in text and ".\n[3/3] c" in text
