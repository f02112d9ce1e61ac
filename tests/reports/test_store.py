import hashlib
import os
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reports.records import (
    DecisionRule,
    Measurement,
    MeasurementKey,
    PositionRecord,
    Repetitions,
    RunStatus,
    Verdict,
)
from reports.schema import SCHEMA_VERSION
from reports.store import ResultsStore, RunNotFoundError, SchemaVersionError, StoreError

REPO = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self, t: float = 1_790_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def _m(run_id: str, test: str = "t.py::test_a", pos: int = 1, load: float = 1.0, **kw):
    fields = dict(run_id=run_id, test_id=test, family="accuracy", position=pos,
                  quantity="active energy error", value=0.12, unit="%", verdict=Verdict.PASS,
                  point={"load": load, "pf": "1", "direction": "import"}, limit_low=-0.5,
                  limit_high=0.5, expanded_uncertainty=0.08)
    fields.update(kw)
    return Measurement(**fields)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    """The same store tests on both backends."""
    if request.param == "sqlite":
        location = tmp_path / "runs" / "results.sqlite"
    else:
        location = request.getfixturevalue("pg_url")
    with ResultsStore(location, clock=FakeClock()) as s:
        yield s


def _run(store, **kw):
    args = dict(plan_name="plan", plan_version="1", operator="op", software_version="0.1.0")
    args.update(kw)
    return store.create_run(**args)


def test_round_trip_of_run_position_and_measurement(store):
    run = _run(store, bench_file="name: b\n", environment={"temperature_C": 23.0},
               decision_rule="guarded")
    assert run.bench_hash == hashlib.sha256(b"name: b\n").hexdigest()
    assert run.status == RunStatus.RUNNING and run.ended_at is None
    store.add_position(PositionRecord(run.run_id, 1, serial="123", manufacturer="ABB",
                                      constants={"active_imp_per_kWh": 10000}))
    m = _m(run.run_id, repetitions=Repetitions(3, 0.12, 0.01), raw={"n_ref": 12345},
           uncertainty_budget={"expanded": 0.08}, clause="8.1", message="ok",
           decision_rule=DecisionRule.GUARDED, started_at=1.0, ended_at=2.0)
    mid = store.record(m)
    back = store.measurements(run.run_id)
    assert len(back) == 1
    b = back[0]
    assert b.id == mid
    assert (b.value, b.limit_low, b.limit_high, b.expanded_uncertainty) == (0.12, -0.5, 0.5, 0.08)
    assert b.point == {"load": 1.0, "pf": "1", "direction": "import"}
    assert b.repetitions == Repetitions(3, 0.12, 0.01)
    assert b.raw == {"n_ref": 12345} and b.uncertainty_budget == {"expanded": 0.08}
    assert b.decision_rule is DecisionRule.GUARDED and b.verdict is Verdict.PASS
    assert store.get_run(run.run_id).environment == {"temperature_C": 23.0}
    pos = store.positions(run.run_id)
    assert pos[0].serial == "123" and pos[0].constants == {"active_imp_per_kWh": 10000}
    done = store.finish_run(run.run_id)
    assert done.status == RunStatus.COMPLETED and done.ended_at is not None


def test_record_is_idempotent_on_key_and_latest_wins(store):
    run = _run(store)
    first = store.record(_m(run.run_id, value=0.3))
    again = store.record(_m(run.run_id, value=0.2))
    other_point = store.record(_m(run.run_id, load=0.5))
    other_pos = store.record(_m(run.run_id, pos=2))
    assert first == again
    assert len({first, other_point, other_pos}) == 3
    rows = store.measurements(run.run_id)
    assert len(rows) == 3
    assert [r.value for r in rows if r.id == first] == [0.2]
    data = store.load_run(run.run_id)
    assert data.measurements.set_index("id").loc[first, "recorded_count"] == 2


