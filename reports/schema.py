"""Schema of the results store (SQLite and PostgreSQL alike, see reports.backends), and its
version.

Bump SCHEMA_VERSION when a table changes, and add the step from the previous version to
MIGRATIONS so that older stores are upgraded when opened for writing. Readers cope with
older or partial stores by selecting only the columns that exist (see reports.store).
"""

from __future__ import annotations

SCHEMA_VERSION = 2

STORE_FILENAME = "results.sqlite"

# Columns per table as this version writes them; readers use this to know what to expect.
RUN_COLUMNS = (
    "run_id", "plan_name", "plan_version", "operator", "software_version", "decision_rule",
    "started_at", "ended_at", "status", "bench_file", "bench_path", "bench_hash", "lab",
    "environment", "notes",
)
# Added in version 2 (not read into RunInfo): who writes the run's rows.
RUN_OWNER_COLUMN = "owner"
POSITION_COLUMNS = (
    "run_id", "position", "serial", "manufacturer", "meter_type", "firmware", "constants",
    "identity", "read_at",
)
MEASUREMENT_COLUMNS = (
    "id", "run_id", "test_id", "position", "point_key", "family", "clause", "point",
    "quantity", "value", "unit", "limit_low", "limit_high", "expanded_uncertainty",
    "coverage_factor", "uncertainty_budget", "verdict", "decision_rule", "rep_n", "rep_mean",
    "rep_stdev", "raw", "started_at", "ended_at", "recorded_at", "recorded_count", "message",
)
EVENT_COLUMNS = ("id", "run_id", "t", "level", "kind", "position", "message", "data")

# JSON-holding columns, per table.
JSON_COLUMNS = {
    "run": ("environment",),
    "position": ("constants", "identity"),
    "measurement": ("point", "uncertainty_budget", "raw"),
    "event": ("data",),
}

# A bench reserved for a run in a shared (PostgreSQL) store: the row says who and since when;
# the reservation itself is an advisory lock of the holder's database session (reports.leases).
BENCH_LEASE_DDL = """
CREATE TABLE bench_lease (
    bench     TEXT PRIMARY KEY,
    holder    TEXT NOT NULL,
    run_id    TEXT NOT NULL DEFAULT '',
    what      TEXT NOT NULL DEFAULT '',
    since     REAL NOT NULL
);
"""

# The schema of the current version (what a new store gets).
DDL = """
CREATE TABLE schema_version (
    version     INTEGER NOT NULL,
    written_by  TEXT NOT NULL DEFAULT '',
    created_at  REAL NOT NULL
);
CREATE TABLE run (
    run_id            TEXT PRIMARY KEY,
    plan_name         TEXT NOT NULL DEFAULT '',
    plan_version      TEXT NOT NULL DEFAULT '',
    operator          TEXT NOT NULL DEFAULT '',
    software_version  TEXT NOT NULL DEFAULT '',
    decision_rule     TEXT NOT NULL DEFAULT 'simple',
    started_at        REAL NOT NULL,
    ended_at          REAL,
    status            TEXT NOT NULL DEFAULT 'running',
    bench_file        TEXT NOT NULL DEFAULT '',
    bench_path        TEXT NOT NULL DEFAULT '',
    bench_hash        TEXT NOT NULL DEFAULT '',
    lab               TEXT NOT NULL DEFAULT '',
    environment       TEXT NOT NULL DEFAULT '{}',
    notes             TEXT NOT NULL DEFAULT '',
    owner             TEXT NOT NULL DEFAULT ''
);
CREATE TABLE position (
    run_id        TEXT NOT NULL REFERENCES run(run_id),
    position      INTEGER NOT NULL,
    serial        TEXT NOT NULL DEFAULT '',
    manufacturer  TEXT NOT NULL DEFAULT '',
    meter_type    TEXT NOT NULL DEFAULT '',
    firmware      TEXT NOT NULL DEFAULT '',
    constants     TEXT NOT NULL DEFAULT '{}',
    identity      TEXT NOT NULL DEFAULT '{}',
    read_at       REAL,
    PRIMARY KEY (run_id, position)
);
CREATE TABLE measurement (
    id                    INTEGER PRIMARY KEY,
    run_id                TEXT NOT NULL REFERENCES run(run_id),
    test_id               TEXT NOT NULL,
    position              INTEGER NOT NULL,
    point_key             TEXT NOT NULL,
    family                TEXT NOT NULL,
    clause                TEXT NOT NULL DEFAULT '',
    point                 TEXT NOT NULL DEFAULT '{}',
    quantity              TEXT NOT NULL,
    value                 REAL,
    unit                  TEXT NOT NULL DEFAULT '',
    limit_low             REAL,
    limit_high            REAL,
    expanded_uncertainty  REAL,
    coverage_factor       REAL NOT NULL DEFAULT 2.0,
    uncertainty_budget    TEXT,
    verdict               TEXT NOT NULL,
    decision_rule         TEXT NOT NULL,
    rep_n                 INTEGER,
    rep_mean              REAL,
    rep_stdev             REAL,
    raw                   TEXT NOT NULL DEFAULT '{}',
    started_at            REAL,
    ended_at              REAL,
    recorded_at           REAL NOT NULL,
    recorded_count        INTEGER NOT NULL DEFAULT 1,
    message               TEXT NOT NULL DEFAULT '',
    UNIQUE (run_id, test_id, position, point_key)
);
CREATE INDEX measurement_run ON measurement(run_id, position);
CREATE TABLE event (
    id        INTEGER PRIMARY KEY,
    run_id    TEXT NOT NULL,
    t         REAL NOT NULL,
    level     TEXT NOT NULL DEFAULT 'info',
    kind      TEXT NOT NULL DEFAULT 'log',
    position  INTEGER,
    message   TEXT NOT NULL DEFAULT '',
    data      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX event_run ON event(run_id, t);
""" + BENCH_LEASE_DDL

# version -> SQL that upgrades a store from that version to version + 1.
MIGRATIONS: dict[int, str] = {
    # 1 -> 2: the writer of a run (many benches in one database), bench reservations.
    1: "ALTER TABLE run ADD COLUMN owner TEXT NOT NULL DEFAULT '';" + BENCH_LEASE_DDL,
}
