"""ECGroup: batching owners get one call per step, other calculators one call each."""

import threading
import time
from dataclasses import dataclass, field

import pytest

from rig.instruments.ecgroup import ECGroup
from rig.instruments.roles import ECResult, ECState, ECStatus, Quantity
from rig.instruments.sharedquery import SharedQuery
from tests.rig.instruments.test_steps import POLL, RUNNING, START, Logged, mads, ok


@dataclass
class LoneEC:
    """A calculator whose instrument does not batch (e.g. one device per position)."""

    position: int
    calls: list = field(default_factory=list)

    def configure(self, meter_constant, pulses, quantity, continuous=False):
        self.calls.append(("configure", meter_constant, pulses, quantity, continuous))

    def start(self):
        self.calls.append(("start",))

    def abort(self):
        self.calls.append(("abort",))

    def state(self):
        return ECState.RUNNING

    def status(self):
        return ECStatus(ECState.RUNNING, 50.0, None, 100, 49, 0)

    def result(self):
        return ECResult(0.5, 49)

    def reference_constant(self):
        return 1e6


class Owner:
    """An instrument that batches its calculators and records each batch."""

    def __init__(self):
        self.batches = []

    def configure_many(self, ecs, meter_constant, pulses, quantity, continuous=False):
        self.batches.append(("configure", [e.position for e in ecs], pulses))

    def start_many(self, ecs):
        self.batches.append(("start", [e.position for e in ecs]))

    def abort_many(self, ecs):
        self.batches.append(("abort", [e.position for e in ecs]))

    def states_of(self, ecs):
        self.batches.append(("states", [e.position for e in ecs]))
        return [ECState.READY for _ in ecs]

    def statuses_of(self, ecs):
        self.batches.append(("statuses", [e.position for e in ecs]))
        return [ECStatus(ECState.READY, 100.0, e.position / 10, 100, 100, 1) for e in ecs]

    def results_of(self, ecs):
        self.batches.append(("results", [e.position for e in ecs]))
        return [ECResult(e.position / 10, 100) for e in ecs]


@dataclass
class OwnedEC(LoneEC):
    parent: Owner | None = None


def make():
    owner = Owner()
    ecs = {1: OwnedEC(1, parent=owner), 2: LoneEC(2), 3: OwnedEC(3, parent=owner)}
    return owner, ecs, ECGroup(ecs)


def test_batched_positions_share_one_call_per_step_and_results_keep_position_ids():
    owner, ecs, group = make()
    group.configure(1000, 20, Quantity.ACTIVE)
    group.start()
    states = group.states()
    assert states == {1: ECState.READY, 3: ECState.READY, 2: ECState.RUNNING}
    assert list(states) == [1, 2, 3]  # in the group's order, however the batches fell
    statuses = group.statuses()
    results = group.results()
    group.abort()
    assert statuses[1].error == pytest.approx(0.1) and statuses[3].error == pytest.approx(0.3)
    assert statuses[2].error is None and statuses[2].progress == 50.0
    assert list(results) == [1, 2, 3]
    assert results[3] == ECResult(pytest.approx(0.3), 100) and results[2] == ECResult(0.5, 49)
    assert owner.batches == [("configure", [1, 3], 20), ("start", [1, 3]), ("states", [1, 3]),
                             ("statuses", [1, 3]), ("results", [1, 3]), ("abort", [1, 3])]
    assert ecs[2].calls == [("configure", 1000, 20, Quantity.ACTIVE, False), ("start",),
                            ("abort",)]
    assert ecs[1].calls == []  # never driven on its own


def test_subset_keeps_only_the_named_positions_and_refuses_strangers():
    owner, _ecs, group = make()
    assert group.subset([3]).states() == {3: ECState.READY}
    assert owner.batches == [("states", [3])]
    with pytest.raises(KeyError, match=r"\[9\]"):
        group.subset([9])


def test_separate_instruments_are_driven_at_the_same_time():
    # Each start waits until all three are inside start(): only calls made at the same time
    # get past the barrier (timeout: they would be one after the other).
    barrier = threading.Barrier(3, timeout=10)

    @dataclass
    class Meeting(LoneEC):
        def start(self):
            barrier.wait()
            super().start()

    ecs = {p: Meeting(p) for p in (1, 2, 3)}
    group = ECGroup(ecs)
    group.start()
    assert all(ec.calls == [("start",)] for ec in ecs.values())
    assert group.subset([2, 3]).states() == {2: ECState.RUNNING, 3: ECState.RUNNING}
    group.close()


def test_a_failing_instrument_raises_after_every_other_finished():
    finished = []

    @dataclass
    class Slow(LoneEC):
        def abort(self):
            time.sleep(0.2)
            finished.append(self.position)

    @dataclass
    class Broken(LoneEC):
        def abort(self):
            raise ConnectionError("position 1 unreachable")

    group = ECGroup({1: Broken(1), 2: Slow(2), 3: Slow(3)})
    with pytest.raises(ConnectionError, match="position 1"):
        group.abort()
    assert sorted(finished) == [2, 3]  # nothing left half done when the error is raised
    group.close()


def test_stepped_calculators_are_driven_in_one_pass_around_the_batches():
    # Positions 2 and 3 on a ZERA MAD each (transcripts as in test_zera_mad), 1 and 4 batched:
    # both MAD requests go out, the batch runs while they are in flight, then both replies
    # are read; one thread.
    log: list[str] = []
    owner = Owner()
    start_many = owner.start_many
    owner.start_many = lambda ecs: (log.append("batch"), start_many(ecs))[1]
    stepped = mads({p: [(START, ok("runErrorMeasureRes", job="j1")), (POLL, RUNNING)]
                    for p in (2, 3)}, log, SharedQuery(lambda: 5e8))
    for ec in stepped.values():
        ec._run = (20, 10_000_000, False)  # configured (the bind is test_steps' business)
    ecs = {1: OwnedEC(1, parent=owner), 2: stepped[2], 3: stepped[3], 4: OwnedEC(4, parent=owner)}
    group = ECGroup(ecs)
    group.start()
    assert log == ["write mad2", "write mad3", "batch", "read mad2", "read mad3"]
    assert owner.batches == [("start", [1, 4])]
    assert group.states() == {1: ECState.READY, 2: ECState.WAITING, 3: ECState.WAITING,
                              4: ECState.READY}
    assert group._pool is None  # no thread was needed
    for ec in stepped.values():
        assert isinstance(ec.parent.adapter, Logged)
        ec.parent.adapter.assert_done()
