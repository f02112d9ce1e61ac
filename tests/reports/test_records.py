"""The report's rows take the facts of their test point (reports.points) from the first row of
the same point: each point is described once, and every row says what its own point says."""

from __future__ import annotations

import reports.records
from reports.points import describe_point, pf_label
from reports.records import POINT_FACTS, Measurement
from reports.rows import measurement_rows
from reports.store import ResultsStore


def test_rows_of_one_point_share_its_facts_worked_out_once(tmp_path, monkeypatch):
    points = [{"load": 0.05, "pf": "0.5L", "direction": "export", "element": "L2"},
              {"load": 1, "pf": -0.8, "influence": {"quantity": "voltage", "value": 1.1}},
              {"window_start": 1_790_000_000}]
    with ResultsStore(tmp_path / "results.sqlite") as store:
        run = store.create_run(plan_name="p", plan_version="1", operator="o",
                               software_version="0")
        for position in (1, 2, 3, 4):
            for point in points:
                store.record(Measurement(
                    run_id=run.run_id, test_id="t", family="accuracy", position=position,
                    quantity="q", value=0.1, unit="%", verdict="pass", point=point))
        frame = store.load_run(run.run_id).measurements
    described = []

    def counted(point):
        described.append(point)
        return describe_point(point)

    monkeypatch.setattr(reports.records, "describe_point", counted)
    rows = measurement_rows(frame)
    assert len(rows) == 12 and len(described) == 3  # once a point, not once a row
    for r in rows:
        fresh = Measurement(run_id="r", test_id="t", family="f", position=1, quantity="q",
                            value=None, unit="", verdict="error", point=dict(r.point))
        assert r.point_facts() == fresh.point_facts()
        assert set(POINT_FACTS) <= set(vars(r))  # in its cache, not worked out on use
    by_point = {r.point_text: r for r in rows}
    assert by_point["0.05 In, PF 0.5L, export, L2"].element == "L2"
    influenced = by_point["1 In, PF 0.8C, voltage 1.1"]
    assert influenced.influenced and influenced.pf == pf_label(-0.8) == "0.8C"
    assert influenced.load == 1.0 and influenced.direction == ""
