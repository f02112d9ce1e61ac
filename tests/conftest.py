"""Fixtures shared by the project's tests: a throw-away PostgreSQL server.

Tests that need it are marked `postgres` and ask for `pg_url` (a new, empty database on a
server started once per test process, stopped at the end). They are skipped, saying why, only
when no PostgreSQL server programs can be found (CI installs Debian's `postgresql`).

The tests build many reports whose PDF they do not test: each print starts a headless browser
(seconds). The tests of report.pdf clear NO_PDF_ENV for their own builds.

Plan runs serve the simulated bench in the rig's process (SIM_PROCESS_ENV=no) unless a test asks
otherwise: `--sim-process auto` follows the machine's load, which must not change what a test
runs. The tests of the child process set the option or clear the variable themselves.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from reports.localdb import LocalPostgres, find_bin_dir, throwaway_server
from reports.pdf import NO_PDF_ENV
from rig.session import SIM_PROCESS_ENV

os.environ[NO_PDF_ENV] = "1"
os.environ.setdefault(SIM_PROCESS_ENV, "no")

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[LocalPostgres]:
    if find_bin_dir() is None:
        pytest.skip("no PostgreSQL server programs (initdb, pg_ctl) on PATH or in "
                    "/usr/lib/postgresql/*/bin: install Debian's 'postgresql' package")
    with throwaway_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: LocalPostgres) -> str:
    """The URL of a new empty database (one per test: nothing left over from another)."""
    return pg_server.create_database(f"t{os.getpid()}_{next(_databases)}")
