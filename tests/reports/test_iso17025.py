"""The report of a real plan run carries every item of ISO/IEC 17025:2017 7.8.2.1 and 7.8.3.1,
says which plan items ran, and a partial run (-k) says PARTIAL and states no conformity.

The item letters are the standard's: 7.8.2.1 a) title ... p) external providers; 7.8.3.1 a)
test conditions ... e) additional information the method requires.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys

import pytest

from tests.reports import realrun

POSITIONS = 2
CLAUSES = ([f"7.8.2.1 {c})" for c in "abcdefghijklmnop"]
           + [f"7.8.3.1 {c})" for c in "abcde"])

META = """\
report_number: "ML-{year}-{seq:04d}"
sequence: 17
issue_date: 2026-12-05
customer: {name: "Grid & Co <Utilities>", address: "1 Grid Road, Sometown", contact: "J. Smith"}
item: {description: "Blue Star A1000, class 0.5S", received: 2026-11-30,
       condition: "new, seals intact", identification: "lot 42"}
authoriser: {name: "Dr A. Signer", function: "Head of laboratory"}
laboratory: {name: "Example Meter Lab", address: "2 Volt Street, Ampton",
             accreditation: "D-PL-12345-01-00"}
deviations: ["reference temperature 23 C +- 2 C instead of +- 1 C"]
"""


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def iso_rows(page: str) -> dict[str, tuple[str, bool]]:
    """clause -> (the row's text, whether marked missing) of table#iso17025."""
    table = re.search(r'<table id="iso17025".*?</table>', page, re.S)
    assert table, "no table#iso17025"
    rows = re.findall(r'<tr data-clause="([^"]+)"([^>]*)>(.*?)</tr>', table.group(0), re.S)
    return {clause: (_text(body), "missing" in attrs) for clause, attrs, body in rows}


def plan_rows(page: str) -> dict[str, str]:
    """plan item -> its state in table#plan-items."""
    return dict(re.findall(r'<tr data-item="([^"]+)" data-state="([^"]+)"', page))


def _run(tmp_path_factory, name: str, extra: tuple[str, ...]) -> tuple[realrun.RealRun, str]:
    base = tmp_path_factory.mktemp(name)
    plan = realrun.write_plan(base / "plans", realrun.SMALL_PLAN_ITEMS)
    meta = base / "report.yaml"
    meta.write_text(META, encoding="utf-8")
    run = realrun.finish(realrun.start(base / "plans", plan, base / "runs", POSITIONS,
                                       extra=("--report-meta", str(meta), *extra)),
                         base / "runs")
    page = run.runs_dir / run.run_id / "report.html"
    assert page.exists(), run.stdout + run.stderr
    return run, page.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return _run(tmp_path_factory, "iso-full", ())


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    return _run(tmp_path_factory, "iso-partial", ("-k", "no_creep"))


def test_every_17025_item_is_answered(full):
    _, page = full
    rows = iso_rows(page)
    assert list(rows) == CLAUSES
    assert [c for c, (_, missing) in rows.items() if missing] == []
    assert all(text.split(maxsplit=2)[2:] for text, _ in rows.values())  # an answer each
    # The answers come from the metadata file, the run and the plan.
    # a) / d): number from the scheme: year 2026 of the issue date, sequence 17 as 4 digits.
    assert "Test report: report-real-run" in rows["7.8.2.1 a)"][0]
    assert "Report ML-2026-0017" in rows["7.8.2.1 d)"][0]
    assert "Example Meter Lab, 2 Volt Street, Ampton" in rows["7.8.2.1 b)"][0]
    assert "Grid & Co <Utilities>, 1 Grid Road, Sometown, J. Smith" in rows["7.8.2.1 e)"][0]
    assert "test plan report-real-run 0.1" in rows["7.8.2.1 f)"][0]
    assert "IEC 60687:1992" in rows["7.8.2.1 f)"][0]
    assert "Blue Star A1000, class 0.5S; identification: lot 42" in rows["7.8.2.1 g)"][0]
    assert "new, seals intact" in rows["7.8.2.1 g)"][0]
    assert "2 meter(s)" in rows["7.8.2.1 g)"][0]
    assert "2026-11-30" in rows["7.8.2.1 h)"][0]
    assert " to " in rows["7.8.2.1 i)"][0] and "not ended" not in rows["7.8.2.1 i)"][0]
    assert "2026-12-05" in rows["7.8.2.1 j)"][0]
    assert "results relate only to the items tested" in rows["7.8.2.1 l)"][0]
    assert "reference temperature 23 C" in rows["7.8.2.1 n)"][0]
    assert "Dr A. Signer, Head of laboratory" in rows["7.8.2.1 o)"][0]
    assert "per meter and for the batch" in rows["7.8.3.1 b)"][0]
    # The customer's name is text, not markup (autoescape).
    assert "Grid &amp; Co &lt;Utilities&gt;" in page and "<Utilities>" not in page


def test_the_page_carries_what_the_items_point_to(full):
    run, page = full
    assert 'id="report-title">Test report: report-real-run</h1>' in page
    assert 'data-report-number="ML-2026-0017"' in page
    assert re.search(r'id="letterhead".*Example Meter Lab.*D-PL-12345-01-00', page, re.S)
    assert "results relate only to the items tested" in _text(
        re.search(r'<p id="results-relate">.*?</p>', page, re.S).group(0))
    assert '<td id="authoriser">Dr A. Signer, Head of laboratory</td>' in page
    assert 'id="not-fit-to-sign"' not in page
    assert page.rstrip().endswith("</html>")
    assert "End of report ML-2026-0017" in _text(page)
    for anchor in ("environment", "instruments", "summary", "signature"):
        assert f'id="{anchor}"' in page, anchor
    # The metadata file is kept with the run: a rebuild gives the same identification.
    kept = run.runs_dir / run.run_id / "report-meta.yaml"
    assert kept.read_text(encoding="utf-8") == META
    proc = subprocess.run([sys.executable, "-m", "reports", "build", run.run_id, "--runs-dir",
                           str(run.runs_dir), "--no-pdf"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    again = (run.runs_dir / run.run_id / "report.html").read_text(encoding="utf-8")
    assert iso_rows(again) == iso_rows(page)


def test_a_full_run_covers_every_plan_item(full):
    _, page = full
    states = plan_rows(page)
    assert set(states) == {i["id"] for i in realrun.SMALL_PLAN_ITEMS}
    assert "not run" not in states.values()
    assert 'data-partial="false"' in page and "PARTIAL" not in page
    # healthy meters: every item passes, and the batch conforms
    assert set(states.values()) == {"passed"}, states
    assert 'data-conformity="CONFORMS"' in page


def test_a_partial_run_says_partial_and_states_no_conformity(partial):
    _, page = partial
    assert 'id="report-title">Test report (PARTIAL): report-real-run</h1>' in page
    assert '<body data-run-id="' in page and 'data-partial="true"' in page
    assert 'id="partial-statement"' in page
    states = plan_rows(page)
    assert states == {"acc.bal.pf1": "not run", "acc.bal.pf05l": "not run",
                      "start.active": "not run", "no-load": "passed"}
    why = _text(re.search(r'<tr data-item="acc.bal.pf1".*?</tr>', page, re.S).group(0))
    assert "deselected by the test selection" in why
    # no meter and not the batch is said to conform: the run did not do the plan
    assert 'data-conformity="CONFORMS"' not in page
    assert "is not stated: the run was partial (1 of 4 plan items run in full)" in _text(page)
    rows = iso_rows(page)
    assert "not stated for the plan" in rows["7.8.3.1 b)"][0]
    assert "items not (fully) run: acc.bal.pf1, acc.bal.pf05l, start.active" in (
        rows["7.8.2.1 n)"][0])


def test_a_bad_metadata_file_stops_the_run_before_it_starts(tmp_path):
    plan = realrun.write_plan(tmp_path / "plans", realrun.SMALL_PLAN_ITEMS)
    meta = tmp_path / "report.yaml"
    meta.write_text(META.replace('name: "Dr A. Signer", ', ""), encoding="utf-8")
    run = realrun.start(tmp_path / "plans", plan, tmp_path / "runs", 1,
                        extra=("--report-meta", str(meta)))
    out, err = run.communicate(timeout=120)
    assert run.returncode == 4, out + err  # pytest's usage error
    assert f"{meta}: authoriser.name: Field required" in out + err
    assert not (tmp_path / "runs" / "results.sqlite").exists()
