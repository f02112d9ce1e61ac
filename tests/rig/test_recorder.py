"""Recorder.batch: the results of one point at every position are committed together."""

from __future__ import annotations

import sqlite3

import pytest

from reports.records import Verdict
from reports.store import ResultsStore
from rig.recorder import Recorder


@pytest.fixture
def recorder(tmp_path):
    with ResultsStore.in_runs_dir(tmp_path / "runs") as store:
        run = store.create_run(plan_name="p", plan_version="1", operator="op",
                               software_version="0")
        yield Recorder(store, run.run_id, "simple", "testplans/test_x.py::test_y", "accuracy",
                       "8.1", completed=set())


def record(recorder: Recorder, position: int, value: float = 0.1) -> None:
    recorder.record(position, {"load": 1.0}, "active energy error", value, "%",
                    limit_low=-0.5, limit_high=0.5)


def other_connection_sees(recorder: Recorder) -> int:
    """What a second reader (a report built meanwhile, a resumed run) finds committed."""
    with ResultsStore(recorder.store.path) as other:
        return len(other.measurements(recorder.run_id))


def test_a_batch_is_committed_when_it_ends_and_not_before(recorder):
    with recorder.batch():
        record(recorder, 1)
        record(recorder, 2)
        assert other_connection_sees(recorder) == 0
    assert other_connection_sees(recorder) == 2
    record(recorder, 3)  # outside a batch: committed at once
    assert other_connection_sees(recorder) == 3


def test_a_failing_batch_stores_nothing_and_forgets_its_records(recorder):
    record(recorder, 1)
    with pytest.raises(RuntimeError, match="meter 3 unreadable"), recorder.batch():
        record(recorder, 2)
        raise RuntimeError("meter 3 unreadable")
    assert other_connection_sees(recorder) == 1
    assert [m.position for m in recorder.taken] == [1]
    assert recorder.done([1, 2], {"load": 1.0}) is None  # position 2 is measured again


def test_nested_batches_are_one_transaction(recorder):
    with recorder.batch():
        record(recorder, 1)
        with recorder.batch():
            record(recorder, 2)
        assert other_connection_sees(recorder) == 0  # the inner end commits nothing
    assert other_connection_sees(recorder) == 2


def test_started_marks_every_position_in_one_call(recorder):
    recorder.started([1, 2, 3], {"load": 1.0})
    events = [e for e in recorder.store.events(recorder.run_id) if e.kind == "point_started"]
    assert sorted(e.position for e in events) == [1, 2, 3]
    assert {e.data["test_id"] for e in events} == {recorder.test_id}


def test_a_point_completed_in_an_earlier_session_is_never_overwritten(tmp_path):
    """Exactly-once across a kill and a resume: checkpoints committed one by one (as the clock
    test commits its own) are kept; the resumed recorder says which remain, and refuses to
    record a completed one again."""
    from rig.recorder import RecordedBefore

    checkpoints = [{"elapsed_s": 100.0 * k} for k in (1, 2, 3, 4)]
    with ResultsStore.in_runs_dir(tmp_path / "runs") as store:
        run = store.create_run(plan_name="p", plan_version="1", operator="op",
                               software_version="0")

        def session(completed):
            return Recorder(store, run.run_id, "simple", "testplans/test_clock.py::test_clock",
                            "clock", "4.2", completed)

        first = session(set())
        for point in checkpoints[:2]:  # then the run is killed
            with first.batch():
                for n in (1, 2):
                    first.record(n, point, "clock error", 0.01 * n, "s",
                                 limit_low=-1.0, limit_high=1.0)
        resumed = session(store.completed_keys(run.run_id))
        assert resumed.pending([1, 2], checkpoints) == checkpoints[2:]
        assert sorted((m.point["elapsed_s"], m.position) for m in resumed.taken) == [
            (100.0, 1), (100.0, 2), (200.0, 1), (200.0, 2)]
        with pytest.raises(RecordedBefore, match="not measured twice"):
            resumed.record(1, checkpoints[0], "clock error", 0.9, "s",
                           limit_low=-1.0, limit_high=1.0)
        for point in checkpoints[2:]:
            resumed.record(1, point, "clock error", 0.02, "s", limit_low=-1.0, limit_high=1.0)
        rows = store.measurements(run.run_id)
        path = store.path
    first_values = {(m.point["elapsed_s"], m.position): m.value for m in rows}
    assert first_values[(100.0, 1)] == pytest.approx(0.01)  # the first value stands
    with sqlite3.connect(path) as db:
        counts = [c for (c,) in db.execute("SELECT recorded_count FROM measurement")]
    assert counts == [1] * 6  # each point written once, none overwritten


def test_a_measurement_that_could_not_be_taken_fails_with_its_reason(recorder):
    m = recorder.record(1, {"month": 2}, "billing counter", None, "", limit_low=None,
                        limit_high=None, verdict=Verdict.ERROR,
                        message="R1 0.1.2*101: NOT READABLE")
    with pytest.raises(AssertionError, match=r"billing counter ERROR: no value against no limit "
                       r".*R1 0\.1\.2\*101: NOT READABLE"):
        Recorder.assert_all_pass([m])
