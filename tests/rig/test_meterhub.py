"""rig.meterhub: cooperative tasks waiting on descriptors (os pipes) in one thread."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from meter.iec62056_21.client import INPUT_WAIT, wait_in_place
from rig.meterhub import run_tasks


@pytest.fixture
def pipes() -> Iterator[list[tuple[int, int]]]:
    made = [os.pipe() for _ in range(3)]
    yield made
    for r, w in made:
        os.close(r)
        os.close(w)


def wait(fd: int | None, seconds: float) -> bool:
    """What a client does: the task's wait, or in place outside a task."""
    return (INPUT_WAIT.get() or wait_in_place)(fd, seconds)


def test_a_task_waiting_lets_the_others_run_and_is_resumed_by_its_input(pipes) -> None:
    (r1, w1), (r2, w2), _ = pipes
    log: list[str] = []

    def first() -> bytes:
        log.append("first waits")
        assert wait(r1, 30.0)  # readable long before the time-out: the second task wrote
        log.append("first resumed")
        return os.read(r1, 10)

    def second() -> bytes:
        log.append("second writes")
        os.write(w1, b"one")
        assert wait(r2, 30.0)
        return os.read(r2, 10)

    def third() -> str:
        os.write(w2, b"two")
        return threading.current_thread().name

    assert run_tasks([first, second, third]) == [b"one", b"two",
                                                  threading.current_thread().name]
    # Served in order; the first resumes only once the others have waited or ended.
    assert log == ["first waits", "second writes", "first resumed"]


def test_a_silent_descriptor_times_out_while_the_others_are_served(pipes) -> None:
    (silent, _), two, three = pipes
    done: dict[str, float] = {}

    def waits_in_vain() -> bool:
        got = wait(silent, 1.0)
        done["silent"] = time.monotonic()
        return got

    def answered(k: int, pipe: tuple[int, int]) -> int:
        for _ in range(k):
            os.write(pipe[1], b"x")
            assert wait(pipe[0], 30.0)
            os.read(pipe[0], 1)
        done[f"answered {k}"] = time.monotonic()
        return k

    start = time.monotonic()
    assert run_tasks([waits_in_vain, lambda: answered(3, two),
                      lambda: answered(5, three)]) == [False, 3, 5]
    # The time-out came after its full second, and no earlier than the others' answers.
    assert done["silent"] - start >= 1.0
    assert max(done["answered 3"], done["answered 5"]) <= done["silent"]


def test_a_pause_yields_like_a_wait() -> None:
    order: list[str] = []

    def pauses() -> None:
        assert wait(None, 0.2) is False
        order.append("paused")

    assert run_tasks([pauses, lambda: order.append("ran meanwhile")]) == [None, None]
    assert order == ["ran meanwhile", "paused"]


def test_every_task_ends_then_the_first_error_in_order_is_raised() -> None:
    ended: list[int] = []

    def fails_late() -> None:
        wait(None, 0.1)
        ended.append(1)
        raise KeyError("first in order")

    def fails_early() -> None:
        ended.append(2)
        raise ValueError("second in order, raised first")

    def succeeds() -> None:
        wait(None, 0.2)
        ended.append(3)

    with pytest.raises(KeyError, match="first in order"):
        run_tasks([fails_late, fails_early, succeeds])
    assert sorted(ended) == [1, 2, 3]


def test_an_interrupt_ends_the_other_tasks_through_their_clean_up(pipes) -> None:
    (r1, _), (r2, w2), _ = pipes
    cleaned: list[str] = []
    in_place: list[bool] = []

    def waiting() -> None:
        try:
            wait(r1, 30.0)  # nobody writes: ended by the interrupt, not by the time-out
        finally:
            # A client signing off here may wait: it does so in place, the hub being gone.
            os.write(w2, b"bye")
            in_place.append(wait(r2, 5.0))
            cleaned.append("waiting")

    def interrupted() -> None:
        wait(None, 0.05)
        raise KeyboardInterrupt

    start = time.monotonic()
    def pausing() -> None:
        wait(None, 30.0)
        cleaned.append("pause over")  # not reached: ended during its pause

    with pytest.raises(KeyboardInterrupt):
        run_tasks([waiting, interrupted, pausing])
    assert time.monotonic() - start < 20.0
    assert cleaned == ["waiting"] and in_place == [True]

    def interrupted_at_once() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # the next task is ended before it started
        run_tasks([interrupted_at_once, lambda: cleaned.append("started")])
    assert cleaned == ["waiting"]


def test_the_wait_is_the_tasks_own_and_ends_with_it() -> None:
    assert INPUT_WAIT.get() is None
    seen = run_tasks([INPUT_WAIT.get, INPUT_WAIT.get])
    assert all(callable(w) for w in seen)
    assert INPUT_WAIT.get() is None  # the caller's context is untouched


def test_tasks_inside_a_task_run_on_a_hub_of_their_own(pipes) -> None:
    (r1, w1), _, _ = pipes

    def inner() -> list[object]:
        return run_tasks([lambda: wait(r1, 30.0), lambda: os.write(w1, b"1")])

    assert run_tasks([inner, lambda: "outer"]) == [[True, 1], "outer"]


def test_two_tasks_cannot_wait_on_one_descriptor(pipes) -> None:
    (r1, _), _, _ = pipes
    with pytest.raises(RuntimeError, match=f"descriptor {r1}"):
        run_tasks([lambda: wait(r1, 0.5), lambda: wait(r1, 0.5)])
