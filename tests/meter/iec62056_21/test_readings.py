"""Typed readings and the timing record."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meter.iec62056_21 import DataSet, ObisCode, Reading, Timing, Value
from meter.iec62056_21.readings import to_decimal


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("001234.5", Decimal("1234.5")),
        ("-0.20", Decimal("-0.20")),
        ("0", Decimal(0)),
        ("", None),
        ("2511250945", Decimal(2511250945)),
        ("12:00", None),
        ("1.2.3", None),
        ("ERR", None),
    ],
)
def test_to_decimal(text, value):
    assert to_decimal(text) == value


def test_reading_keeps_raw_strings_and_all_values():
    r = Reading.of(DataSet.of("1-1:1.6.1*101", Value("0027.19", "kW"), "2511250945"))
    assert r.obis == ObisCode(1, 1, 1, 6, 1, 101)
    assert r.value == Decimal("27.19") and r.unit == "kW" and r.raw == "0027.19"
    assert [v.value for v in r.values] == ["0027.19", "2511250945"]


def test_reading_of_a_non_obis_address():
    r = Reading.of(DataSet.of("SERIAL", "ABC"))
    assert r.obis is None and r.value is None and r.raw == "ABC"


def test_timing_defaults_follow_the_standard():
    t = Timing()
    assert (t.reaction_min, t.reaction_min_fast, t.reaction_max) == (0.2, 0.02, 1.5)
    assert t.inter_character == 1.5 and 60 <= t.inactivity <= 120
    assert t.answer_timeout == t.reaction_max + t.answer_slack


def test_timing_rejects_nonsense():
    with pytest.raises(ValueError, match=r"reaction_min 2 s exceeds reaction_max 1\.5 s"):
        Timing(reaction_min=2)
    with pytest.raises(ValueError, match="inactivity must be a number >= 0"):
        Timing(inactivity=-1)


def test_readings_of_equal_data_sets_agree_and_a_changed_one_reads_anew():
    """Readings come from a cache keyed by the data set: equal ones give the same reading, a
    changed value its own, and a subclass of Reading still gets its own class."""
    first = Reading.of(DataSet.of("1.8.0", Value("0012.5", "kWh")))
    again = Reading.of(DataSet.of("1.8.0", Value("0012.5", "kWh")))
    moved = Reading.of(DataSet.of("1.8.0", Value("0012.6", "kWh")))
    assert first == again and first.value == Decimal("12.5") and first.raw == "0012.5"
    assert moved.value == Decimal("12.6") and moved.unit == "kWh"

    class Mine(Reading):
        pass

    assert type(Mine.of(DataSet.of("1.8.0", Value("0012.5", "kWh")))) is Mine
