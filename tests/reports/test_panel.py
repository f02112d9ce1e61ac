"""The lab panel (python -m reports serve): served for real, read over HTTP and in headless
Chromium while a simulated run writes the store."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reports.panel import Filters, RunRow, run_rows
from reports.records import Measurement, PositionRecord, Verdict
from reports.store import ResultsStore
from tests.processes import stop
from tests.reports import chromium

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@contextmanager
def served(*args: str) -> Iterator[str]:
    """`python -m reports serve --port 0 ARGS`; yields its base URL once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "reports", "serve", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=ENV, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert found, line + proc.stdout.read()
        yield found.group(0)
    finally:
        stop(proc)


def fill(store: ResultsStore) -> list[str]:
    """Two runs: meter S1 passing on bench A, meter S2 failing on bench B."""
    ids = []
    for lab, serial, value in (("bench A", "S1", 0.1), ("bench B", "S2", 0.9)):
        run = store.create_run(plan_name="p", plan_version="1", operator="o",
                               software_version="0", lab=lab, bench_path=f"/b/{lab[-1]}.yaml")
        store.add_position(PositionRecord(run.run_id, 1, serial=serial, meter_type="A1000"))
        for load in (0.1, 1.0):
            store.record(Measurement(
                run_id=run.run_id, test_id=f"t::acc[{load}]", family="accuracy", position=1,
                quantity="active energy error", value=value, unit="%",
                verdict=Verdict.PASS if value < 0.5 else Verdict.FAIL,
                point={"load": load, "pf": "1", "direction": "import"},
                limit_low=-0.5, limit_high=0.5))
        store.finish_run(run.run_id)
        ids.append(run.run_id)
    return ids


def test_runs_are_filtered_by_bench_serial_type_verdict_and_date(tmp_path):
    with ResultsStore(tmp_path / "results.sqlite") as store:
        a, b = fill(store)
        rows = run_rows(store)
    assert [r.run_id for r in rows] == [b, a]  # newest first
    verdicts = {r.run_id: r.verdict for r in rows}
    assert verdicts == {a: "pass", b: "fail"}

    def kept(**f: str) -> list[str]:
        return [r.run_id for r in rows if Filters(**f).keep(r)]

    assert kept(bench="bench a") == [a]
    assert kept(serial="S2") == [b]
    assert kept(type="a1000") == [b, a] and kept(type="B2000") == []
    assert kept(verdict="fail") == [b]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert kept(since=today, until=today) == [b, a]
    assert kept(until="2000-01-01") == []
    assert isinstance(rows[0], RunRow)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_pages_read_the_store_and_a_token_guards_them(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultsStore(path) as store:
        a, b = fill(store)
    with served("--store", str(path), "--token", "lab-secret") as base:
        assert get(base)[0] == 401
        status, text, headers = get(base + "runs?serial=S1&token=lab-secret")
        assert status == 200 and a in text and b not in text and "1 of 2 run(s)" in text
        assert "panel_token=lab-secret" in headers.get("set-cookie", "")
        auth = {"Authorization": "Bearer lab-secret"}
        status, text, _ = get(base + f"runs/{a}/report.html", auth)
        # The run's own report page (its body names the run; the title is the report's).
        assert status == 200 and f'<body data-run-id="{a}"' in text
        status, text, _ = get(base + "meters/S2", auth)
        assert status == 200 and "<svg" in text and b in text and "fail" in text
        assert get(base + "runs/nope/report.html", auth)[0] == 404


def test_binding_off_loopback_needs_a_token(tmp_path):
    done = subprocess.run([sys.executable, "-m", "reports", "serve", "--host", "0.0.0.0",
                           "--store", str(tmp_path / "results.sqlite")],
                          capture_output=True, text=True, env={**ENV, "CI": "1"}, timeout=120)
    assert done.returncode == 2
    assert "needs a token set by the lab" in done.stderr


@pytest.mark.skipif(chromium.missing() is not None, reason=str(chromium.missing()))
@pytest.mark.timeout(900)
def test_panel_shows_a_simulated_run_live_and_opens_its_report(tmp_path):
    """The page is opened on an empty store; a simulated run is started; its progress changes
    on the page without a reload; the finished run's report opens from the panel. The run is
    the full plan at one position (209 items, some seconds): the smoke plan's 8 items can pass
    between two of the panel's polls (0.2 s) on a loaded machine, leaving one state to see."""
    path = tmp_path / "results.sqlite"
    ResultsStore(path).close()
    with served("--store", str(path)) as base, chromium.chromium() as driver:
        driver.get(base)
        loaded = driver.execute_script("return window.panelLoadedAt")
        assert loaded
        run = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
             str(ROOT / "testplans"), "--positions", "1", "--store",
             str(path), "--runs-dir", str(tmp_path / "runs"), "--no-report"],
            cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen: list[str] = []
        finished = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            live = driver.execute_script(
                "const r = document.querySelector('#live .run');"
                " return r ? r.querySelector('.progress').textContent + ' | ' +"
                " r.querySelector('.positions').textContent : null")
            if live and (not seen or seen[-1] != live):
                seen.append(live)
            finished = driver.execute_script(
                "const r = document.querySelector('#recent-body tr');"
                " return r && r.cells[4].textContent === 'completed' ? r.dataset.run : null")
            if finished:
                break
            time.sleep(0.05)
        assert run.wait(timeout=120) == 0
        assert finished, f"the run never showed as completed; seen {seen}"
        # Progress changed on the page while the run went on, and the page was not reloaded.
        assert len(seen) >= 2, seen
        assert any("measured" in s for s in seen)
        assert driver.execute_script("return window.panelLoadedAt") == loaded
        assert driver.execute_script("return window.panelUpdates") >= 3
        driver.find_element("css selector", f"#recent-body tr[data-run='{finished}'] a.report"
                            ).click()
        deadline = time.monotonic() + 120
        while f"(run {finished})" not in driver.title:
            assert time.monotonic() < deadline, driver.title
            time.sleep(0.1)
        assert "iec60687-class0.5S" in driver.page_source


def test_events_stream_sends_a_snapshot_per_change(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultsStore(path) as store:
        fill(store)
    with served("--store", str(path)) as base, \
            urllib.request.urlopen(base + "events", timeout=60) as stream:
        line = stream.readline().decode()
        assert line.startswith("data: ")
        data = json.loads(line.removeprefix("data: "))
        assert data["live"] == [] and len(data["recent"]) == 2
        assert {r["verdict"] for r in data["recent"]} == {"pass", "fail"}
