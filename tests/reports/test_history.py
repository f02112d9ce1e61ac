"""`python -m reports history SERIAL`: every run of a meter with its verdicts, curves overlaid."""

from __future__ import annotations

import re

from reports.__main__ import main
from reports.store import ResultsStore
from tests.reports.sample_run import build_sample


def test_every_run_of_the_meter_with_its_verdict_and_curves(tmp_path, capsys):
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        # Two runs a day apart; the meter 47110002 sits at position 2 in both, and the second
        # run has only two positions (so 47110003 is tested once).
        first = build_sample(store, positions=3, seed=7, t0=1_790_000_000.0)
        second = build_sample(store, positions=2, seed=8, t0=1_790_086_400.0)
    out = tmp_path / "h.html"
    assert main(["history", "47110002", "--runs-dir", str(runs), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    want = [first.expected_position_verdict[2], second.expected_position_verdict[2]]
    assert [ln.split(": ")[1].split()[0] for ln in lines[:2]] == [v.value for v in want]
    assert [ln.split()[2] for ln in lines[:2]] == [first.run_id, second.run_id]
    page = out.read_text(encoding="utf-8")
    rows = re.findall(r'<tr data-run-id="([^"]+)" data-verdict="([^"]+)">', page)
    assert rows == [(first.run_id, want[0].value), (second.run_id, want[1].value)]
    # Each curve figure overlays both runs: their keys are the legend's labels.
    figures = re.findall(r'<figure class="plot[^"]*" id="(history-curve-[^"]+)".*?</figure>',
                         page, re.S)
    assert figures
    for fig in re.findall(r'<figure class="plot.*?</figure>', page, re.S):
        assert "#1 " in fig and "#2 " in fig
    assert main(["history", "47110003", "--runs-dir", str(runs), "--out", str(out)]) == 0
    assert len(re.findall(r"<tr data-run-id=", out.read_text(encoding="utf-8"))) == 1


def test_an_unknown_meter_says_so(tmp_path, capsys):
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        build_sample(store, positions=1)
    assert main(["history", "nope", "--runs-dir", str(runs), "--out",
                 str(tmp_path / "h.html")]) == 1
    assert "no run tested a meter with serial nope" in capsys.readouterr().err
    assert 'id="no-runs"' in (tmp_path / "h.html").read_text(encoding="utf-8")