def test_measurements_and_events_are_read_by_family_and_kind(store):
    run = _run(store)
    store.record(_m(run.run_id, family="accuracy"))
    influence = store.record(_m(run.run_id, family="influence", load=0.5))
    store.log(run.run_id, "run started", t=1.0)
    store.log(run.run_id, "a", kind="point_started", t=2.0, data={"test_id": "x"})
    store.log(run.run_id, "b", kind="point_stopped", t=3.0)
    assert [m.id for m in store.measurements(run.run_id, family="influence")] == [influence]
    assert len(store.measurements(run.run_id)) == 2
    assert [e.kind for e in store.events(run.run_id, kinds=("point_started", "log"))
            ] == ["log", "point_started"]
    assert len(store.events(run.run_id)) == 3


def test_the_log_since_a_tests_last_started_point(store):
    """last_started finds a test's latest point_started event (the last position of its
    latest point, in time order); events(after=) reads only what came after it, as
    rig.procedures.errors.reference_source asks."""
    run = _run(store)
    store.mark_started(run.run_id, "t.py::test_a", [1, 2], {"load": 1.0})
    store.mark_started(run.run_id, "t.py::test_a", [1, 2], {"load": 0.5})
    store.log(run.run_id, "between", t=store._clock() + 0.5)
    store.mark_started(run.run_id, "t.py::test_b", [1, 2], {"load": 1.0})
    store.log(run.run_id, "earlier", t=1.0)  # logged late, at the time it happened
    last = store.last_started(run.run_id, "t.py::test_a")
    assert last is not None and last.position == 2
    assert last.data == {"test_id": "t.py::test_a", "point_key": '{"load":0.5}'}
    since = store.events(run.run_id, kinds=("point_started", "log"), after=last)
    assert [(e.kind, e.message, e.position) for e in since] == [
        ("log", "between", None),
        ("point_started", "started t.py::test_b", 1),
        ("point_started", "started t.py::test_b", 2),
    ]
    assert store.last_started(run.run_id, "t.py::test_c") is None
    # Events at the same instant as `after` come after it by their row id.
    assert [e.position for e in store.events(run.run_id, kinds=("point_started",),
                                             after=store.events(run.run_id)[1])][:2] == [2, 1]


def test_a_measurement_is_stored_as_the_texts_its_check_encoded(store):
    """The JSON columns hold the text the record's own check made (json.dumps, keys sorted),
    encoded once; point_key is the compact canonical form."""
    run = _run(store)
    m = _m(run.run_id, point={"pf": "1", "load": 1.0}, raw={"b": [1, 2.5], "a": "x"},
           uncertainty_budget={"expanded": 0.08, "components": []})
    assert (m.point_json, m.raw_json) == ('{"load": 1.0, "pf": "1"}', '{"a": "x", "b": [1, 2.5]}')
    assert m.uncertainty_budget_json == '{"components": [], "expanded": 0.08}'
    assert _m(run.run_id).uncertainty_budget_json is None
    assert m.point_key == '{"load":1.0,"pf":"1"}'
    store.record(m)
    row = store.query("SELECT point, raw, uncertainty_budget, point_key FROM measurement")[0]
    assert tuple(row) == (m.point_json, m.raw_json, m.uncertainty_budget_json, m.point_key)


def test_point_key_ignores_dict_order(store):
    run = _run(store)
    a = store.record(_m(run.run_id, point={"load": 1.0, "pf": "1"}))
    b = store.record(_m(run.run_id, point={"pf": "1", "load": 1.0}))
    assert a == b


def test_completed_keys_for_resume(store):
    run = _run(store)
    store.record(_m(run.run_id, load=1.0))
    store.record(_m(run.run_id, load=0.1, value=None, verdict=Verdict.ERROR))
    keys = store.completed_keys(run.run_id)
    assert keys == {MeasurementKey.of("t.py::test_a", 1, {"load": 1.0, "pf": "1",
                                                          "direction": "import"})}
    assert len(store.completed_keys(run.run_id, include_errors=True)) == 2
    assert store.is_completed(run.run_id, "t.py::test_a", 1,
                              {"direction": "import", "pf": "1", "load": 1.0})
    assert not store.is_completed(run.run_id, "t.py::test_a", 1,
                                  {"direction": "import", "pf": "1", "load": 0.1})
    # killed: no finish. Resume keeps what was done.
    resumed = store.resume_run(run.run_id)
    assert resumed.status == RunStatus.RUNNING
    assert store.completed_keys(run.run_id) == keys
    assert any(e.kind == "resume" for e in store.events(run.run_id))
    store.finish_run(run.run_id, RunStatus.COMPLETED)
    store.resume_run(run.run_id)
    assert store.get_run(run.run_id).ended_at is None


