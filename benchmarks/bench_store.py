"""Speed figures of the shared results store and the lab panel.

    .venv/bin/python benchmarks/bench_store.py [--positions 12] [--points 100]
        [--store postgresql://...] [--latency-commits 20] [--no-browser]

Prints:
  - commit rate per point batch (one transaction holding a point's results at every position,
    as rig.recorder.Take.commit stores them: ResultsStore.record_many, one round trip on
    PostgreSQL; and, for the comparison, one statement at a time in one transaction) on SQLite
    (a file in a temporary folder) and on PostgreSQL (a local durable server started for the
    benchmark in a temporary folder, or --store URL for an existing one), in records/s and
    batches/s;
  - the lab panel's update latency from a commit to the browser: `python -m reports serve` on
    the PostgreSQL store, the page open in headless Chromium, one measurement committed a
    second; latency = the page's update time (Date.now() when the server-sent event was
    rendered) minus the commit's return time (same machine clock). Target under 1 s.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reports.localdb import LocalPostgres, find_bin_dir  # noqa: E402
from reports.records import Measurement, PositionRecord, Verdict  # noqa: E402
from reports.store import ResultsStore  # noqa: E402


def measurement(run_id: str, position: int, k: int) -> Measurement:
    return Measurement(
        run_id=run_id, test_id=f"bench::acc[{k}]", family="accuracy", position=position,
        quantity="active energy error", value=0.01 * (k % 7) - 0.03, unit="%",
        verdict=Verdict.PASS, point={"load": 0.05 + 0.01 * k, "pf": "1", "direction": "import"},
        limit_low=-0.5, limit_high=0.5, expanded_uncertainty=0.02,
        raw={"n_ref": 123456 + k, "pulses": 40})


def commit_rate(location: str | Path, positions: int, points: int,
                one_by_one: bool = False) -> tuple[float, float]:
    """(records/s, batches/s) of `points` batches of `positions` records each, stored as
    rig.recorder.Take.commit stores a point (`record_many`: one round trip on PostgreSQL), or
    `one_by_one`: a `record` call per position inside one transaction (how points were
    committed before; a round trip per statement)."""
    with ResultsStore(location) as store:
        run = store.create_run(plan_name="bench_store", plan_version="1", operator="bench",
                               software_version="0")
        for p in range(1, positions + 1):
            store.add_position(PositionRecord(run.run_id, p, serial=f"S{p:04d}"))
        t0 = time.perf_counter()
        for k in range(points):
            batch = [measurement(run.run_id, p, k) for p in range(1, positions + 1)]
            if one_by_one:
                with store.transaction():
                    for m in batch:
                        store.record(m)
            else:
                store.record_many(batch)
        elapsed = time.perf_counter() - t0
        assert len(store.measurements(run.run_id)) == positions * points
    return positions * points / elapsed, points / elapsed


def panel_latency(url: str, commits: int) -> list[float]:
    """Seconds from each commit to the browser's rendering of it."""
    from tests.reports import chromium

    why = chromium.missing()
    if why:
        raise SystemExit(f"bench_store: no browser for the latency figure: {why}")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with ResultsStore(url) as store:
        run = store.create_run(plan_name="latency", plan_version="1", operator="bench",
                               software_version="0")
        store.add_position(PositionRecord(run.run_id, 1, serial="L1"))
        panel = subprocess.Popen(
            [sys.executable, "-m", "reports", "serve", "--store", url, "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO)
        try:
            line = panel.stdout.readline()
            base = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if not base:
                raise SystemExit(f"bench_store: the panel did not start: {line}")
            latencies = []
            with chromium.chromium() as driver:
                driver.get(base.group(0))
                deadline = time.monotonic() + 60
                while not driver.execute_script("return window.panelUpdates"):
                    if time.monotonic() > deadline:
                        raise SystemExit("bench_store: the panel page never updated")
                    time.sleep(0.05)
                for k in range(commits):
                    before = driver.execute_script("return window.panelUpdates")
                    store.record(measurement(run.run_id, 1, k))
                    committed = time.time()
                    deadline = time.monotonic() + 30
                    while driver.execute_script("return window.panelUpdates") == before:
                        if time.monotonic() > deadline:
                            raise SystemExit("bench_store: a commit never reached the page")
                        time.sleep(0.005)
                    shown = driver.execute_script("return window.panelUpdatedAt") / 1000.0
                    latencies.append(shown - committed)
                    time.sleep(1.0)
        finally:
            panel.terminate()
            panel.wait(timeout=30)
            panel.stdout.close()
        store.finish_run(run.run_id)
    return latencies


# How a point batch is stored: as the recorder does (one round trip), and one statement at a
# time (as before, for the comparison).
WAYS = ("batch", "one by one")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=12, help="records per point batch")
    parser.add_argument("--points", type=int, default=100, help="point batches per backend")
    parser.add_argument("--store", default=None, help="an existing PostgreSQL URL")
    parser.add_argument("--latency-commits", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true", help="skip the latency figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        for ways in WAYS:
            rate, batches = commit_rate(Path(tmp) / f"results-{ways}.sqlite", args.positions,
                                        args.points, ways == "one by one")
            print(f"{'sqlite, ' + ways + ':':24s} {rate:6.0f} records/s  "
                  f"({batches:6.1f} point batches/s of {args.positions} positions; WAL, "
                  "synchronous=FULL)")
        server = None
        url = args.store
        if url is None:
            if find_bin_dir() is None:
                print("postgresql: skipped (no PostgreSQL server programs; give --store URL)")
                return 0
            # A folder of its own: the server's account must be able to reach it.
            server = LocalPostgres(Path(tempfile.mkdtemp(prefix="bench-store-pg-")))
            server.start()
            url = server.create_database("bench")
        try:
            for ways in WAYS:
                rate, batches = commit_rate(url, args.positions, args.points,
                                            ways == "one by one")
                print(f"{'postgresql, ' + ways + ':':24s} {rate:6.0f} records/s  "
                      f"({batches:6.1f} point batches/s of {args.positions} positions; "
                      "local server over TCP, fsync on)")
            if not args.no_browser:
                lat = panel_latency(url, args.latency_commits)
                print(f"panel latency commit -> browser over {len(lat)} commits: median "
                      f"{statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms "
                      "(target < 1000 ms)")
        finally:
            if server is not None:
                server.stop()
                shutil.rmtree(server.folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
