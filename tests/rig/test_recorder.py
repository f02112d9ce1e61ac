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


def test_a_batch_goes_to_the_store_in_one_call(recorder, monkeypatch):
    """One `record_many` per point batch: one round trip on PostgreSQL (its own test in
    tests/reports/test_store.py counts the protocol's exchanges)."""
    calls = []
    keep = recorder.store.record_many
    monkeypatch.setattr(recorder.store, "record_many", lambda ms: calls.append(
        [m.position for m in ms]) or keep(ms))
    with recorder.batch():
        for n in (1, 2, 3):
            record(recorder, n)
    assert calls == [[1, 2, 3]]
    assert [m.position for m in recorder.taken] == [1, 2, 3]


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


# --- the point protocol (Recorder.measure / start / Take) -----------------------------------

def _resumed(store, run_id: str) -> Recorder:
    return Recorder(store, run_id, "simple", "testplans/test_x.py::test_y", "accuracy", "8.1",
                    completed=store.completed_keys(run_id))


def _measure_all(recorder: Recorder, points: list[dict], values: dict[int, float],
                 **options) -> list[list[dict]]:
    """One plan test on the protocol: what it was asked to measure, take by take."""
    asked = []
    for take in recorder.measure([1, 2], points, **options):
        asked.append(list(take.points))
        for point in take.points:
            for n, v in values.items():
                take.record(n, point, "active energy error", v, "%",
                            limit_low=-0.5, limit_high=0.5)
    return asked


def test_measure_takes_each_point_once_and_commits_each_when_the_next_begins(recorder):
    points = [{"load": 0.1}, {"load": 1.0}]
    seen = []
    for take in recorder.measure([1, 2], points):
        seen.append(other_connection_sees(recorder))  # the previous take is committed
        take.record(1, take.points[0], "active energy error", 0.1, "%",
                    limit_low=-0.5, limit_high=0.5)
        take.record(2, take.points[0], "active energy error", 0.2, "%",
                    limit_low=-0.5, limit_high=0.5)
        assert other_connection_sees(recorder) == seen[-1]  # a take's records wait for its end
    assert seen == [0, 2]
    assert other_connection_sees(recorder) == 4
    events = [e for e in recorder.store.events(recorder.run_id) if e.kind == "point_started"]
    assert len(events) == 4  # each point marked started at both positions


def test_measure_asserts_every_verdict_when_the_loop_ends(recorder):
    with pytest.raises(AssertionError, match=r"position 2 active energy error FAIL: 0\.7 %"):
        _measure_all(recorder, [{"load": 1.0}], {1: 0.1, 2: 0.7})
    assert other_connection_sees(recorder) == 2  # stored before the verdict


def test_a_take_that_raises_stores_nothing_and_a_resumed_run_measures_only_that_point(tmp_path):
    points = [{"load": 0.1}, {"load": 0.5}, {"load": 1.0}]
    with ResultsStore.in_runs_dir(tmp_path / "runs") as store:
        run = store.create_run(plan_name="p", plan_version="1", operator="op",
                               software_version="0")
        first = _resumed(store, run.run_id)
        with pytest.raises(RuntimeError, match="killed"):
            for take in first.measure([1, 2], points):
                for n in (1, 2):
                    take.record(n, take.points[0], "active energy error", 0.1, "%",
                                limit_low=-0.5, limit_high=0.5)
                if take.points[0] == points[1]:
                    raise RuntimeError("killed in the second point")
        assert len(store.measurements(run.run_id)) == 2  # the first point only
        resumed = _resumed(store, run.run_id)
        assert _measure_all(resumed, points, {1: 0.2, 2: 0.2}) == [[points[1]], [points[2]]]
        # The stored point's rows are asserted with the new ones; nothing was taken twice.
        assert len(resumed.taken) == 6
        assert sorted(m.value for m in store.measurements(run.run_id)) == [0.1, 0.1] + [0.2] * 4


def test_together_measures_the_experiment_again_as_a_whole_or_not_at_all(tmp_path):
    points = [{"check": "register"}, {"check": "constant"}]
    with ResultsStore.in_runs_dir(tmp_path / "runs") as store:
        run = store.create_run(plan_name="p", plan_version="1", operator="op",
                               software_version="0")
        first = _resumed(store, run.run_id)
        assert _measure_all(first, points, {1: 0.1, 2: 0.1}, together=True) == [points]
        again = _resumed(store, run.run_id)
        assert _measure_all(again, points, {1: 0.3, 2: 0.3}, together=True) == []
        assert [m.value for m in again.taken] == [0.1] * 4  # the stored ones, re-asserted


def test_a_take_record_keeps_the_start_it_is_given(recorder):
    take = recorder.start([1], {"load": 1.0})
    take.record(1, {"load": 1.0}, "active energy error", 0.1, "%", limit_low=-0.5,
                limit_high=0.5, started_at=12.5)
    assert other_connection_sees(recorder) == 0
    take.commit()
    (m,) = recorder.store.measurements(recorder.run_id)
    assert m.started_at == 12.5
    assert m.ended_at >= take.started_at
