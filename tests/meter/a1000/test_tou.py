"""TOU calendar (manual 1.4): holidays over weekends over seasons, wraps, validation, switching."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meter.a1000.clock import meter_seconds_of
from meter.a1000.meter import A1000
from meter.a1000.tou import TouError, TouTables
from meter.electrical import ElectricalInputs
from tests.meter.a1000.helpers import ideal_config

TABLE = {
    "daily_profiles": {
        1: [{"start": "06:00", "tariff": 1}, {"start": "22:00", "tariff": 2}],
        2: [{"start": "00:00", "tariff": 3}, {"start": "12:00", "tariff": 4}],
    },
    "seasons": [{"start": "03-01", "profile": 1}, {"start": "11-01", "tariff": 3}],
    "weekend": {"days": ["sat", "sun"], "profile": 2},
    "holidays": [
        {"date": "2027-12-31", "tariff": 4},
        {"date": "2028-02-29", "tariff": 1},
    ],
}

# Worked by hand from TABLE (weekdays from a printed calendar).
HAND_CALENDAR = [
    ("2027-12-30 10:00", 3),  # Thu, season from 11-01: fixed T3
    ("2027-12-31 03:00", 4),  # Fri, public holiday T4 (beats the season)
    ("2027-12-31 23:59", 4),
    ("2028-01-01 10:00", 3),  # Sat, weekend profile 2 (beats the season)
    ("2028-01-01 13:00", 4),
    ("2028-01-03 10:00", 3),  # Mon before 03-01: season wraps over the year end to 11-01
    ("2028-02-26 11:59", 3),  # Sat
    ("2028-02-29 12:30", 1),  # Tue, leap day holiday T1
    ("2028-03-01 05:59", 2),  # Wed, profile 1: before 06:00 the last section wraps (item 8)
    ("2028-03-01 06:00", 1),
    ("2028-03-01 21:59", 1),
    ("2028-03-01 22:00", 2),
    ("2027-03-01 07:00", 1),  # Mon
    ("2026-03-07 11:59", 3),  # Sat
]


def _ms(text: str) -> float:
    return meter_seconds_of(dt.datetime.fromisoformat(text))


@pytest.mark.parametrize(("when", "tariff"), HAND_CALENDAR)
def test_hand_worked_calendar(when: str, tariff: int) -> None:
    assert TouTables.from_obj(TABLE).tariff_at(_ms(when)) == tariff


@pytest.mark.parametrize(("start", "days"), [("2027-12-29", 7), ("2028-02-26", 5)])
def test_next_change_equals_a_minute_by_minute_scan(start: str, days: int) -> None:
    tou = TouTables.from_obj(TABLE)
    t = _ms(start + " 00:00")
    end = t + days * 86400
    changes = []
    prev = tou.tariff_at(t)
    for minute in range(1, days * 1440):
        cur = tou.tariff_at(t + 60 * minute)
        if cur != prev:
            changes.append((int(t + 60 * minute), cur))
        prev = cur
    computed = []
    s = t
    while True:
        nxt = tou.next_change(s)
        if nxt is None or nxt[0] >= end:
            break
        computed.append(nxt)
        s = nxt[0]
    assert computed == changes
    assert len(changes) >= 4


def test_meter_switches_at_its_clock_plus_delay() -> None:
    cfg = ideal_config(tou=TABLE)
    t0 = dt.datetime(2028, 3, 1, 5, 0, tzinfo=dt.UTC).timestamp()
    m = A1000(cfg, start_time=t0)
    m.set_inputs(t0, ElectricalInputs.balanced(57.7, 0.5, 0))
    assert m.tariff == 2
    boundary_true = m.clock.true_time(_ms("2028-03-01 06:00")) + cfg.clock.tariff_switch_delay_s
    m.advance_to(boundary_true - 1e-3)
    assert m.tariff == 2
    m.advance_to(boundary_true)
    assert m.tariff == 1
    # Energy after the switch goes to tariff 1 only.
    m.advance_to(boundary_true + 3600)
    assert m.register("import", 1) == pytest.approx(3 * 57.7 * 0.5 / 1000, rel=1e-6)


def test_fixed_tariff_all_year_has_no_switch() -> None:
    tou = TouTables.from_obj({"seasons": [{"start": "01-01", "tariff": 2}]})
    assert tou.next_change(_ms("2026-01-01 00:00")) is None


def test_one_tariff_through_profiles_weekend_and_holidays_has_no_switch() -> None:
    # Every selection leads to tariff 3 (a profile of two sections, a fixed tariff, the weekend,
    # a holiday): no switch ever, as the 800-day scan would find.
    tou = TouTables.from_obj({
        "daily_profiles": {1: [{"start": "00:00", "tariff": 3}, {"start": "12:00", "tariff": 3}]},
        "seasons": [{"start": "01-01", "profile": 1}, {"start": "06-01", "tariff": 3}],
        "weekend": {"days": [6, 7], "profile": 1},
        "holidays": [{"date": "2026-12-25", "tariff": 3}],
    })
    assert tou.tariffs() == {3}
    assert tou.next_change(_ms("2026-01-01 00:00")) is None
    # One holiday with tariff 1 on 2026-12-25 (a Friday): the scan finds its midnight.
    obj = tou.to_obj()
    obj["holidays"] = [{"date": "2026-12-25", "tariff": 1}]
    with_holiday = TouTables.from_obj(obj)
    assert with_holiday.tariffs() == {1, 3}
    assert with_holiday.next_change(_ms("2026-12-20 10:00")) == (_ms("2026-12-25 00:00"), 1)
    # A weekend without days selects nothing: its tariff is not one a day can have.
    obj = tou.to_obj()
    obj["weekend"] = {"days": [], "tariff": 4}
    assert TouTables.from_obj(obj).tariffs() == {3}


def _sec(start: str, tariff: int) -> dict:
    return {"start": start, "tariff": tariff}


def _with(**parts: object) -> dict:
    obj = {k: v for k, v in TABLE.items()}
    obj.update(parts)
    return obj


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            _with(daily_profiles={1: [{"start": f"{h:02d}:00", "tariff": 1} for h in range(11)]}),
            "11 sections, at most 10",
        ),
        (_with(daily_profiles={1: [_sec("08:00", 1), _sec("07:00", 2)]}), "is not after"),
        (_with(daily_profiles={1: [_sec("08:00", 1), _sec("08:00", 2)]}), "is not after"),
        (_with(daily_profiles={1: [{"start": "08:00", "tariff": 5}]}), "tariff 5 out of range"),
        (
            _with(holidays=[{"date": f"2027-01-{d:02d}", "tariff": 1} for d in range(1, 26)]),
            "25 days in 2027",
        ),
        (
            _with(holidays=[{"date": f"{2020 + y}-01-01", "tariff": 1} for y in range(11)]),
            "11 years",
        ),
        (_with(weekend={"days": [5, 6, 7], "profile": 2}), "3 days"),
        (_with(seasons=[{"start": f"{mo:02d}-01", "tariff": 1} for mo in range(1, 12)]),
         "11 seasons"),
        (_with(seasons=[{"start": "05-01", "tariff": 1}, {"start": "03-01", "tariff": 2}]),
         "not after"),
        (_with(seasons=[{"start": "01-01", "profile": 3}]),
         "profile 3 is selected but not defined"),
    ],
)
def test_invalid_tables_are_rejected_with_a_clear_error(table: dict, message: str) -> None:
    with pytest.raises(TouError, match=message):
        TouTables.from_obj(table)


def test_encoded_tables_round_trip() -> None:
    tou = TouTables.from_obj(TABLE)
    again = (
        tou.with_profile(1, tou.encode_profile(1))
        .with_seasons(tou.encode_seasons())
        .with_weekend(tou.encode_weekend())
        .with_holidays(tou.encode_holidays())
    )
    assert again == tou
    assert tou.encode_profile(1) == ("06:00=1", "22:00=2")
    assert tou.encode_weekend() == ("67", "P2")


_minutes = st.integers(min_value=0, max_value=1439)


@st.composite
def _tables(draw: st.DrawFn) -> TouTables:
    profiles = {}
    for n in range(1, draw(st.integers(1, 4)) + 1):
        starts = sorted(draw(st.sets(_minutes, min_size=1, max_size=10)))
        profiles[n] = [
            {"start": f"{m // 60:02d}:{m % 60:02d}", "tariff": draw(st.integers(1, 4))}
            for m in starts
        ]
    days = sorted(draw(st.sets(st.integers(1, 365), min_size=1, max_size=10)))

    def selection() -> dict:
        if draw(st.booleans()):
            return {"profile": draw(st.integers(1, len(profiles)))}
        return {"tariff": draw(st.integers(1, 4))}

    seasons = []
    for d in days:
        day = dt.date(2001, 1, 1) + dt.timedelta(days=d - 1)
        seasons.append({"start": f"{day.month:02d}-{day.day:02d}", **selection()})
    weekend = {"days": sorted(draw(st.sets(st.integers(1, 7), max_size=2))), **selection()}
    holidays = [
        {"date": (dt.date(2027, 12, 25) + dt.timedelta(days=k)).isoformat(), **selection()}
        for k in sorted(draw(st.sets(st.integers(0, 14), max_size=5)))
    ]
    if not weekend["days"]:
        weekend = {}
    return TouTables.from_obj(
        {"daily_profiles": profiles, "seasons": seasons, "weekend": weekend,
         "holidays": holidays}
    )


@settings(max_examples=25, deadline=None)
@given(tou=_tables(), offset_min=st.integers(0, 14 * 1440))
def test_next_change_matches_a_scan_for_random_tables(tou: TouTables, offset_min: int) -> None:
    start = _ms("2027-12-20 00:00") + 60 * offset_min + 17  # mid-minute start
    s = start
    prev = tou.tariff_at(s)
    nxt = tou.next_change(s)
    for minute in range(1, 2 * 1440):
        t = (int(start) // 60 + minute) * 60
        cur = tou.tariff_at(t)
        if cur != prev:
            assert nxt == (t, cur)
            return
    assert nxt is None or nxt[0] >= (int(start) // 60 + 2 * 1440) * 60


def test_the_same_calendar_written_again_keeps_the_tariff_plan() -> None:
    # A rig writes the calendar back after each dose: an equal TouTables is recorded as a
    # change (last_tou_change) but keeps the tariff in force, the switch planned from it (by
    # TABLE's profile 1 on Wed 2028-03-01: tariff 1 from 06:00, tariff 2 at 22:00) and the
    # tables object with what it has worked out.
    t0 = _ms("2028-03-01 10:00")
    m = A1000(ideal_config(), start_time=t0)
    first = TouTables.from_obj(TABLE)
    m.set_tou(t0, first)
    planned = (m.tariff, m._switch_meter_s, m._switch_tariff)
    assert planned == (1, _ms("2028-03-01 22:00"), 2)
    m.set_tou(t0 + 60, TouTables.from_obj(TABLE))
    assert m.tou is first
    assert (m.tariff, m._switch_meter_s, m._switch_tariff) == planned
    assert m.last_tou_change_meter_s == m.meter_seconds(t0 + 60)
    m.advance_to(_ms("2028-03-01 22:01"))
    assert m.tariff == 2
