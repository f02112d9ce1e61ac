"""Calibration status: overdue instruments refuse the run unless allowed, and are stated."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rig.bench.config import load_bench_file
from rig.calibration import CalibrationOverdue, check_calibration, overdue

ROOT = Path(__file__).resolve().parents[2]
FLUKE = ROOT / "benches" / "fluke6105a-com5003.yaml"


def test_in_date_bench_has_nothing_to_state() -> None:
    # The example's source is due 2027-01-15, its reference 2027-03-02.
    config = load_bench_file(FLUKE)
    assert overdue(config, dt.date(2027, 1, 15)) == []  # due that day: still in date
    assert check_calibration(config, dt.date(2026, 6, 1), allow_overdue=False) == []


def test_overdue_is_refused_naming_each_item_and_allowed_with_the_flag() -> None:
    config = load_bench_file(FLUKE)
    day = dt.date(2027, 2, 1)  # after the source's due date, before the reference's
    with pytest.raises(CalibrationOverdue) as refused:
        check_calibration(config, day, allow_overdue=False)
    text = str(refused.value)
    assert "instruments.source (Fluke 6105A serial 1234567): calibration due 2027-01-15" in text
    assert "instruments.reference" not in text and "--allow-overdue" in text
    notes = check_calibration(config, day, allow_overdue=True)
    assert notes == ["instruments.source (Fluke 6105A serial 1234567): calibration due "
                     "2027-01-15 (overdue, run allowed by --allow-overdue)"]


def test_traceability_items_are_checked_too(tmp_path: Path) -> None:
    text = FLUKE.read_text().replace(
        '    calibration_date: 2026-02-01\n',
        '    calibration_date: 2020-02-01\n    calibration_due: 2021-02-01\n',
    )
    path = tmp_path / "bench.yaml"
    path.write_text(text)
    late = overdue(load_bench_file(path), dt.date(2026, 6, 1))
    assert [(o.key, o.due) for o in late] == [("traceability.0", dt.date(2021, 2, 1))]