def test_runs_are_listed_and_unknown_run_is_named(store):
    a = _run(store, run_id="r1", started_at=10.0)
    b = _run(store, run_id="r2", started_at=20.0)
    assert [r.run_id for r in store.list_runs()] == [a.run_id, b.run_id]
    with pytest.raises(RunNotFoundError, match=r"no run 'nope'.*r2"):
        store.get_run("nope")
    with pytest.raises(StoreError, match="already exists"):
        _run(store, run_id="r1")


def test_generated_run_ids_are_unique_and_readable(store):
    ids = {_run(store).run_id for _ in range(5)}
    assert len(ids) == 5
    assert all(i.startswith("20") and "T" in i for i in ids)


def test_bad_measurements_are_rejected_with_the_field_named():
    with pytest.raises(ValueError, match="verdict 'ok'"):
        _m("r", verdict="ok")
    with pytest.raises(ValueError, match="value must be finite"):
        _m("r", value=float("nan"))
    with pytest.raises(ValueError, match="needs a value"):
        _m("r", value=None, verdict=Verdict.FAIL)
    with pytest.raises(ValueError, match="point is not JSON"):
        _m("r", point={"load": object()})
    with pytest.raises(ValueError, match="decision_rule"):
        _m("r", decision_rule="lenient")


def test_newer_schema_version_is_refused_with_file_and_versions(tmp_path):
    path = tmp_path / "results.sqlite"
    ResultsStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_version VALUES (?, 'future', 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(SchemaVersionError) as err:
        ResultsStore(path)
    text = str(err.value)
    assert str(path) in text and f"version {SCHEMA_VERSION + 1}" in text
    assert f"version {SCHEMA_VERSION}" in text
    with ResultsStore(path, allow_newer=True) as s:
        assert s.read_only
        with pytest.raises(StoreError, match="read-only"):
            _run(s)


def test_files_that_are_not_stores_are_named(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(StoreError, match=r"junk\.sqlite"):
        ResultsStore(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE x (a)")
    with pytest.raises(StoreError, match="not a meter-test-rig results store"):
        ResultsStore(other)
    with pytest.raises(StoreError, match="no results store"):
        ResultsStore(tmp_path / "missing.sqlite", create=False)


def test_older_or_partial_store_is_read_with_problems(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultsStore(path) as s:
        run = _run(s)
        s.record(_m(run.run_id))
        s.record(_m(run.run_id, load=0.5))
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE measurement DROP COLUMN message")
        db.execute("DROP TABLE event")
        db.execute("UPDATE measurement SET point = '{\"load\": 0.5, ' WHERE id = 2")
    with ResultsStore(path, create=False) as s:
        data = s.load_run(run.run_id)
    assert len(data.measurements) == 2
    assert (data.measurements["message"] == "").all()
    assert data.measurements.loc[1, "point"] == {}
    joined = "\n".join(data.problems)
    assert "lacks column(s) message" in joined
    assert "'event' is missing" in joined
    assert "measurement id 2" in joined and "invalid JSON" in joined
    assert data.incomplete


def test_each_distinct_json_text_is_read_once_and_each_bad_cell_named(tmp_path):
    """Rows holding the same text share the value read (a point recurs at every position);
    a cell that does not parse is named for every row that holds it."""
    path = tmp_path / "results.sqlite"
    with ResultsStore(path) as s:
        run = _run(s)
        for pos in (1, 2, 3):
            s.record(_m(run.run_id, pos=pos, raw={"counts": [pos, 2.5]}))
        s.record(_m(run.run_id, pos=4, load=0.5, raw={"counts": [1, 2.5]}))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE measurement SET uncertainty_budget = '{bad' WHERE position > 2")
    with ResultsStore(path, create=False) as s:
        data = s.load_run(run.run_id)
    points, raws = list(data.measurements["point"]), list(data.measurements["raw"])
    assert points[0] is points[1] is points[2] and points[0] == {"load": 1.0, "pf": "1",
                                                                 "direction": "import"}
    assert points[3] == {"load": 0.5, "pf": "1", "direction": "import"}
    assert [r["counts"][0] for r in raws] == [1, 2, 3, 1]
    assert raws[0] is raws[3] and raws[0] is not raws[1]
    bad = [p for p in data.problems if "invalid JSON" in p]
    assert len(bad) == 2 and "measurement id 3" in bad[0] and "measurement id 4" in bad[1]
    assert list(data.measurements["uncertainty_budget"]) == [None, None, None, None]


def test_sigkill_while_recording_loses_no_committed_row(tmp_path):
    """A writer killed at an arbitrary moment leaves a readable store with every row whose
    record() returned (the child prints the index after each return)."""
    runs = tmp_path / "runs"
    child = textwrap.dedent(f"""
        import sys
        from reports.records import Measurement, Verdict
        from reports.store import ResultsStore
        store = ResultsStore.in_runs_dir({str(runs)!r})
        store.create_run(plan_name="p", plan_version="1", operator="o",
                         software_version="0", run_id="killed")
        i = 0
        while True:
            store.record(Measurement(run_id="killed", test_id=f"t::x[{{i}}]", family="accuracy",
                position=1 + i % 3, quantity="active energy error", value=i / 1000, unit="%",
                verdict=Verdict.PASS, point={{"load": 1.0, "i": i}}, limit_low=-1e9,
                limit_high=1e9))
            print(i, flush=True)
            i += 1
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=REPO)
    last = -1
    buf = b""
    deadline = time.monotonic() + 30
    try:
        while last < 60:
            assert time.monotonic() < deadline, "writer did not commit 60 rows within 30 s"
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if not ready:
                assert proc.poll() is None, proc.stderr.read().decode()
                continue
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, proc.stderr.read().decode()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            if lines:
                last = int(lines[-1])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    with ResultsStore.in_runs_dir(runs, create=False) as store:
        rows = store.measurements("killed")
        ok = store._db.execute("PRAGMA integrity_check").fetchone()[0]
        assert store.get_run("killed").ended_at is None
    assert ok == "ok"
    got = {r.test_id: r.value for r in rows}
    assert len(got) == len(rows)  # no duplicates
    for i in range(last + 1):
        assert got[f"t::x[{i}]"] == i / 1000


def test_recording_into_an_unknown_run_is_refused(store):
    with pytest.raises(RunNotFoundError, match="no run 'ghost'"):
        store.record(_m("ghost"))


def test_a_point_batch_is_stored_together_with_its_ids_in_order(store):
    run = _run(store)
    batch = [_m(run.run_id, pos=p, value=p / 100) for p in (3, 1, 2)]
    ids = store.record_many(batch)
    stored = {m.id: m for m in store.measurements(run.run_id)}
    assert [(stored[i].position, stored[i].value) for i in ids] == [(3, 0.03), (1, 0.01),
                                                                     (2, 0.02)]
    # The same key again: replaced and counted, as `record` does.
    assert store.record_many([_m(run.run_id, pos=1, value=0.5)]) == [ids[1]]
    assert store.measurements(run.run_id)[1].value == 0.5


def _refuse_position_9(store) -> None:
    """A constraint the database itself enforces (not the store's own checks), to fail a
    batch half-way through."""
    if store.dialect.postgres:
        store._db.execute("ALTER TABLE measurement ADD CONSTRAINT no_nine CHECK (position <> 9)")
    else:
        store._db.execute("CREATE TRIGGER no_nine BEFORE INSERT ON measurement WHEN "
                          "NEW.position = 9 BEGIN SELECT RAISE(ABORT, 'position 9'); END")


def test_a_batch_the_database_refuses_half_way_stores_none_of_it(store):
    run = _run(store)
    store.record(_m(run.run_id, load=0.5))
    _refuse_position_9(store)
    with pytest.raises(StoreError, match=r"cannot record 't\.py::test_a'"):
        store.record_many([_m(run.run_id, pos=p) for p in (1, 9, 2)])
    assert [m.point["load"] for m in store.measurements(run.run_id)] == [0.5]
    # The store goes on: the failed batch's transaction was rolled back, not left open.
    store.record_many([_m(run.run_id, pos=p) for p in (1, 2)])
    assert len(store.measurements(run.run_id)) == 3


def test_a_batch_inside_a_transaction_is_part_of_it(store):
    run = _run(store)
    with pytest.raises(RuntimeError, match="meter 2 unreadable"), store.transaction():
        store.record_many([_m(run.run_id, pos=1)])
        raise RuntimeError("meter 2 unreadable")
    assert store.measurements(run.run_id) == []


@pytest.mark.postgres
def test_a_point_batch_goes_to_postgresql_in_one_round_trip(pg_url, tmp_path):
    """The records of a point at 12 positions, and the marks that it started, each reach the
    server in one exchange: libpq's protocol trace shows one Sync sent and one ReadyForQuery
    awaited per batch (PostgreSQL docs, "Message Flow", Extended Query: the client waits for
    ReadyForQuery after a Sync), where a statement at a time shows one per statement."""
    import psycopg

    with ResultsStore(pg_url) as store:
        run = _run(store)
        store.record(_m(run.run_id))  # the run is claimed (its advisory lock) before tracing
        trace = tmp_path / "libpq.trace"
        with trace.open("w") as out:
            pgconn = store._db._conn.pgconn  # psycopg's libpq connection of this store
            pgconn.trace(out.fileno())
            pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            store.mark_started(run.run_id, "t.py::test_b", range(1, 13), {"load": 1.0})
            ids = store.record_many([_m(run.run_id, "t.py::test_b", pos=p)
                                     for p in range(1, 13)])
            pgconn.untrace()
        messages = [line.split("\t")[:3] for line in trace.read_text().splitlines()]
        assert len(ids) == 12 and len(store.measurements(run.run_id)) == 13
    syncs = [m for m in messages if m[0] == "F" and m[2] == "Sync"]
    ready = [m for m in messages if m[0] == "B" and m[2] == "ReadyForQuery"]
    inserts = [m for m in messages if m[0] == "F" and m[2] == "Execute"]
    assert len(inserts) >= 2 * 12  # BEGIN, COMMIT and the 24 inserts went out ...
    assert len(syncs) == len(ready) == 2  # ... in two exchanges, one per batch


def test_numpy_numbers_are_accepted_as_plain_numbers(store):
    import numpy as np

    run = _run(store)
    m = _m(run.run_id, pos=np.int64(4), value=np.float32(0.25), limit_high=np.float64(0.5))
    assert type(m.position) is int and type(m.value) is float
    store.record(m)
    assert store.measurements(run.run_id)[0].value == 0.25


def test_older_store_is_migrated_or_opened_read_only(tmp_path, monkeypatch):
    import reports.store as store_module

    path = tmp_path / "results.sqlite"
    with ResultsStore(path) as s:
        run = _run(s)
        s.record(_m(run.run_id))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    # No upgrade step known: readable, but never written into.
    with ResultsStore(path) as s:
        assert s.read_only and s.schema_version == SCHEMA_VERSION
        assert len(s.load_run(run.run_id).measurements) == 1
        with pytest.raises(StoreError, match="read-only"):
            s.finish_run(run.run_id)
    monkeypatch.setitem(store_module.MIGRATIONS, SCHEMA_VERSION,
                        "ALTER TABLE run ADD COLUMN site TEXT NOT NULL DEFAULT '';")
    with ResultsStore(path) as s:
        assert not s.read_only and s.schema_version == SCHEMA_VERSION + 1
        s.finish_run(run.run_id)
    with sqlite3.connect(path) as db:
        versions = [r[0] for r in db.execute("SELECT version FROM schema_version")]
        cols = [r[1] for r in db.execute("PRAGMA table_info(run)")]
    assert versions == [SCHEMA_VERSION, SCHEMA_VERSION + 1] and "site" in cols


def test_stores_created_at_the_same_moment_agree(tmp_path):
    import threading

    path = tmp_path / "runs" / "results.sqlite"
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_it(i: int) -> None:
        barrier.wait()
        try:
            with ResultsStore(path) as s:
                _run(s, run_id=f"r{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with ResultsStore(path) as s:
        assert sorted(r.run_id for r in s.list_runs()) == ["r0", "r1", "r2", "r3"]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1


@pytest.fixture
def sqlite_store(tmp_path):
    with ResultsStore(tmp_path / "results.sqlite", clock=FakeClock()) as s:
        yield s


def test_a_non_numeric_time_stamp_is_named_not_a_traceback(sqlite_store):
    # SQLite only: a PostgreSQL column of type double precision cannot hold text.
    store = sqlite_store
    run = _run(store)
    store._db.execute("UPDATE run SET ended_at = 'soon' WHERE run_id = ?", (run.run_id,))
    with pytest.raises(StoreError, match=rf"run {run.run_id}: ended_at 'soon' is not a number"):
        store.get_run(run.run_id)
    data = store.load_run(run.run_id)  # the report reads on and lists it
    assert any("ended_at 'soon' is not a number" in p for p in data.problems)


def test_the_store_is_chosen_by_option_then_environment_then_runs_dir(tmp_path):
    from reports.store import store_location

    url = "postgresql://lab@127.0.0.1:5433/lab"
    env = {"METER_TEST_RIG_STORE": url}
    assert store_location(None, tmp_path, {}) == tmp_path / "results.sqlite"
    assert store_location(None, tmp_path, env) == url
    assert store_location("/data/lab.sqlite", tmp_path, env) == Path("/data/lab.sqlite")
    assert store_location("sqlite:///data/x.sqlite", tmp_path, {}) == Path("/data/x.sqlite")
    with pytest.raises(StoreError, match=r"'mysql://u:\*\*\*@h/db': unknown kind of store"):
        store_location("mysql://u:secret@h/db", tmp_path, {})


def test_an_unreachable_database_is_named_without_its_password():
    from reports.localdb import free_port

    url = f"postgresql://lab:secret@127.0.0.1:{free_port()}/lab"
    with pytest.raises(StoreError, match="cannot connect to the results database") as err:
        ResultsStore(url)
    assert "secret" not in str(err.value) and "lab:***@127.0.0.1" in str(err.value)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
def test_a_version_1_store_is_migrated_the_same_way_on_both_backends(backend, tmp_path,
                                                                     request):
    from reports.backends import Dialect, PostgresConnection, split_statements
    from reports.schema import BENCH_LEASE_DDL, DDL

    # Version 1 as it was made: no run.owner, no bench_lease.
    v1 = DDL.replace(BENCH_LEASE_DDL, "").replace(
        "    notes             TEXT NOT NULL DEFAULT '',\n    owner             TEXT NOT NULL"
        " DEFAULT ''\n", "    notes             TEXT NOT NULL DEFAULT ''\n")
    assert "owner" not in v1 and "bench_lease" not in v1
    if backend == "sqlite":
        location = tmp_path / "results.sqlite"
        db = sqlite3.connect(location, isolation_level=None)
    else:
        location = request.getfixturevalue("pg_url")
        db = PostgresConnection(location)
    for statement in split_statements(v1):
        db.execute(Dialect(backend).ddl(statement))
    db.execute("INSERT INTO schema_version VALUES (1, 'v1', 0)")
    db.execute("INSERT INTO run (run_id, started_at) VALUES ('old', 1.0)")
    db.close()
    with ResultsStore(location) as s:
        assert s.schema_version == SCHEMA_VERSION == 2 and not s.read_only
        assert s.get_run("old").started_at == 1.0 and s.run_owner("old") == ""
        s.record(_m("old"))  # written by this store from now on
        assert s.run_owner("old") == s.owner
        assert s.query("SELECT COUNT(*) FROM bench_lease")[0][0] == 0
        assert [r[0] for r in s.query("SELECT version FROM schema_version ORDER BY version")
                ] == [1, 2]
