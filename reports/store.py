"""Crash-safe results store: one SQLite file per runs directory, or a lab's shared PostgreSQL
database (`ResultsStore("postgresql://...")`, see reports.backends).

Every write is its own committed transaction (SQLite: WAL mode with synchronous=FULL;
PostgreSQL: synchronous_commit on, its default), so a controller killed at any instant
(SIGKILL, power cut) leaves a store that opens cleanly and holds every measurement whose
`record` call returned (DESIGN.md key decision 5).

Many writers in one database: run ids carry a random part and are retried on the rare clash;
row ids come from the database; a run's rows are written only by the store that created or
resumed it (its owner, named in the run row; on PostgreSQL a second owner of a running run is
refused while the first one's session lives).

Writers: `create_run`, `add_position`, `record`, `mark_started`, `log`, `finish_run`,
`resume_run`. Readers: `get_run`, `list_runs`, `positions`, `measurements`,
`completed_keys` and `load_run` (pandas DataFrames, tolerant of older, partial or
damaged stores: what cannot be read becomes a problem line, not an exception).
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import json
import math
import os
import platform
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from reports.backends import (
    STORE_ENV,
    Dialect,
    PostgresConnection,
    is_postgres_url,
    lock_key,
    redacted,
    split_statements,
)
from reports.records import (
    POINT_STARTED,
    DecisionRule,
    Event,
    Measurement,
    MeasurementKey,
    PositionRecord,
    Repetitions,
    RunInfo,
    RunStatus,
    Verdict,
    json_text,
    point_key,
)
from reports.schema import (
    DDL,
    EVENT_COLUMNS,
    JSON_COLUMNS,
    MEASUREMENT_COLUMNS,
    MIGRATIONS,
    POSITION_COLUMNS,
    RUN_COLUMNS,
    SCHEMA_VERSION,
    STORE_FILENAME,
)

_BUSY_TIMEOUT_MS = 30_000

# A measurement row, idempotent on its key: a second record of a point replaces the values of
# the first (the latest measurement of a point wins) and counts the repeat.
_RECORD_COLUMNS = (
    "run_id", "test_id", "position", "point_key", "family", "clause", "point", "quantity",
    "value", "unit", "limit_low", "limit_high", "expanded_uncertainty", "uncertainty_budget",
    "verdict", "decision_rule", "rep_n", "rep_mean", "rep_stdev", "raw", "started_at",
    "ended_at", "recorded_at", "message",
)
_RECORD_SQL = (
    f"INSERT INTO measurement ({', '.join(_RECORD_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _RECORD_COLUMNS)}) "
    "ON CONFLICT (run_id, test_id, position, point_key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RECORD_COLUMNS[4:])
    + ", recorded_count = measurement.recorded_count + 1 RETURNING id"
)
_EVENT_SQL = ("INSERT INTO event (run_id, t, level, kind, position, message, data)"
              " VALUES (?,?,?,?,?,?,?)")


class StoreError(Exception):
    """The store cannot be used; the message names the file (or database) and the reason."""


class SchemaVersionError(StoreError):
    def __init__(self, path: Path | str, found: int, supported: int) -> None:
        self.path, self.found, self.supported = path, found, supported
        super().__init__(
            f"{path}: results store has schema version {found}, newer than version "
            f"{supported} that this software reads and writes; upgrade meter-test-rig "
            "to use it (nothing was changed in the file)"
        )


class RunNotFoundError(StoreError):
    pass


def store_path(runs_dir: str | Path) -> Path:
    """The store file of a runs directory."""
    return Path(runs_dir) / STORE_FILENAME


def store_location(
    store: str | None, runs_dir: str | Path, environ: Mapping[str, str] | None = None
) -> str | Path:
    """Where a run's results go: `store` (--store or the bench file's `store:`) if given, else
    the environment variable METER_TEST_RIG_STORE, else the SQLite file of the runs directory.
    A PostgreSQL URL is returned as it is, anything else as a path."""
    chosen = store or (os.environ if environ is None else environ).get(STORE_ENV) or ""
    if not chosen:
        return store_path(runs_dir)
    if is_postgres_url(chosen):
        return chosen
    if chosen.startswith("sqlite:///"):
        return Path(chosen.removeprefix("sqlite://"))
    if "://" in chosen:
        raise StoreError(f"store {redacted(chosen)!r}: unknown kind of store; give a "
                         "postgresql://USER@HOST:PORT/DATABASE URL or a SQLite file path")
    return Path(chosen)


def owner_name() -> str:
    """Who writes a run: user, host and process (named when another writer is refused)."""
    return f"{getpass.getuser()}@{platform.node()} pid {os.getpid()}"


def new_run_id(t: float) -> str:
    """Readable, sortable and unique: UTC start time plus a short random suffix."""
    stamp = datetime.fromtimestamp(t, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass
class RunData:
    """Everything stored for one run, as read (leniently) for reports and analysis."""

    store_path: Path | str
    run: RunInfo
    positions: pd.DataFrame
    measurements: pd.DataFrame
    events: pd.DataFrame
    schema_version: int
    problems: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.run.ended_at is not None and self.run.status == RunStatus.COMPLETED

    @property
    def incomplete(self) -> bool:
        """True when the report cannot be taken as a whole, finished run."""
        return not self.finished or bool(self.problems)


class ResultsStore:
    """The results store: a SQLite file, or a PostgreSQL URL (postgresql://...). Use as a
    context manager, or call close()."""

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = True,
        allow_newer: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self.read_only = False
        self.closed = False
        self.owner = owner_name()
        # Runs this store created or resumed: the only ones it writes rows of.
        self._owned: set[str] = set()
        if is_postgres_url(path):
            self._open_postgres(str(path), create, allow_newer)
            return
        self.dialect = Dialect("sqlite")
        file = Path(path)
        self.path: Path | str = file
        self.location = str(file)
        if not file.exists():
            if not create:
                raise StoreError(f"{self.location}: no results store here")
            file.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(file, isolation_level=None, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.location}: cannot open results store: {exc}") from exc
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            _write_ahead_log(self._db)
            # FULL: a commit survives power loss as well as a process kill.
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self.schema_version = self._prepare(create, allow_newer)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(
                f"{self.location}: not a readable SQLite results store: {exc}") from exc
        except StoreError:
            self._db.close()
            raise

    def _open_postgres(self, url: str, create: bool, allow_newer: bool) -> None:
        self.dialect = Dialect("postgresql")
        self.path = self.location = redacted(url)
        try:
            self._db: Any = PostgresConnection(url)
        except ImportError as exc:
            raise StoreError(f"{self.location}: {exc}") from exc
        except self.dialect.database_errors() as exc:
            raise StoreError(f"{self.location}: cannot connect to the results database: "
                             f"{str(exc).strip()}") from exc
        try:
            self.schema_version = self._prepare(create, allow_newer)
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def in_runs_dir(cls, runs_dir: str | Path, **kwargs: Any) -> ResultsStore:
        return cls(store_path(runs_dir), **kwargs)

    # -- lifecycle ---------------------------------------------------------------------

    def _tables(self) -> set[str]:
        return self.dialect.tables(self._db)

    def _create_schema(self) -> None:
        """Create the tables and the version row in one transaction; a second process
        creating the same store at the same moment waits, then finds it made."""
        self.dialect.begin_exclusive(self._db)
        try:
            if "schema_version" not in self._tables():
                for statement in split_statements(DDL):
                    self._db.execute(self.dialect.ddl(statement))
                self._db.execute(
                    "INSERT INTO schema_version (version, written_by, created_at)"
                    " VALUES (?, ?, ?)",
                    (SCHEMA_VERSION, "reports.store", self._clock()),
                )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _prepare(self, create: bool, allow_newer: bool) -> int:
        tables = self._tables()
        if "schema_version" not in tables:
            if tables:
                raise StoreError(
                    f"{self.location}: not a meter-test-rig results store (no schema_version "
                    f"table; it holds tables {', '.join(sorted(tables))})"
                )
            if not create:
                raise StoreError(f"{self.location}: empty file, not a results store")
            self._create_schema()
        row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        found = row[0]
        if found is None:
            raise StoreError(f"{self.location}: schema_version table is empty")
        found = int(found)
        if found > SCHEMA_VERSION:
            if not allow_newer:
                raise SchemaVersionError(self.path, found, SCHEMA_VERSION)
            self.read_only = True
        elif found < SCHEMA_VERSION:
            return self._migrate(found)
        return found

    def _migrate(self, found: int) -> int:
        """Upgrade step by step; returns the version reached."""
        for version in range(found, SCHEMA_VERSION):
            step = MIGRATIONS.get(version)
            if step is None:
                # No upgrade path: still readable, but do not write into it.
                self.read_only = True
                return version
            self.dialect.begin_exclusive(self._db)
            try:
                # Another writer may have migrated while this one waited for the lock.
                row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
                if int(row[0]) == version:
                    for statement in split_statements(step):
                        self._db.execute(self.dialect.ddl(statement))
                    self._db.execute(
                        "INSERT INTO schema_version (version, written_by, created_at)"
                        " VALUES (?, 'reports.store migration', ?)",
                        (version + 1, self._clock()),
                    )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return SCHEMA_VERSION

    def close(self) -> None:
        self._db.close()
        self.closed = True

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _writable(self, run_id: str | None = None) -> None:
        if self.read_only:
            raise StoreError(
                f"{self.location}: store schema version {self.schema_version} is opened read-only "
                f"by this software (version {SCHEMA_VERSION})"
            )
        if run_id is not None and run_id not in self._owned:
            self._claim(run_id)

    def _claim(self, run_id: str) -> None:
        """Make this store the writer of a run: on PostgreSQL a session advisory lock on the
        run, refused (naming the owner) while another live session holds it; the lock goes
        with the session, however it ends, so a killed run can be resumed at once."""
        row = self._db.execute("SELECT owner, status FROM run WHERE run_id = ?",
                               (run_id,)).fetchone()
        if row is None:
            self.get_run(run_id)  # raises RunNotFoundError naming the latest runs
        if self.dialect.postgres:
            got = self._db.execute("SELECT pg_try_advisory_lock(?)",
                                   (lock_key("run", run_id),)).fetchone()[0]
            if not got:
                raise StoreError(
                    f"{self.location}: run {run_id!r} is being written by {row[0] or 'another'}"
                    " session; a run's rows are written only by its owner (wait for it to "
                    "end, or stop it)"
                )
        self._owned.add(run_id)
        self._db.execute("UPDATE run SET owner = ? WHERE run_id = ?", (self.owner, run_id))

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Rows of a read-only SELECT written in the store's portable SQL (`?` parameters),
        on either backend; each row reads by index or by column name (the lab panel)."""
        return list(self._db.execute(sql, params).fetchall())

    def run_owner(self, run_id: str) -> str:
        """Who last created or resumed the run ('' for a run from before schema version 2)."""
        row = self._db.execute("SELECT owner FROM run WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            self.get_run(run_id)
        return str(row[0])

    # -- runs --------------------------------------------------------------------------

    def create_run(
        self,
        *,
        plan_name: str,
        plan_version: str,
        operator: str,
        software_version: str,
        decision_rule: DecisionRule | str = DecisionRule.SIMPLE,
        bench_file: str = "",
        bench_path: str | Path = "",
        lab: str = "",
        environment: Mapping[str, Any] | None = None,
        notes: str = "",
        run_id: str | None = None,
        started_at: float | None = None,
    ) -> RunInfo:
        self._writable()
        rule = DecisionRule(decision_rule)
        t = self._clock() if started_at is None else started_at
        run = RunInfo(
            run_id=run_id or new_run_id(t),
            plan_name=plan_name,
            plan_version=plan_version,
            operator=operator,
            software_version=software_version,
            decision_rule=rule,
            started_at=t,
            bench_file=bench_file,
            bench_path=str(bench_path),
            bench_hash=hashlib.sha256(bench_file.encode()).hexdigest(),
            lab=lab,
            environment=dict(environment or {}),
            notes=notes,
        )
        try:
            env = json_text(run.environment)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"run environment is not JSON-serialisable: {exc}") from exc
        # A generated id that another bench took in the same second (1 in 2^24 per pair) is
        # drawn again; an id the caller chose is refused.
        for attempt in range(5 if run_id is None else 1):
            if attempt:
                run = dataclasses.replace(run, run_id=new_run_id(t))
            try:
                self._db.execute(
                    "INSERT INTO run (run_id, plan_name, plan_version, operator,"
                    " software_version, decision_rule, started_at, status, bench_file,"
                    " bench_path, bench_hash, lab, environment, notes, owner)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (run.run_id, plan_name, plan_version, operator, software_version,
                     rule.value, t, RunStatus.RUNNING.value, bench_file, run.bench_path,
                     run.bench_hash, lab, env, notes, self.owner),
                )
                break
            except self.dialect.integrity_errors():
                if run_id is not None or attempt == 4:
                    raise StoreError(
                        f"{self.location}: run {run.run_id!r} already exists") from None
        self._claim(run.run_id)
        return run

    def get_run(self, run_id: str) -> RunInfo:
        row = self._db.execute("SELECT * FROM run WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            known = [r.run_id for r in self.list_runs()][-5:]
            hint = f" (latest: {', '.join(known)})" if known else " (the store has no runs)"
            raise RunNotFoundError(f"{self.location}: no run {run_id!r}{hint}")
        run, _ = _run_from_row(dict(row))
        return run

    def list_runs(self) -> list[RunInfo]:
        rows = self._db.execute("SELECT * FROM run ORDER BY started_at, run_id").fetchall()
        return [_run_from_row(dict(r))[0] for r in rows]

    def resume_run(self, run_id: str) -> RunInfo:
        """Reopen a run to continue it: completed measurements stay and are not repeated.
        This store becomes the run's writer (refused on PostgreSQL while another session
        still writes it)."""
        self._writable()
        self.get_run(run_id)
        self._claim(run_id)
        self._db.execute(
            "UPDATE run SET status = ?, ended_at = NULL WHERE run_id = ?",
            (RunStatus.RUNNING.value, run_id),
        )
        done = len(self.completed_keys(run_id))
        self.log(run_id, f"run resumed; {done} completed measurements kept", kind="resume")
        return self.get_run(run_id)

    def finish_run(
        self,
        run_id: str,
        status: RunStatus | str = RunStatus.COMPLETED,
        ended_at: float | None = None,
    ) -> RunInfo:
        self._writable(run_id)
        status = RunStatus(status)
        self.get_run(run_id)
        t = self._clock() if ended_at is None else ended_at
        self._db.execute(
            "UPDATE run SET status = ?, ended_at = ? WHERE run_id = ?",
            (status.value, t, run_id),
        )
        return self.get_run(run_id)

    # -- positions ---------------------------------------------------------------------

    def add_position(self, pos: PositionRecord) -> None:
        """Record (or, on resume, refresh) the identity of the meter at a position."""
        self._writable(pos.run_id)
        self.get_run(pos.run_id)
        self._db.execute(
            "INSERT INTO position (run_id, position, serial, manufacturer, meter_type, firmware,"
            " constants, identity, read_at) VALUES (?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (run_id, position) DO UPDATE SET serial = excluded.serial,"
            " manufacturer = excluded.manufacturer, meter_type = excluded.meter_type,"
            " firmware = excluded.firmware, constants = excluded.constants,"
            " identity = excluded.identity, read_at = excluded.read_at",
            (pos.run_id, pos.position, pos.serial, pos.manufacturer, pos.meter_type,
             pos.firmware, json_text(dict(pos.constants)), json_text(dict(pos.identity)),
             self._clock() if pos.read_at is None else pos.read_at),
        )

    def positions(self, run_id: str) -> list[PositionRecord]:
        rows = self._db.execute(
            "SELECT * FROM position WHERE run_id = ? ORDER BY position", (run_id,)
        ).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            out.append(PositionRecord(
                run_id=d["run_id"], position=d["position"], serial=d["serial"],
                manufacturer=d["manufacturer"], meter_type=d["meter_type"],
                firmware=d["firmware"], constants=json.loads(d["constants"]),
                identity=json.loads(d["identity"]), read_at=d["read_at"],
            ))
        return out

    # -- measurements ------------------------------------------------------------------

    def record(self, m: Measurement) -> int:
        """Store one measurement, committed at once (or with the enclosing `transaction`);
        returns its row id.

        Idempotent on (run, test id, position, point): a second record of the same key
        replaces the values of the first (the latest measurement of a point wins) and
        counts the repeat in `recorded_count`.
        """
        return self.record_many([m])[0]

    def record_many(self, measurements: Sequence[Measurement]) -> list[int]:
        """Store the measurements of one point batch (a point at every position), committed
        together, as `record` stores one; returns their row ids in order. On PostgreSQL the
        batch goes in one round trip to the server (`PostgresConnection.execute_batch`), on
        SQLite in one sync to disk. If one cannot be stored, none is."""
        for m in measurements:
            self._writable(m.run_id)
        params = [self._measurement_params(m) for m in measurements]
        try:
            if self.dialect.postgres:
                rows = self._db.execute_batch(_RECORD_SQL, params, returning=True)
            else:
                with self.transaction():
                    # fetchall drains each RETURNING statement (sqlite3 would leave it open).
                    rows = [self._db.execute(_RECORD_SQL, p).fetchall()[0] for p in params]
        except self.dialect.integrity_errors() as exc:
            what = ", ".join(sorted({repr(m.test_id) for m in measurements}))
            if self.dialect.is_foreign_key(exc):
                runs = ", ".join(sorted({repr(m.run_id) for m in measurements}))
                raise RunNotFoundError(f"{self.location}: cannot record {what}: no run "
                                       f"{runs} in the store") from exc
            raise StoreError(f"{self.location}: cannot record {what}: {exc}") from exc
        return [int(r[0]) for r in rows]

    def _measurement_params(self, m: Measurement) -> dict[str, Any]:
        reps = m.repetitions or Repetitions(n=0)
        return {
            "run_id": m.run_id, "test_id": m.test_id, "position": m.position,
            "point_key": m.point_key, "family": m.family, "clause": m.clause,
            "point": m.point_json, "quantity": m.quantity, "value": m.value,
            "unit": m.unit, "limit_low": m.limit_low, "limit_high": m.limit_high,
            "expanded_uncertainty": m.expanded_uncertainty,
            "uncertainty_budget": m.uncertainty_budget_json,
            "verdict": Verdict(m.verdict).value,
            "decision_rule": DecisionRule(m.decision_rule).value,
            "rep_n": reps.n if m.repetitions else None, "rep_mean": reps.mean,
            "rep_stdev": reps.stdev, "raw": m.raw_json,
            "started_at": m.started_at, "ended_at": m.ended_at,
            "recorded_at": self._clock(), "message": m.message,
        }

    def measurements(self, run_id: str, family: str | None = None) -> list[Measurement]:
        """The run's measurements in the order stored; only `family`'s when given (a test that
        looks back at one family must not decode the whole run's rows: that grew with the run)."""
        only = "" if family is None else " AND family = ?"
        rows = self._db.execute(
            f"SELECT * FROM measurement WHERE run_id = ?{only} ORDER BY id",
            (run_id,) if family is None else (run_id, family),
        ).fetchall()
        return [_measurement_from_row(dict(r)) for r in rows]

    def completed_keys(self, run_id: str, *, include_errors: bool = False) -> set[MeasurementKey]:
        """Keys of measurements a resumed run must not repeat.

        A point whose verdict is 'error' (no value could be taken) is repeated on resume
        unless include_errors is set.
        """
        sql = "SELECT test_id, position, point_key FROM measurement WHERE run_id = ?"
        if not include_errors:
            sql += " AND verdict != 'error'"
        return {MeasurementKey(r[0], r[1], r[2]) for r in self._db.execute(sql, (run_id,))}

    def is_completed(self, run_id: str, test_id: str, position: int,
                     point: Mapping[str, Any]) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM measurement WHERE run_id = ? AND test_id = ? AND position = ?"
            " AND point_key = ? AND verdict != 'error'",
            (run_id, test_id, position, point_key(point)),
        ).fetchone()
        return row is not None

    # -- log ---------------------------------------------------------------------------

    def log(
        self,
        run_id: str,
        message: str,
        *,
        level: str = "info",
        kind: str = "log",
        position: int | None = None,
        data: Mapping[str, Any] | None = None,
        t: float | None = None,
    ) -> None:
        self._writable(run_id)
        self._db.execute(_EVENT_SQL, (run_id, self._clock() if t is None else t, level, kind,
                                      position, message, json_text(dict(data or {}))))

    def mark_started(self, run_id: str, test_id: str, positions: Iterable[int],
                     point: Mapping[str, Any]) -> None:
        """Note that a point's measurement began at `positions` (one commit for a whole batch
        of meters, one round trip on PostgreSQL); a report lists started points without a
        result as interrupted."""
        self._writable(run_id)
        data = json_text({"test_id": test_id, "point_key": point_key(point)})
        t = self._clock()
        rows = [(run_id, t, "info", POINT_STARTED, p, _started_message(test_id), data)
                for p in positions]
        if self.dialect.postgres:
            self._db.execute_batch(_EVENT_SQL, rows)
        else:
            with self.transaction():
                self._db.executemany(_EVENT_SQL, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The writes of the block are committed together (one sync to disk), or, if the block
        raises, not at all. A transaction inside a transaction is part of it.

        For the results of one point at every position: a kill before the commit leaves the
        point unrecorded at all of them, and a resumed run measures it again."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def events(self, run_id: str, kinds: tuple[str, ...] = (), *,
               after: Event | None = None) -> list[Event]:
        """The run's events in time order; only those of `kinds` when given, and only those
        after event `after` in that order (a reader of the log since one event does not decode
        the whole run's: that grows with the run, a point_started event per position)."""
        sql, args = "SELECT * FROM event WHERE run_id = ?", [run_id]
        if kinds:
            sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            args += kinds
        if after is not None:
            sql += " AND (t > ? OR (t = ? AND id > ?))"
            args += [after.t, after.t, after.id]
        rows = self._db.execute(sql + " ORDER BY t, id", tuple(args)).fetchall()
        return [_event_from_row(r) for r in rows]

    def last_started(self, run_id: str, test_id: str) -> Event | None:
        """The last `point_started` event of test `test_id` in the run's time order (the last
        of its positions at its latest point, see `mark_started`); None if it started none."""
        rows = self._db.execute(
            "SELECT * FROM event WHERE run_id = ? AND kind = ? AND message = ?"
            " ORDER BY t DESC, id DESC",
            (run_id, POINT_STARTED, _started_message(test_id)),
        )
        for row in rows:
            event = _event_from_row(row)
            if event.data.get("test_id") == test_id:
                return event
        return None

    # -- lenient reading for reports -----------------------------------------------------

    def _columns(self, table: str) -> list[str]:
        return self.dialect.columns(self._db, table)

    def _read_table(self, table: str, wanted: Iterable[str], where: str, args: tuple,
                    problems: list[str]) -> pd.DataFrame:
        wanted = list(wanted)
        present = self._columns(table)
        if not present:
            problems.append(f"{self.location}: table {table!r} is missing")
            return pd.DataFrame(columns=wanted)
        missing = [c for c in wanted if c not in present]
        if missing:
            problems.append(
                f"{self.location}: table {table!r} lacks column(s) {', '.join(missing)} "
                "(older or damaged store); shown as empty"
            )
        cols = [c for c in wanted if c in present]
        rows = self._db.execute(
            f"SELECT {', '.join(cols)} FROM {table} WHERE {where}", args
        ).fetchall()
        df = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        for c in missing:
            df[c] = None
        df = df[wanted]
        for c in JSON_COLUMNS.get(table, ()):
            df[c] = _parse_json_column(df, table, c, self.path, problems)
        return df

    def load_run(self, run_id: str) -> RunData:
        """Read one run leniently into DataFrames; what cannot be read is listed in
        RunData.problems instead of raising (except a run that does not exist)."""
        problems: list[str] = []
        if self.schema_version > SCHEMA_VERSION:
            problems.append(str(SchemaVersionError(self.path, self.schema_version,
                                                   SCHEMA_VERSION))
                            + "; showing the columns this version knows")
        runs = self._read_table("run", RUN_COLUMNS, "run_id = ?", (run_id,), problems)
        if runs.empty:
            raise RunNotFoundError(f"{self.location}: no run {run_id!r}")
        run, run_problems = _run_from_row(runs.iloc[0].to_dict(), lenient=True)
        problems.extend(f"{self.location}: run {run_id}: {p}" for p in run_problems)
        positions = self._read_table("position", POSITION_COLUMNS, "run_id = ?", (run_id,),
                                     problems)
        positions = positions.sort_values("position", kind="stable").reset_index(drop=True)
        meas = self._read_table("measurement", MEASUREMENT_COLUMNS,
                                "run_id = ? ORDER BY id", (run_id,), problems)
        events = self._read_table("event", EVENT_COLUMNS, "run_id = ? ORDER BY t, id",
                                  (run_id,), problems)
        for c in ("value", "limit_low", "limit_high", "expanded_uncertainty", "rep_mean",
                  "rep_stdev", "started_at", "ended_at", "recorded_at"):
            meas[c] = pd.to_numeric(meas[c], errors="coerce").astype(float)
        meas["position"] = pd.to_numeric(meas["position"], errors="coerce").astype("Int64")
        # Missing text (older or damaged store) reads as empty, never as NaN.
        for c in ("test_id", "point_key", "clause", "quantity", "unit", "message"):
            meas[c] = meas[c].fillna("").astype(str)
        meas["family"] = meas["family"].fillna("unclassified").astype(str)
        meas["decision_rule"] = meas["decision_rule"].fillna("").astype(str)
        lost = meas["verdict"].isna()
        if lost.any():
            problems.append(f"{self.location}: run {run_id}: {int(lost.sum())} measurement(s) "
                            "without a verdict; shown as 'error'")
        meas["verdict"] = meas["verdict"].fillna(Verdict.ERROR.value).astype(str)
        unplaced = meas["position"].isna()
        if unplaced.any():
            problems.append(f"{self.location}: run {run_id}: {int(unplaced.sum())} measurement(s) "
                            "without a position; shown under position 0")
            meas["position"] = meas["position"].fillna(0)
        if "verdict" in meas:
            unknown = sorted(set(meas["verdict"].dropna()) - {v.value for v in Verdict})
            if unknown:
                problems.append(f"{self.location}: run {run_id}: unknown verdict value(s) "
                                f"{', '.join(map(repr, unknown))}")
        return RunData(store_path=self.path, run=run, positions=positions, measurements=meas,
                       events=events, schema_version=self.schema_version, problems=problems)


