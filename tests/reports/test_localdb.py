"""`python -m reports localdb`: a lab's own PostgreSQL server, started, used and stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reports.localdb import find_bin_dir
from reports.store import ResultsStore

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(find_bin_dir() is None, reason="no PostgreSQL server programs (initdb, "
                       "pg_ctl): install Debian's 'postgresql' package"),
]


def reports(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reports", *args], capture_output=True,
                          text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_start_gives_a_url_the_store_uses_and_stop_ends_it():
    folder = Path(tempfile.mkdtemp(prefix="localdb-test-")) / "db"
    folder.parent.chmod(0o755)  # the server's account (when root) passes through it
    try:
        started = reports("localdb", "start", str(folder))
        assert started.returncode == 0, started.stderr
        url = started.stdout.strip().splitlines()[-1]
        assert url.startswith("postgresql://lab@127.0.0.1:")
        with ResultsStore(url) as store:
            run = store.create_run(plan_name="p", plan_version="1", operator="o",
                                   software_version="0")
        # Its URL asked again later: the same server (the port is kept in the folder).
        assert reports("localdb", "url", str(folder)).stdout.strip() == url
        with ResultsStore(url, create=False) as store:
            assert [r.run_id for r in store.list_runs()] == [run.run_id]
        stopped = reports("localdb", "stop", str(folder))
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert not (folder / "data" / "postmaster.pid").exists()
    finally:
        reports("localdb", "stop", str(folder))
        shutil.rmtree(folder.parent, ignore_errors=True)


def test_a_folder_the_server_account_cannot_reach_is_named(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root hands the folder to another account")
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    done = reports("localdb", "start", str(hidden / "db"))
    assert done.returncode == 2
    assert "cannot pass through" in done.stderr and "private" in done.stderr
