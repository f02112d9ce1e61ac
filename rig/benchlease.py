"""A lab bench reserved for a run in the lab's shared PostgreSQL store, beside the file lock.

The file lock (rig.benchlock) keeps two runs on one controller PC off the same instruments; a
shared store also has every bench of the lab reserved in one place, so that `meter-test-rig
benches` lists who holds which bench since when, from any machine.

The reservation is a PostgreSQL session-level advisory lock (PostgreSQL docs, "Advisory
Locks": held until released or the session ends) on a key drawn from the bench's name, taken
on a connection of its own; the `bench_lease` row beside it names the holder. A holder that
dies loses its session and so the lock: a killed process at once (its socket is closed by the
kernel), a dead machine after the TCP keepalives set in reports.backends (about 25 s). A row
whose lock is no longer held is a crashed holder's and is taken over by the next run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from reports.backends import PostgresConnection, lock_key
from reports.store import ResultsStore
from rig.bench.config import BenchConfig
from rig.benchlock import BenchBusy, Holder

LEASE_KIND = "bench"


def bench_id(config: BenchConfig, bench_path: Path | str, host: str | None = None) -> str:
    """The name a lab bench is reserved under: lab, controller host and bench file."""
    return f"{config.lab} @ {host or platform.node()}: {Path(bench_path).resolve()}"


@dataclass(frozen=True)
class BenchState:
    """One bench as `meter-test-rig benches` lists it."""

    bench: str
    holder: str
    since: float
    run_id: str
    what: str
    held: bool


class DatabaseBenchLease:
    """rig.benchlock.BenchLock on a PostgreSQL store: acquire, note_run, release."""

    def __init__(self, url: str, bench: str, holder: Holder) -> None:
        self.url = url
        self.bench = bench
        self.holder = holder
        self.key = lock_key(LEASE_KIND, bench)
        self._db: PostgresConnection | None = None

    def acquire(self) -> None:
        # The store's schema (the bench_lease table) is made or migrated first.
        ResultsStore(self.url).close()
        db = PostgresConnection(self.url)
        try:
            got = db.execute("SELECT pg_try_advisory_lock(?)", (self.key,)).fetchone()[0]
            if not got:
                row = db.execute("SELECT holder, since, run_id FROM bench_lease WHERE bench = ?",
                                 (self.bench,)).fetchone()
                raise BenchBusy(f"bench in use: {self.bench} is reserved by "
                                f"{_holder_text(row)} in the lab's store; one run per bench: "
                                "wait for that run to end, or stop it")
            # Any row left is a crashed holder's (its lock is gone): replaced.
            db.execute(
                "INSERT INTO bench_lease (bench, holder, run_id, what, since) VALUES (?,?,?,?,?)"
                " ON CONFLICT (bench) DO UPDATE SET holder = excluded.holder,"
                " run_id = excluded.run_id, what = excluded.what, since = excluded.since",
                (self.bench, json.dumps(dataclasses.asdict(self.holder)), "",
                 self.holder.what, time.time()),
            )
        except BaseException:
            db.close()
            raise
        self._db = db

    def note_run(self, run_id: str) -> None:
        """Name the run in the reservation (known only once the bench is open)."""
        if self._db is not None:
            self._db.execute("UPDATE bench_lease SET run_id = ? WHERE bench = ?",
                             (run_id, self.bench))

    def release(self) -> None:
        db, self._db = self._db, None
        if db is None:
            return
        try:
            db.execute("DELETE FROM bench_lease WHERE bench = ?", (self.bench,))
            db.execute("SELECT pg_advisory_unlock(?)", (self.key,))
        finally:
            db.close()  # ends the session: the lock goes with it in any case

    def __enter__(self) -> DatabaseBenchLease:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder_text(row: object) -> str:
    if row is None:
        return "another run (its reservation row is not written yet)"
    holder, _since, run_id = row  # type: ignore[misc]
    try:
        who = str(Holder(**json.loads(holder)))
    except (ValueError, TypeError):
        who = str(holder)
    return who + (f", run {run_id}" if run_id else "")


def database_benches(url: str) -> list[BenchState]:
    """Every bench with a reservation row; `held` is False for a crashed holder's row."""
    with ResultsStore(url, create=False) as store:
        rows = store.query("SELECT bench, holder, since, run_id, what FROM bench_lease"
                           " ORDER BY bench")
        # pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32
        # bits), objsubid 1 (PostgreSQL docs, "pg_locks").
        held = {
            (int(r[0]) << 32) | int(r[1])
            for r in store.query("SELECT CAST(classid AS bigint), CAST(objid AS bigint)"
                                 " FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1"
                                 " AND granted")
        }
    out = []
    for bench, holder, since, run_id, what in rows:
        key = lock_key(LEASE_KIND, bench) & 0xFFFF_FFFF_FFFF_FFFF
        try:
            who = str(Holder(**json.loads(holder)))
        except (ValueError, TypeError):
            who = str(holder)
        out.append(BenchState(bench, who, float(since), run_id, what, key in held))
    return out


def file_benches(directory: Path) -> list[BenchState]:
    """The lab benches locked on this machine (rig.benchlock's lock files). A file whose holder
    process is gone is a killed run's: listed as not held (the kernel dropped its lock)."""
    out = []
    for path in sorted(Path(directory).glob("*.lock")):
        try:
            data = json.loads(path.read_text() or "{}")
            holder = Holder(**data)
        except (OSError, ValueError, TypeError):
            continue  # being written or removed just now
        alive = holder.host != platform.node() or _alive(holder.pid)
        since = _epoch(holder.since)
        out.append(BenchState(path.stem.rsplit("-", 1)[0], str(holder), since, "",
                              holder.what, alive))
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _epoch(iso: str) -> float:
    import datetime as dt

    with suppress(ValueError):
        return dt.datetime.fromisoformat(iso).timestamp()
    return 0.0