def _write_ahead_log(db: sqlite3.Connection) -> None:
    """`PRAGMA journal_mode = WAL`, tried again while another connection has the file locked,
    up to the busy time-out. The switch of a new store's file takes its exclusive lock from a
    shared one, and where waiting there could deadlock SQLite answers "database is locked" at
    once instead of calling its busy handler: stores opened at the same moment by several
    benches or threads then failed (1 in 14 of tests/reports/test_store.py's four at once)."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def _started_message(test_id: str) -> str:
    """The message of a point_started event (`ResultsStore.mark_started`)."""
    return f"started {test_id}"


def _event_from_row(r: Any) -> Event:
    return Event(run_id=r["run_id"], message=r["message"], t=r["t"], level=r["level"],
                 kind=r["kind"], position=r["position"], data=json.loads(r["data"]), id=r["id"])


def _row_label(table: str, row: Mapping[str, Any]) -> str:
    if table == "measurement":
        return f"measurement id {row.get('id')} ({row.get('test_id')})"
    if table == "position":
        return f"position {row.get('position')}"
    if table == "event":
        return f"event id {row.get('id')}"
    return f"run {row.get('run_id')}"


def _parse_json_column(df: pd.DataFrame, table: str, column: str, path: Path,
                       problems: list[str]) -> list[Any]:
    """A JSON column's cells parsed, each distinct text once: the rows of a run repeat their
    texts (a test point at every position; an uncertainty budget at every point with the same
    reference counts), and the parse was a fifth of reading a 48-position run. Rows with the
    same text share the parsed value, which no reader changes (the report's rows are frozen).
    A cell that does not parse is named by its row and reported once per row."""
    parsed: dict[str, Any] = {}
    out = []
    for i, text in enumerate(df[column]):
        if type(text) is str and text in parsed:
            out.append(parsed[text])
            continue
        before = len(problems)
        # The row's label is only needed for a cell that does not parse.
        value = _parse_json_cell(text, column, lambda i=i: _row_label(table, df.iloc[i].to_dict()),
                                 path, problems)
        if type(text) is str and len(problems) == before:
            parsed[text] = value
        out.append(value)
    return out


def _parse_json_cell(text: Any, column: str, label: Callable[[], str], path: Path,
                     problems: list[str]) -> Any:
    empty: Any = None if column == "uncertainty_budget" else {}
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return empty
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        problems.append(f"{path}: {label()}: column {column!r} holds invalid JSON ({exc}); "
                        "shown as empty")
        return empty


def _run_from_row(d: dict[str, Any], lenient: bool = False) -> tuple[RunInfo, list[str]]:
    problems: list[str] = []
    env = d.get("environment")
    if isinstance(env, str):
        try:
            env = json.loads(env)
        except ValueError as exc:
            if not lenient:
                raise StoreError(f"run {d.get('run_id')}: environment holds invalid JSON: "
                                 f"{exc}") from exc
            problems.append(f"environment holds invalid JSON ({exc})")
            env = {}

    def num(key: str) -> float | None:
        v = d.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        try:
            return float(v)
        except (TypeError, ValueError):  # a hand-edited or damaged row
            if not lenient:
                raise StoreError(f"run {d.get('run_id')}: {key} {v!r} is not a number") from None
            problems.append(f"{key} {v!r} is not a number")
            return None

    def text(key: str) -> str:
        v = d.get(key)
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)

    started = num("started_at")
    if started is None:
        problems.append("no start time")
    run = RunInfo(
        run_id=text("run_id"), plan_name=text("plan_name"), plan_version=text("plan_version"),
        operator=text("operator"), software_version=text("software_version"),
        decision_rule=text("decision_rule"), started_at=started if started is not None else 0.0,
        status=text("status") or RunStatus.RUNNING.value, ended_at=num("ended_at"),
        bench_file=text("bench_file"), bench_path=text("bench_path"),
        bench_hash=text("bench_hash"), lab=text("lab"),
        environment=env if isinstance(env, dict) else {}, notes=text("notes"),
    )
    return run, problems


def _measurement_from_row(d: dict[str, Any]) -> Measurement:
    reps = None
    if d["rep_n"] is not None:
        reps = Repetitions(n=d["rep_n"], mean=d["rep_mean"], stdev=d["rep_stdev"])
    budget = d["uncertainty_budget"]
    return Measurement(
        run_id=d["run_id"], test_id=d["test_id"], family=d["family"], position=d["position"],
        quantity=d["quantity"], value=d["value"], unit=d["unit"], verdict=Verdict(d["verdict"]),
        decision_rule=DecisionRule(d["decision_rule"]), clause=d["clause"],
        point=json.loads(d["point"]), limit_low=d["limit_low"], limit_high=d["limit_high"],
        expanded_uncertainty=d["expanded_uncertainty"],
        uncertainty_budget=None if budget is None else json.loads(budget),
        repetitions=reps, raw=json.loads(d["raw"]), started_at=d["started_at"],
        ended_at=d["ended_at"], message=d["message"], id=d["id"],
    )
