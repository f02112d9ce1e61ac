"""rig.timebase: wall time with a fake clock (no real sleeping) and virtual time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rig import timebase
from rig.timebase import TimebaseTimeout, VirtualTimebase, WallTimebase


class FakeWall:
    """A clock whose sleep moves time instantly, recording each sleep."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        assert s >= 0
        self.sleeps.append(s)
        self.t += s


class FakeControl:
    def __init__(self) -> None:
        self.t = 5000.0
        self.advances: list[float] = []

    def time(self) -> float:
        return self.t

    def advance(self, dt: float) -> float:
        self.advances.append(dt)
        self.t += dt
        return self.t


def wall(**kw) -> tuple[WallTimebase, FakeWall]:
    clock = FakeWall()
    return WallTimebase(sleep=clock.sleep, clock=clock.time, progress=False, **kw), clock


def test_wall_dwell_sleeps_in_short_steps_and_keeps_the_watchdog_fed() -> None:
    fed: list[float] = []
    clock = FakeWall()
    tb = WallTimebase(lambda: fed.append(clock.t), keepalive_s=0.0001, step_s=0.2,
                      sleep=clock.sleep, clock=clock.time, progress=False)
    tb.dwell(3.0)
    assert clock.t == pytest.approx(1003.0)
    assert max(clock.sleeps) <= 0.2 + 1e-12
    assert len(clock.sleeps) == 15
    # Fed before the first step and after every step.
    assert len(fed) == 16
    assert fed[0] == 1000.0


def test_wall_keepalive_is_spaced_by_keepalive_s() -> None:
    calls = []
    clock = FakeWall()
    tb = WallTimebase(lambda: calls.append(1), keepalive_s=3600.0, sleep=clock.sleep,
                      clock=clock.time, progress=False)
    tb.dwell(5.0)
    assert len(calls) == 1            # the forced one at the start; the next is not due yet


def test_wall_wait_until_polls_and_returns_the_waited_time() -> None:
    tb, clock = wall(step_s=0.2)
    checks: list[float] = []

    def ready() -> bool:
        checks.append(clock.t)
        return clock.t >= 1004.5

    waited = tb.wait_until(ready, expected_s=4, timeout_s=60, poll_s=1.0)
    assert waited == pytest.approx(5.0)
    assert checks[0] == 1000.0 and checks[1:] == pytest.approx([1001, 1002, 1003, 1004, 1005])


def test_wall_wait_until_times_out_with_a_clear_error() -> None:
    tb, clock = wall()
    with pytest.raises(TimebaseTimeout, match=r"ec ready: condition not met within 3 s"):
        tb.wait_until(lambda: False, expected_s=1, timeout_s=3, poll_s=0.5, label="ec ready")
    assert clock.t == pytest.approx(1003.0)


class Observer:
    """Records what a timebase reports of its long waits (as rig.progress.RunProgress)."""

    def __init__(self) -> None:
        self.bars: list[tuple[float, str]] = []
        self.updates: list[int] = []
        self.closed = 0

    def bar(self, total: float, label: str) -> Observer:
        self.bars.append((total, label))
        self.n, self.total = 0, round(total)
        return self

    def update(self, k: int) -> None:
        self.n += k
        self.updates.append(self.n)

    def close(self) -> None:
        self.closed += 1


def test_wall_reports_a_long_dwell_to_its_observer_and_not_a_short_one() -> None:
    clock = FakeWall()
    tb = WallTimebase(sleep=clock.sleep, clock=clock.time, progress=True, progress_min_s=10,
                      step_s=1.0)
    tb.observer = seen = Observer()
    tb.dwell(30.0, label="warm-up")
    tb.dwell(5.0, label="short")
    assert clock.t == pytest.approx(1035.0)
    assert seen.bars == [(30.0, "warm-up")] and seen.closed == 1
    # One update a step, each the whole seconds passed so far, ending at the dwell's length.
    assert seen.updates == list(range(1, 31))


def test_virtual_dwell_is_one_advance() -> None:
    ctl = FakeControl()
    fed = []
    tb = VirtualTimebase(ctl, keepalive=lambda: fed.append(1))
    tb.dwell(3600.0)
    assert ctl.advances == [3600.0]
    assert tb.now() == 8600.0
    assert fed                         # fed at least once per dwell


def test_virtual_wait_jumps_to_expected_then_polls() -> None:
    ctl = FakeControl()
    tb = VirtualTimebase(ctl)
    waited = tb.wait_until(lambda: ctl.t >= 5000 + 32.5, expected_s=30, timeout_s=100,
                           poll_s=1.0)
    assert ctl.advances == [30.0, 1.0, 1.0, 1.0]
    assert waited == 33.0


