"""The switch-delay method's boundaries (rig/procedures/tou.py), worked by hand."""

from __future__ import annotations

import datetime as dt

from rig.meterlink import meter_datetime
from rig.procedures.tou import boundaries_ahead


def _times(meter_now: dt.datetime, count: int = 9) -> list[tuple[str, int, int]]:
    return [(f"{meter_datetime(b.meter_s):%Y-%m-%d %H:%M}", b.before, b.after)
            for b in boundaries_ahead(meter_now, count)]


def test_boundaries_are_whole_minutes_ahead_alternating_from_tariff_1() -> None:
    # 10:00:30 + 2 min lead = 10:02:30 -> the next whole minute after it is 10:03.
    got = _times(dt.datetime(2026, 3, 2, 10, 0, 30), 3)
    assert got == [("2026-03-02 10:03", 1, 2), ("2026-03-02 10:04", 2, 1),
                   ("2026-03-02 10:05", 1, 2)]


def test_boundaries_that_would_cross_midnight_start_after_it() -> None:
    # 23:52 + 2 min = 23:54 -> 23:55 .. 00:03 would cross midnight: all 9 move to 00:01..00:09
    # of the next day (00:00 is the first section's start, never a boundary).
    got = _times(dt.datetime(2026, 12, 31, 23, 52, 0))
    assert got[0] == ("2027-01-01 00:01", 1, 2)
    assert got[-1] == ("2027-01-01 00:09", 1, 2)
    assert len({t[:10] for t, _, _ in got}) == 1


def test_a_boundary_never_falls_on_midnight() -> None:
    # 23:57:10 + 2 min = 23:59:10 -> 00:00 would be the first: moved to 00:01.
    got = _times(dt.datetime(2026, 6, 30, 23, 57, 10), 1)
    assert got == [("2026-07-01 00:01", 1, 2)]
