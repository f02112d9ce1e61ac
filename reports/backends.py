"""The two database backends of the results store: SQLite (embedded, the default) and PostgreSQL
(a lab's shared database, through psycopg 3).

The store's SQL is written once, in SQLite's parameter style (`?` and `:name`); the PostgreSQL
connection translates it to psycopg's (`%s`, `%(name)s`). The schema is written once too
(reports.schema.DDL); `Dialect.ddl` maps its two type names that differ: SQLite's REAL is an
8-byte IEEE double, PostgreSQL's REAL only 4 bytes, so it becomes DOUBLE PRECISION (PostgreSQL
docs, "Numeric Types"); an `INTEGER PRIMARY KEY` row id becomes an identity column, which
PostgreSQL draws from a sequence that never hands one number to two writers.

Why not SQLAlchemy Core: the store's SQL (ON CONFLICT ... DO UPDATE, RETURNING) is already
the same on both (SQLite 3.35+ and PostgreSQL 9.5+), so one DDL text with two type names mapped
keeps one schema with less than SQLAlchemy's Table objects would need, and no second
definition of the schema beside the DDL that existing SQLite stores were made with.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: URL schemes of a PostgreSQL store (libpq's connection URI).
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
#: The environment variable that names the store when neither --store nor the bench file does.
STORE_ENV = "METER_TEST_RIG_STORE"


def is_postgres_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def redacted(url: str) -> str:
    """The URL without its password (it appears in messages, logs and the panel)."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def lock_key(kind: str, name: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks (pg_try_advisory_lock(bigint)):
    the first 8 bytes of SHA-256, so two names share a key with odds of 2^-64."""
    digest = hashlib.sha256(f"{kind}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Row(tuple):
    """A row read by index, by column name, or as a dict (sqlite3.Row's interface)."""

    _names: tuple[str, ...]
    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: tuple[str, ...],
                index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._names, row._index = names, index
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self._names


def _row_factory(cursor: Any) -> Any:
    names = tuple(c.name for c in cursor.description or ())
    index = {n: i for i, n in enumerate(names)}
    return lambda values: Row(values, names, index)


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def to_psycopg(sql: str) -> str:
    """SQLite parameter style to psycopg's; the store's SQL holds no literal '?' or '%'."""
    return _NAMED.sub(r"%(\1)s", sql).replace("?", "%s")


class PostgresConnection:
    """A psycopg connection with sqlite3.Connection's calls that the store uses (execute,
    executescript, in_transaction, close). Autocommit: each statement is its own transaction
    unless the store opens one with BEGIN, as it does on SQLite."""

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise ImportError(
                "a PostgreSQL results store needs psycopg 3: pip install 'meter-test-rig[lab]'"
            ) from exc
        self._psycopg = psycopg
        # TCP keepalives both ways: a controller that dies without closing its socket (power
        # cut, cable pulled) loses its session, and so its bench reservation, within about
        # 10 + 3 x 5 s instead of the kernel's two hours (PostgreSQL docs, "Connection
        # Settings": tcp_keepalives_*; libpq "Parameter Key Words": keepalives_*).
        self._conn = psycopg.connect(
            url, autocommit=True, row_factory=_row_factory, keepalives=1,
            keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
            application_name="meter-test-rig",
        )
        self._conn.execute("SET tcp_keepalives_idle = 10")
        self._conn.execute("SET tcp_keepalives_interval = 5")
        self._conn.execute("SET tcp_keepalives_count = 3")

    @property
    def in_transaction(self) -> bool:
        status = self._conn.info.transaction_status
        return status != self._psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        return self._conn.execute(to_psycopg(sql), params or None)  # type: ignore[arg-type]

    def execute_batch(self, sql: str, params_seq: Sequence[Sequence[Any] | dict[str, Any]],
                      *, returning: bool = False) -> list[Row]:
        """`sql` once for each parameter set, in one transaction (the enclosing one, else one
        of its own), sent in one round trip: pipeline mode queues the statements and waits
        for the server once, at the pipeline's Sync (psycopg docs, "Pipeline mode support";
        PostgreSQL docs, libpq "Pipeline Mode"), where a statement at a time waits for each.
        `returning`: the first row each statement returned, in order. A failed statement
        raises at that Sync, its transaction rolled back: nothing of the batch is stored."""
        if not params_seq:
            return []
        conn, own = self._conn, not self.in_transaction
        cursor = conn.cursor()
        try:
            with conn.pipeline():
                if own:
                    conn.execute("BEGIN")
                cursor.executemany(to_psycopg(sql), params_seq,  # type: ignore[arg-type]
                                   returning=returning)
                if own:
                    conn.execute("COMMIT")
        except BaseException:
            if own and self.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if not returning:
            return []
        rows = [cursor.fetchone()]
        while cursor.nextset():
            rows.append(cursor.fetchone())
        return rows

    def executescript(self, script: str) -> None:
        for statement in split_statements(script):
            self._conn.execute(statement)  # type: ignore[arg-type]

    def close(self) -> None:
        self._conn.close()


def split_statements(script: str) -> list[str]:
    """The statements of a script of DDL (no ';' inside a statement)."""
    return [s.strip() for s in script.split(";") if s.strip()]


@dataclass(frozen=True)
class Dialect:
    """What differs between the two backends, in one place."""

    name: str

    @property
    def postgres(self) -> bool:
        return self.name == "postgresql"

    def ddl(self, sql: str) -> str:
        if not self.postgres:
            return sql
        sql = sql.replace(
            "INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        )
        return re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)

    def integrity_errors(self) -> tuple[type[BaseException], ...]:
        if self.postgres:
            import psycopg

            return (sqlite3.IntegrityError, psycopg.errors.IntegrityError)
        return (sqlite3.IntegrityError,)

    def database_errors(self) -> tuple[type[BaseException], ...]:
        if self.postgres:
            import psycopg

            return (sqlite3.DatabaseError, psycopg.Error)
        return (sqlite3.DatabaseError,)

    @staticmethod
    def is_foreign_key(exc: BaseException) -> bool:
        return "FOREIGN KEY" in str(exc) or type(exc).__name__ == "ForeignKeyViolation"

    def tables(self, db: Any) -> set[str]:
        if self.postgres:
            rows = db.execute("SELECT table_name FROM information_schema.tables"
                              " WHERE table_schema = current_schema()")
        else:
            rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in rows}

    def columns(self, db: Any, table: str) -> list[str]:
        if self.postgres:
            rows = db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema ="
                " current_schema() AND table_name = ? ORDER BY ordinal_position", (table,))
            return [r[0] for r in rows]
        return [r[1] for r in db.execute(f"PRAGMA table_info({table})")]

    def begin_exclusive(self, db: Any) -> None:
        """Open a transaction that one writer at a time gets (creating or migrating the
        schema): SQLite's write lock; on PostgreSQL a transaction-scoped advisory lock."""
        if self.postgres:
            db.execute("BEGIN")
            db.execute("SELECT pg_advisory_xact_lock(?)", (lock_key("schema", "store"),))
        else:
            db.execute("BEGIN IMMEDIATE")


def run_script(db: Any, dialect: Dialect, statements: Iterable[str]) -> None:
    for statement in statements:
        db.execute(dialect.ddl(statement))
