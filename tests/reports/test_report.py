import json
import math
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from reports.__main__ import main
from reports.build import build_report
from reports.records import Measurement, PositionRecord, Verdict
from reports.schema import SCHEMA_VERSION
from reports.store import ResultsStore
from tests.reports.checks import assert_each_measurement_once, assert_rows_match_store
from tests.reports.htmlscan import ReportScan
from tests.reports.sample_run import build_sample, make_store

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A finished three-position run with every family, and its report files."""
    runs, sample = make_store(tmp_path_factory.mktemp("full"))
    result = build_report(sample.run_id, runs)
    with ResultsStore.in_runs_dir(runs, create=False) as store:
        stored = {m.id: m for m in store.measurements(sample.run_id)}
    html = result.files["html"].read_text(encoding="utf-8")
    return runs, sample, result, stored, html, ReportScan(html)


def test_files_are_written_in_the_run_folder(built):
    runs, sample, result, *_ = built
    folder = runs / sample.run_id
    assert result.out_dir == folder
    # report.pdf is not printed here: tests/conftest.py sets NO_PDF_ENV (test_pdf.py prints)
    assert {p.name for p in folder.iterdir()} == {"report.html", "measurements.csv",
                                                   "measurements.json", "report.sha256"}
    assert not result.incomplete and result.reasons == []


def test_every_measurement_appears_exactly_once_in_the_html(built):
    _, sample, _, stored, _, scan = built
    assert len(scan.rows) == len(stored) == len(sample.measurements)
    assert_each_measurement_once(scan, stored)


def test_html_numbers_and_verdicts_match_the_store(built):
    *_, stored, _, scan = built
    assert_rows_match_store(scan, stored)


def test_limits_are_shown_symmetric_when_they_are(built):
    *_, stored, _, scan = built
    row = next(r for r in scan.rows if stored[int(r.attrs["data-mid"])].family == "accuracy")
    assert row.cells["limit"]["text"].startswith("\u00b1")
    creep = next(r for r in scan.rows if stored[int(r.attrs["data-mid"])].family == "no_load")
    assert creep.cells["limit"]["text"] == "\u2264 1 imp"


def test_position_verdicts_and_statements_of_conformity(built):
    _, sample, _, _, _html, scan = built
    sections = {a["data-position"]: a for t, a in scan.tags
                if t == "section" and "meter" in a.get("class", "")}
    assert set(sections) == {"1", "2", "3"}
    for pos, expected in sample.expected_position_verdict.items():
        assert sections[str(pos)]["data-verdict"] == expected.value
    assert sample.expected_position_verdict[2] is Verdict.FAIL
    assert sample.expected_position_verdict[3] is Verdict.ERROR
    statements = [a for t, a in scan.tags if t == "p" and "conformity" in a.get("class", "")]
    labels = [a["data-conformity"] for a in statements]
    assert labels[0] == "DOES NOT CONFORM"  # the batch, first
    assert "DOES NOT CONFORM" in labels[1:] and "NOT DETERMINED" in labels[1:]
    batch_text = scan.by_id_text["batch-conformity"]
    assert "do not conform (position(s) 2" in batch_text
    failures = scan.by_id_text["failures"]
    assert "Position 2" in failures and "+1.370 % breaks the limit \u00b11 %" in failures
    assert "2 imp breaks the limit \u2264 1 imp; creeping" in failures
    assert "no value could be measured; event log read timed out" in failures


def test_failed_points_link_to_their_rows(built):
    *_, stored, _html, scan = built
    failed = {m.id for m in stored.values() if m.verdict is Verdict.FAIL}
    links = {int(a["href"][3:]) for t, a in scan.tags
             if t == "a" and a.get("href", "").startswith("#m-")}
    assert failed <= links
    assert {f"m-{i}" for i in links} <= set(scan.ids)


def test_header_shows_bench_instruments_environment_and_rule(built):
    *_, _html, scan = built
    inst = scan.by_id_text["instruments"]
    for text in ("MT786-0042", "COM-1187", "2026-03-14", "2026-01-20", "0.02 % (k=2)",
                 "ZERA COM5003"):
        assert text in inst
    facts = scan.by_id_text["run-facts"]
    for text in ("Example Meter Lab", "lab-a.yaml", "iec60687-0.5S-type 1.2.0", "A. Tester",
                 "0.1.0", "2026-09-21"):
        assert text in facts
    assert "temperature_C" in scan.by_id_text["environment"]
    assert "guarded" in scan.by_id_text["decision-rule"]
    assert "|value| + U <= limit" in scan.by_id_text["decision-rule"]


def test_every_plot_is_an_inline_svg_with_an_id(built):
    *_, scan = built
    figs = {f.id: f for f in scan.figures}
    assert len(figs) == len(scan.figures)
    assert all(f.svg_count == 1 and f.caption for f in figs.values())
    for pos in (1, 2, 3):
        assert f"plot-pos{pos}-demand" in figs and f"plot-pos{pos}-clock" in figs
        for direction in ("import", "export"):
            for pf in ("1", "0-5l", "0-8c"):
                key = f"plot-pos{pos}-curve-active-energy-error-{direction}-pf-{pf}"
                assert key in figs, key
    assert "plot-batch-clock" in figs
    assert "plot-batch-curve-active-energy-error-import-pf-1" in figs


def test_the_page_is_self_contained_and_ids_are_unique(built):
    *_, html, scan = built
    assert len(scan.ids) == len(set(scan.ids))
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?:https?:)?//", html)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"url\((?!#)", html)
    assert "@media print" in html and "break-before: page" in html
    assert scan.body["data-incomplete"] == "false"
    assert "incomplete" not in scan.ids


def test_batch_summary_has_mean_spread_and_worst_meter(built):
    _, sample, *_, scan = built
    table = scan.by_id_text["batch-points"]
    assert "0.01 In, PF 1, import, balanced" in table
    vals = [m.value for m in sample.measurements
            if m.family == "accuracy" and m.point == {"load": 0.01, "pf": "1",
                                                      "direction": "import",
                                                      "element": "balanced"}]
    assert len(vals) == 3
    assert "2: +1.370 %" in table  # position 2 is the worst at that point


def test_csv_and_json_hold_every_measurement_once_with_store_values(built):
    _runs, sample, result, stored, *_ = built
    csv = pd.read_csv(result.files["csv"])
    doc = json.loads(result.files["json"].read_text(encoding="utf-8"))
    js = pd.DataFrame(doc["measurements"])
    assert doc["incomplete"] is False and doc["run"]["run_id"] == sample.run_id
    assert doc["verdicts"] == {str(p): v.value
                               for p, v in sample.expected_position_verdict.items()}
    for df in (csv, js):
        assert sorted(df["id"]) == sorted(stored)
        for r in df.to_dict("records"):
            m = stored[int(r["id"])]
            assert r["verdict"] == m.verdict.value
            assert r["test_id"] == m.test_id and int(r["position"]) == m.position
            if m.value is None:
                assert r["value"] is None or math.isnan(r["value"])
            else:
                assert r["value"] == pytest.approx(m.value, rel=1e-12, abs=1e-15)
            if m.limit_high is not None:
                assert r["limit_high"] == pytest.approx(m.limit_high)
    assert isinstance(js.loc[0, "point"], dict)
    assert json.loads(csv.loc[0, "point"]) == stored[int(csv.loc[0, "id"])].point
    assert set(csv["serial"].astype(str)) == {"47110001", "47110002", "47110003"}


def _small_run(tmp_path, **kw):
    return make_store(tmp_path, positions=1, **kw)


def test_killed_run_gives_a_report_marked_incomplete(tmp_path):
    runs, sample = _small_run(tmp_path, finish=False)
    with ResultsStore.in_runs_dir(runs) as store:
        store.mark_started(sample.run_id, "testplans/test_x.py::test_y[0.5]", [1], {"load": 0.5})
        done = sample.measurements[0]
        store.mark_started(sample.run_id, done.test_id, [done.position], done.point)
    result = build_report(sample.run_id, runs)
    assert result.incomplete
    assert any("no end time" in r for r in result.reasons)
    assert any("1 point(s) were started but have no result" in r for r in result.reasons)
    scan = ReportScan(result.files["html"].read_text(encoding="utf-8"))
    assert scan.body["data-incomplete"] == "true"
    assert "INCOMPLETE" in scan.by_id_text["incomplete"]
    assert "test_x.py::test_y[0.5]" in scan.by_id_text["interrupted"]
    assert done.test_id not in scan.by_id_text["interrupted"]
    assert len(scan.rows) == len(sample.measurements)
    assert "provisional" in scan.by_id_text["batch-conformity"].lower()
    doc = json.loads(result.files["json"].read_text())
    assert doc["incomplete"] is True and doc["run"]["ended_at"] is None


def test_corrupt_json_cell_is_reported_and_the_rest_shown(tmp_path):
    runs, sample = _small_run(tmp_path)
    with sqlite3.connect(runs / "results.sqlite") as db:
        bad_id = db.execute("SELECT MIN(id) FROM measurement").fetchone()[0]
        db.execute("UPDATE measurement SET raw = '{broken' WHERE id = ?", (bad_id,))
    result = build_report(sample.run_id, runs, formats=["html", "json"])
    assert result.incomplete
    assert any(f"measurement id {bad_id}" in r and "'raw'" in r for r in result.reasons)
    scan = ReportScan(result.files["html"].read_text(encoding="utf-8"))
    assert len(scan.rows) == len(sample.measurements)
    assert f"measurement id {bad_id}" in scan.by_id_text["incomplete"]


def test_newer_schema_store_is_shown_as_far_as_known(tmp_path):
    runs, sample = _small_run(tmp_path)
    with sqlite3.connect(runs / "results.sqlite") as db:
        db.execute("INSERT INTO schema_version VALUES (?, 'future', 0)", (SCHEMA_VERSION + 1,))
        db.execute("ALTER TABLE measurement ADD COLUMN future_thing TEXT")
    result = build_report(sample.run_id, runs, formats=["html"])
    assert result.incomplete
    assert any(f"schema version {SCHEMA_VERSION + 1}" in r and f"version {SCHEMA_VERSION}" in r
               and "results.sqlite" in r for r in result.reasons)
    scan = ReportScan(result.files["html"].read_text(encoding="utf-8"))
    assert len(scan.rows) == len(sample.measurements)


def test_store_missing_columns_still_reports_every_row(tmp_path):
    runs, sample = _small_run(tmp_path)
    with sqlite3.connect(runs / "results.sqlite") as db:
        db.execute("ALTER TABLE measurement DROP COLUMN family")
        db.execute("ALTER TABLE measurement DROP COLUMN unit")
        db.execute("DROP TABLE position")
    result = build_report(sample.run_id, runs)
    assert result.incomplete
    assert any("lacks column(s) family, unit" in r for r in result.reasons)
    assert any("'position' is missing" in r for r in result.reasons)
    scan = ReportScan(result.files["html"].read_text(encoding="utf-8"))
    assert len(scan.rows) == len(sample.measurements)
    assert "pos-1-unclassified" in scan.ids
    assert len(pd.read_csv(result.files["csv"])) == len(sample.measurements)


def test_run_without_measurements_or_positions(tmp_path):
    with ResultsStore.in_runs_dir(tmp_path) as store:
        run = store.create_run(plan_name="p", plan_version="1", operator="o",
                               software_version="0", bench_file="key: [unclosed\n")
        store.add_position(PositionRecord(run.run_id, 1, serial="S1"))
        store.finish_run(run.run_id)
    result = build_report(run.run_id, tmp_path)
    scan = ReportScan(result.files["html"].read_text(encoding="utf-8"))
    assert scan.rows == []
    assert "NO RESULTS" in scan.by_id_text["batch-conformity"]
    assert "no validated bench configuration" in scan.by_id_text["instruments"]
    assert pd.read_csv(result.files["csv"]).empty


def test_single_meter_run_with_only_some_families(tmp_path):
    with ResultsStore.in_runs_dir(tmp_path) as store:
        run = store.create_run(plan_name="p", plan_version="1", operator="o",
                               software_version="0")
        for i, load in enumerate((0.05, 0.1, 1.0)):
            store.record(Measurement(
                run_id=run.run_id, test_id=f"t::a[{i}]", family="single_element", position=7,
                quantity="active energy error", value=0.1 * i, unit="%", verdict="pass",
                point={"load": load, "pf": 0.5, "direction": "export", "element": "L2"},
                limit_low=-1.0, limit_high=1.0))
        store.finish_run(run.run_id)
    result = build_report(run.run_id, tmp_path, formats=["html"])
    scan = ReportScan(result.files["html"].read_text(encoding="utf-8"))
    assert [f.id for f in scan.figures] == [
        "plot-pos7-curve-active-energy-error-export-pf-0-5l"]
    assert "CONFORMS" in scan.by_id_text["batch-conformity"]


def test_cli_builds_and_reports_errors(tmp_path, capsys):
    runs, sample = _small_run(tmp_path)
    assert main(["build", "latest", "--runs-dir", str(runs), "--format", "csv,json"]) == 0
    out = capsys.readouterr().out
    assert "measurements.csv" in out and "report.html" not in out
    assert (runs / sample.run_id / "measurements.json").exists()
    assert main(["list", "--runs-dir", str(runs)]) == 0
    assert sample.run_id in capsys.readouterr().out
    assert main(["build", "no-such-run", "--runs-dir", str(runs)]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err
    assert main(["build", "x", "--runs-dir", str(tmp_path / "empty")]) == 2
    assert "no results store" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["build", "x", "--format", "pdf"])


def test_python_dash_m_reports_build(tmp_path):
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        sample = build_sample(store, positions=1, finish=False)
    proc = subprocess.run(
        [sys.executable, "-m", "reports", "build", sample.run_id, "--runs-dir", str(runs),
         "--format", "html"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "report.html" in proc.stdout
    assert "INCOMPLETE" in proc.stderr and "no end time" in proc.stderr
    assert (runs / sample.run_id / "report.html").stat().st_size > 10_000


def test_the_page_is_the_same_for_the_same_data(built):
    """The page is a pure function of the run's data: rendered again, byte for byte equal."""
    import datetime as dt

    from reports.analysis import analyse
    from reports.build import load_for_report
    from reports.page import PageInputs, render_page

    runs, sample, _, _, _, _ = built
    inputs = PageInputs(issued=dt.date(2026, 12, 5))

    def page() -> str:
        return render_page(analyse(load_for_report(sample.run_id, runs)), inputs)[0]

    assert page() == page()
