"""The page is a Jinja2 template a lab overrides from its own folder (report_templates in the
bench file), and family sections come from a registry."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from reports.build import build_report
from reports.page import TemplateFolderError
from reports.sections import SECTIONS
from reports.store import ResultsStore
from tests.reports.sample_run import BENCH_YAML, build_sample

# The smallest PNG there is: 1 x 1 pixel (any bytes would do; the test compares them).
LOGO = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8Bw"
                        "HwAFAAH/iZk9HQAAAABJRU5ErkJggg==")


def _store(tmp_path, templates: str) -> tuple:
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        # The report reads the validated bench configuration stored with the run; the bench
        # file's text (stored too) says the same.
        sample = build_sample(store, positions=2, report_templates=templates.strip("'") or None,
                              bench_file=BENCH_YAML + f"report_templates: {templates}\n")
    return runs, sample


def test_the_package_letterhead_names_the_bench_lab(tmp_path):
    runs, sample = _store(tmp_path, "''")  # empty: no lab folder
    page = build_report(sample.run_id, runs, pdf=False).files["html"].read_text("utf-8")
    head = re.search(r'<div id="letterhead".*?</div>\s*</div>|<div id="letterhead".*?\n</div>',
                     page, re.S).group(0)
    assert "Example Meter Lab" in head


def test_a_lab_folder_changes_the_letterhead_and_a_block(tmp_path):
    lab = tmp_path / "lab-templates"
    lab.mkdir()
    (lab / "logo.png").write_bytes(LOGO)
    # Its own letterhead, with a logo from its folder, and the package's page with one block
    # (the statements) worded its own way; "{{ lab.name }}" is escaped like any value.
    (lab / "letterhead.html").write_text(
        '<div id="letterhead" class="acme"><img id="logo" src="{{ lab_file_uri(\'logo.png\') }}"'
        ' alt="logo">ACME Metrology &amp; Test, {{ lab.name }}</div>\n', encoding="utf-8")
    (lab / "report.html").write_text(
        '{% extends "package/report.html" %}\n'
        '{% block statements %}<p id="results-relate">Nur die gepr\u00fcften Z\u00e4hler.</p>'
        "{% endblock %}\n", encoding="utf-8")
    runs, sample = _store(tmp_path, str(lab))
    page = build_report(sample.run_id, runs, pdf=False).files["html"].read_text("utf-8")
    assert '<div id="letterhead" class="acme">' in page
    assert "ACME Metrology &amp; Test, Example Meter Lab</div>" in page  # the run's lab
    uri = re.search(r'<img id="logo" src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(uri) == LOGO  # inlined: no file or network fetch
    assert '<p id="results-relate">Nur die gepr\u00fcften Z\u00e4hler.</p>' in page
    # the rest of the package's page is there as before
    assert 'id="iso17025"' in page and 'id="signature"' in page and 'id="pos-2"' in page


def test_a_relative_folder_is_found_beside_the_bench_file(tmp_path):
    # sample_run stores bench_path "benches/lab-a.yaml": relative to the working directory
    runs, sample = _store(tmp_path, "no-such-folder")
    with pytest.raises(TemplateFolderError, match=r"benches/lab-a.yaml: report_templates: "
                                                  r"benches/no-such-folder is not a folder"):
        build_report(sample.run_id, runs, pdf=False)


def test_every_curve_family_and_the_plotted_families_have_a_section_builder():
    assert {"accuracy", "single_element", "reactive", "demand", "clock"} <= set(SECTIONS)


def test_the_bench_file_field_is_accepted_by_the_bench_schema(tmp_path):
    from reports.benchinfo import from_config
    from rig.bench.config import load_bench_file

    sim = (Path(__file__).resolve().parents[2] / "benches" / "sim.yaml").read_text("utf-8")
    bench = tmp_path / "bench.yaml"
    bench.write_text(sim + "report_templates: lab-templates\n", encoding="utf-8")
    assert load_bench_file(bench).report_templates == "lab-templates"
    config = load_bench_file(bench).model_dump(mode="json", by_alias=True)
    assert from_config(config).report_templates == "lab-templates"
