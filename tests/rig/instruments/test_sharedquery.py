"""SharedQuery: callers asking while a query is in flight share its answer."""

import threading

import pytest

from rig.instruments.sharedquery import SharedQuery


def test_callers_during_a_query_share_it_and_later_callers_ask_again():
    inside, release = threading.Event(), threading.Event()
    calls = []

    def query():
        calls.append(1)
        inside.set()
        release.wait(10)
        return len(calls) * 1e8

    shared = SharedQuery(query)
    answers = []
    first = threading.Thread(target=lambda: answers.append(shared.get()))
    first.start()
    assert inside.wait(10)
    waiters = [threading.Thread(target=lambda: answers.append(shared.get())) for _ in range(5)]
    for t in waiters:
        t.start()
    while shared._cond._waiters.__len__() < 5:  # every waiter is waiting on the flight
        threading.Event().wait(0.01)
    release.set()
    for t in [first, *waiters]:
        t.join(10)
    assert answers == [1e8] * 6 and len(calls) == 1
    assert shared.get() == 2e8  # asked after the flight: a query of its own


def test_a_failing_query_fails_every_caller_and_the_next_asks_again():
    results = iter([ConnectionError("reference gone"), 5e8])

    def query():
        r = next(results)
        if isinstance(r, Exception):
            raise r
        return r

    shared = SharedQuery(query)
    with pytest.raises(ConnectionError, match="reference gone"):
        shared.get()
    assert shared.get() == 5e8