def test_virtual_wait_timeout_counts_virtual_seconds() -> None:
    ctl = FakeControl()
    tb = VirtualTimebase(ctl)
    with pytest.raises(TimebaseTimeout, match="within 10 s"):
        tb.wait_until(lambda: False, expected_s=4, timeout_s=10, poll_s=4)
    assert sum(ctl.advances) == 10.0
    assert ctl.advances == [4.0, 4.0, 2.0]


def test_condition_already_true_costs_nothing() -> None:
    ctl = FakeControl()
    assert VirtualTimebase(ctl).wait_until(lambda: True, 10, 20) == 0.0
    assert ctl.advances == []


def test_without_check_first_the_condition_is_first_asked_at_the_first_poll() -> None:
    ctl = FakeControl()
    asked: list[float] = []
    tb = VirtualTimebase(ctl)
    assert tb.wait_until(lambda: not asked.append(ctl.t), 10, 20, check_first=False) == 10.0
    assert asked == [5010.0] and ctl.advances == [10.0]
    wall_tb, clock = wall()
    asked.clear()
    assert wall_tb.wait_until(lambda: not asked.append(clock.t), 10, 20, poll_s=2.0,
                              check_first=False) == 2.0
    assert asked == [1002.0]


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_durations_are_refused(bad: float) -> None:
    tb = VirtualTimebase(FakeControl())
    with pytest.raises(ValueError, match="dwell seconds"):
        tb.dwell(bad)
    with pytest.raises(ValueError, match="poll_s"):
        tb.wait_until(lambda: True, 1, 1, poll_s=0)


def test_a_stop_request_ends_a_wall_dwell_of_hours_at_once() -> None:
    import threading
    import time

    from rig.safety import StopRequest, StopRequested

    stop = StopRequest()
    tb = WallTimebase(progress=False, stop=stop)  # real sleeping, woken by the request
    threading.Timer(0.1, stop.request, args=("SIGINT received",)).start()
    start = time.monotonic()
    with pytest.raises(StopRequested, match="SIGINT received"):
        tb.dwell(4 * 3600.0)
    assert time.monotonic() - start < 10  # not hours (generous bound: loaded machine)


@pytest.mark.parametrize("kind", ["wall", "virtual"])
def test_after_a_stop_request_no_wait_step_is_taken(kind: str) -> None:
    from rig.safety import StopRequest, StopRequested

    stop = StopRequest()
    clock, control = FakeWall(), FakeControl()
    tb = (WallTimebase(sleep=clock.sleep, clock=clock.time, progress=False, stop=stop)
          if kind == "wall" else VirtualTimebase(control, stop=stop))
    polls = []

    def condition() -> bool:
        polls.append(1)
        if len(polls) == 2:
            stop.request("SIGTERM received")
        return False

    with pytest.raises(StopRequested):
        tb.wait_until(condition, expected_s=10.0, timeout_s=100.0, poll_s=1.0)
    assert len(polls) == 2  # the wait ended at its first step after the request
    with pytest.raises(StopRequested):
        tb.dwell(5.0)
    assert clock.sleeps == [] or sum(clock.sleeps) <= 12.0
    assert sum(control.advances) <= 11.0


def test_virtual_keepalives_fall_at_the_same_virtual_instants_however_slow_the_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each keep-alive is a request to the simulator; made when the wall clock says so, it
    moved the meters on in steps that differed run to run (83 of 698 rows of two full-plan
    runs differed by a digit or a pulse). On the virtual timebase they are spaced by the
    virtual time moved: a run on a machine whose wall clock races ahead feeds at exactly the
    same virtual instants as one on an idle machine."""

    def instants(wall_step: float) -> list[float]:
        ctl = FakeControl()
        fed: list[float] = []
        tb = VirtualTimebase(ctl, keepalive=lambda: fed.append(ctl.t), keepalive_s=0.5)
        ticks = iter(range(0, 10**6))
        # The machine's clocks as rig.timebase sees them, each reading wall_step later.
        monkeypatch.setattr(timebase, "time", SimpleNamespace(
            monotonic=lambda: next(ticks) * wall_step, time=lambda: next(ticks) * wall_step))
        # A wait polled in 0.2 s steps for 3 s, then a dwell: as the plans take them.
        tb.wait_until(lambda: ctl.t >= 5003.0, expected_s=1.0, timeout_s=10, poll_s=0.2)
        tb.dwell(60.0)
        return fed

    idle, loaded = instants(0.001), instants(5.0)
    assert idle == loaded
    # Fed at the wait's first step, then every 0.5 s of virtual time, then around the dwell.
    assert idle[0] == 5001.0 and len(idle) >= 6
