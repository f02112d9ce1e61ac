"""The report's bench-time section (reports/benchtime.py, templates/benchtime.html): per family
the estimate, the actual bench time and their ratio, from the run's bench-time events."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from reports.benchtime import BENCH_TIME, bench_time
from reports.build import build_report
from reports.records import Event
from reports.store import ResultsStore

HOSTILE = '<script>alert("x&y\'s")</script>'


class _Table(HTMLParser):
    """The text of each body cell of the table with id `table_id`, row by row, as a browser
    reads it (character references resolved)."""

    def __init__(self, page: str, table_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.table_id, self.inside, self.rows = table_id, False, []
        self.cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def _event(family: str, estimate: float, actual: float) -> Event:
    return Event("r", "t", 0.0, kind=BENCH_TIME,
                 data={"nodeid": f"t[{family}]", "family": family, "estimate_s": estimate,
                       "timeline_s": actual, "minimum_s": estimate, "simulated_only": False})


def test_each_family_sums_its_tests_and_the_total_sums_the_families() -> None:
    events = [_event("clock", 3600.0, 3240.0), _event("clock", 7200.0, 7560.0),
              _event("accuracy", 1800.0, 1900.0),
              Event("r", "not bench time", 0.0, kind="log", data={"family": "x"})]
    bt = bench_time(events)
    clock, accuracy = bt.families  # longest actual first
    # clock: 3600 + 7200 = 10800 s planned, 3240 + 7560 = 10800 s taken: ratio 1.
    assert (clock.family, clock.tests, clock.estimate_s, clock.actual_s) == ("clock", 2,
                                                                             10800.0, 10800.0)
    assert clock.ratio == 1.0
    # accuracy: 1900 / 1800 = 1.0556.
    assert round(accuracy.ratio, 4) == 1.0556
    assert (bt.total.tests, bt.total.estimate_s, bt.total.actual_s) == (3, 12600.0, 12700.0)
    assert bench_time([]).known is False


def test_the_report_shows_the_section_with_every_value_escaped(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with ResultsStore.in_runs_dir(runs) as store:
        run = store.create_run(plan_name="p", plan_version="1", operator="o",
                               software_version="0", started_at=1_790_000_000.0)
        for family, est, act in (("clock", 86400.0, 90000.0), (HOSTILE, 3600.0, 1800.0)):
            e = _event(family, est, act)
            store.log(run.run_id, e.message, kind=BENCH_TIME, t=1_790_000_001.0, data=e.data)
        store.finish_run(run.run_id, ended_at=1_790_000_100.0)
    page = build_report(run.run_id, runs, pdf=False).files["html"].read_text("utf-8")
    assert "<script" not in page.lower()
    rows = [r for r in _Table(page, "bench-time-families").rows if r]
    # 90000 s = 25.00 h against 24.00 h: 1.042; 1800 s against 3600 s: 0.500; total
    # 90000 + 1800 = 91800 s (25.50 h) against 86400 + 3600 = 90000 s (25.00 h): 1.020.
    assert rows == [["clock", "1", "24.00", "25.00", "1.042"],
                    [HOSTILE, "1", "1.00", "0.50", "0.500"],
                    ["total", "2", "25.00", "25.50", "1.020"]]
    # Bookkeeping, not run-log lines.
    assert "t[clock]" not in page
