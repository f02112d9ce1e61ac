"""Reports of real plan runs on the simulated bench: a healthy batch, a batch with defective
meters, and a run killed mid-way (the pytest subprocess gets SIGKILL).

The stores are produced by `python -m pytest -p rig.pytest_plugin <plans> --plan <yaml>` in
subprocesses (tests/reports/realrun.py), once per module: the two finished runs go at once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

from reports.build import build_report
from reports.records import Measurement, RunStatus, Verdict
from reports.schema import SCHEMA_VERSION
from reports.store import ResultsStore
from tests.reports import realrun
from tests.reports.checks import assert_each_measurement_once, assert_rows_match_store
from tests.reports.htmlscan import ReportScan

POSITIONS = 3


class Finished:
    """One finished real run, its store contents and the report the plugin wrote."""

    def __init__(self, run: realrun.RealRun) -> None:
        self.run = run
        with ResultsStore.in_runs_dir(run.runs_dir, create=False) as store:
            self.info = store.get_run(run.run_id)
            self.stored: dict[int, Measurement] = {
                m.id: m for m in store.measurements(run.run_id)}
        self.folder = run.runs_dir / run.run_id
        self.html = (self.folder / "report.html").read_text(encoding="utf-8")
        self.scan = ReportScan(self.html)

    def position_verdicts(self) -> dict[int, str]:
        return {int(a["data-position"]): a["data-verdict"] for t, a in self.scan.tags
                if t == "section" and "meter" in a.get("class", "").split()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Finished]:
    base = tmp_path_factory.mktemp("real-runs")
    plan = realrun.write_plan(base / "plans", realrun.SMALL_PLAN_ITEMS)
    procs = {
        "healthy": realrun.start(base / "plans", plan, base / "healthy", POSITIONS),
        "defective": realrun.start(base / "plans", plan, base / "defective", POSITIONS,
                                   realrun.DEFECTS),
    }
    return {name: Finished(realrun.finish(p, base / name)) for name, p in procs.items()}


@pytest.mark.parametrize("name", ["healthy", "defective"])
def test_the_run_finished_and_wrote_its_report(runs, name):
    r = runs[name]
    expected_exit = 0 if name == "healthy" else 1  # 1: plan tests failed, as they must
    assert r.run.returncode == expected_exit, r.run.stdout + r.run.stderr
    assert f"run {r.run.run_id} report:" in r.run.stdout
    assert r.info.status == RunStatus.COMPLETED and r.info.ended_at is not None
    assert {p.name for p in r.folder.iterdir()} >= {"report.html", "measurements.csv",
                                                      "measurements.json"}
    assert r.scan.body["data-incomplete"] == "false"
    # every point of the plan on every position: 6 accuracy, 1 starting, 1 no-load
    assert len(r.stored) == 8 * POSITIONS
    assert {m.position for m in r.stored.values()} == set(range(1, POSITIONS + 1))


@pytest.mark.parametrize("name", ["healthy", "defective"])
def test_every_stored_measurement_appears_exactly_once(runs, name):
    r = runs[name]
    assert_each_measurement_once(r.scan, r.stored)
    footer = re.search(r"per-position tables \((\d+) in all\)", r.html)
    assert footer and int(footer.group(1)) == len(r.stored)
    for row in r.scan.rows:  # and in the section of its own position
        m = r.stored[int(row.attrs["data-mid"])]
        assert row.attrs["data-test-id"] == m.test_id


@pytest.mark.parametrize("name", ["healthy", "defective"])
def test_verdicts_and_numbers_in_the_html_match_the_store(runs, name):
    r = runs[name]
    assert_rows_match_store(r.scan, r.stored)
    sections = r.position_verdicts()
    for pos in range(1, POSITIONS + 1):
        verdicts = {m.verdict for m in r.stored.values() if m.position == pos}
        worst = Verdict.FAIL if Verdict.FAIL in verdicts else Verdict.PASS
        assert verdicts <= {Verdict.PASS, Verdict.FAIL}
        assert sections[pos] == worst.value


def test_healthy_meters_conform(runs):
    r = runs["healthy"]
    assert set(r.position_verdicts().values()) == {"pass"}
    assert r.scan.by_id_text["batch-conformity"].startswith(
        f"CONFORMS \u2014 Batch: {POSITIONS} of {POSITIONS} meter(s) conform")
    assert "Every point of every meter passes" in r.scan.by_id_text["failures"]


def test_each_defect_fails_the_test_that_must_catch_it(runs):
    r = runs["defective"]
    assert r.position_verdicts() == {1: "pass", 2: "fail", 3: "fail"}
    failed = sorted((m.position, m.family, m.point.get("load")) for m in r.stored.values()
                    if m.verdict is Verdict.FAIL)
    # gain error at 0.1 In (inside 0.05..0.2 In), both directions; creep; no start
    assert failed == [(2, "accuracy", 0.1), (2, "accuracy", 0.1), (2, "no_load", None),
                      (3, "starting", 0.001)]
    gain = [m for m in r.stored.values() if m.position == 2 and m.family == "accuracy"
            and m.verdict is Verdict.FAIL]
    assert all(m.value == pytest.approx(1.5, abs=0.1) for m in gain)
    assert "do not conform (position(s) 2, 3)" in r.scan.by_id_text["batch-conformity"]


def test_failures_list_links_every_failed_point_and_matches_pytest(runs):
    r = runs["defective"]
    failed = {m.id: m for m in r.stored.values() if m.verdict is Verdict.FAIL}
    links = {int(a["href"][3:]) for t, a in r.scan.tags
             if t == "a" and a.get("href", "").startswith("#m-")}
    assert set(failed) <= links
    text = r.scan.by_id_text["failures"]
    for m in failed.values():
        assert f"Position {m.position}" in text
    assert "breaks the limit \u00b10.5 %" in text
    # pytest's own verdicts name the same tests as the store's failed measurements
    # (pytest prints them relative to its working directory, the store from the rootdir)
    pytest_failed = re.findall(r"^FAILED \S*?/plans/(\S+?\])", r.run.stdout, flags=re.M)
    assert len(pytest_failed) == 4
    assert set(pytest_failed) == {m.test_id for m in failed.values()}


@pytest.mark.parametrize("name", ["healthy", "defective"])
def test_exports_hold_the_stored_values(runs, name):
    r = runs[name]
    csv = pd.read_csv(r.folder / "measurements.csv")
    doc = json.loads((r.folder / "measurements.json").read_text(encoding="utf-8"))
    assert sorted(csv["id"]) == sorted(r.stored)
    assert sorted(m["id"] for m in doc["measurements"]) == sorted(r.stored)
    for row in csv.to_dict("records"):
        m = r.stored[int(row["id"])]
        assert row["verdict"] == m.verdict.value and row["value"] == pytest.approx(m.value)
    assert doc["verdicts"] == {str(p): v for p, v in r.position_verdicts().items()}


@pytest.mark.parametrize("name", ["healthy", "defective"])
def test_report_rebuilt_from_the_store_equals_the_one_the_run_wrote(runs, name, tmp_path):
    r = runs[name]
    result = build_report(r.run.run_id, r.run.runs_dir, out_dir=tmp_path)
    for fmt, path in result.files.items():
        assert path.read_bytes() == (r.folder / path.name).read_bytes(), fmt


def test_run_killed_mid_way_gives_an_incomplete_report(tmp_path):
    """SIGKILL the plan run once a few points are stored, then build its report."""
    plan_items = [dict(realrun.SMALL_PLAN_ITEMS[0],
                       points=[{"current": c, "limit": 0.5}
                               for c in (0.05, 0.1, 0.2, 0.5, 1.0, 1.2)])]
    plan = realrun.write_plan(tmp_path / "plans", plan_items, name="killed-run")
    runs_dir = tmp_path / "runs"
    proc = realrun.start(tmp_path / "plans", plan, runs_dir, POSITIONS)
    try:
        realrun.wait_for_measurements(proc, runs_dir, 2 * POSITIONS)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run's own session: pytest and any child
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    run_id = realrun.only_run_id(runs_dir)
    with ResultsStore.in_runs_dir(runs_dir, create=False) as store:
        stored = {m.id: m for m in store.measurements(run_id)}
        assert store.get_run(run_id).ended_at is None
        started = {(e.data["test_id"], e.position) for e in store.events(run_id)
                   if e.kind == "point_started"}
    # the points the kill caught between their start mark and their record
    cut = started - {(m.test_id, m.position) for m in stored.values()}
    assert 2 * POSITIONS <= len(stored) < 12 * POSITIONS
    assert not (runs_dir / run_id / "report.html").exists()  # the kill came before it

    cli = subprocess.run(
        [sys.executable, "-m", "reports", "build", run_id, "--runs-dir", str(runs_dir)],
        cwd=realrun.REPO, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert f"the report of run {run_id} is marked INCOMPLETE" in cli.stderr
    assert "no end time" in cli.stderr

    html = (runs_dir / run_id / "report.html").read_text(encoding="utf-8")
    scan = ReportScan(html)
    assert scan.body["data-incomplete"] == "true"
    assert "INCOMPLETE REPORT" in scan.by_id_text["incomplete"]
    assert "no end time (status 'running')" in scan.by_id_text["incomplete"]
    assert_each_measurement_once(scan, stored)
    assert_rows_match_store(scan, stored)
    assert "provisional" in scan.by_id_text["batch-conformity"].lower()
    # healthy meters, but the run did not finish: no statement may read CONFORMS
    statements = [a["data-conformity"] for t, a in scan.tags
                  if t == "p" and "conformity" in a.get("class", "").split()]
    assert statements == ["NOT DETERMINED"] * (1 + POSITIONS)
    if cut:  # killed mid-point: the report names the points that have no result
        assert f"{len(cut)} point(s) were started but have no result" in cli.stderr
        for test_id, position in cut:
            assert f"position {position}: started {test_id}" in scan.by_id_text["interrupted"]
    else:  # killed between points
        assert "interrupted" not in scan.ids
    doc = json.loads((runs_dir / run_id / "measurements.json").read_text(encoding="utf-8"))
    assert doc["incomplete"] is True and len(doc["measurements"]) == len(stored)


def test_store_of_a_newer_schema_gives_a_report_of_what_is_known(runs, tmp_path):
    """A real store, as a later version of the software would leave it: a newer schema
    version and a column this version does not know."""
    r = runs["defective"]
    copy = tmp_path / "results.sqlite"
    with sqlite3.connect(r.run.runs_dir / "results.sqlite") as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
        dst.execute("INSERT INTO schema_version VALUES (?, 'a later version', 0)",
                    (SCHEMA_VERSION + 1,))
        dst.execute("ALTER TABLE measurement ADD COLUMN phase_angle_error REAL")
    cli = subprocess.run(
        [sys.executable, "-m", "reports", "build", r.run.run_id, "--runs-dir", str(tmp_path)],
        cwd=realrun.REPO, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert "INCOMPLETE" in cli.stderr
    assert f"schema version {SCHEMA_VERSION + 1}" in cli.stderr and str(copy) in cli.stderr
    scan = ReportScan((tmp_path / r.run.run_id / "report.html").read_text(encoding="utf-8"))
    assert scan.body["data-incomplete"] == "true"
    assert_each_measurement_once(scan, r.stored)
    assert_rows_match_store(scan, r.stored)
    with sqlite3.connect(copy) as db:  # read only: nothing was changed in the file
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == (
            SCHEMA_VERSION + 1)
