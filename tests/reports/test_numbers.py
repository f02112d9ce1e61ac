import math
import random

import pytest

from reports.numbers import (
    fmt_duration,
    fmt_limits,
    fmt_number,
    fmt_time,
    fmt_uncertainty,
    fmt_value,
    iso_time,
    iso_times,
)


@pytest.mark.parametrize(
    ("value", "u", "signed", "text"),
    [
        (0.1234, 0.08, True, "+0.123"),     # U 0.080 -> three decimals (two significant)
        (0.1234, 0.13, True, "+0.12"),
        (1.37, 0.0627, True, "+1.370"),
        (-0.0004, 0.08, True, "+0.000"),    # no '-0.000'
        (-0.25, 0.05, True, "-0.250"),
        (12.3456, 1.2, False, "12.3"),
        (0.12345, None, False, "0.1235"),   # four significant digits without U
        (2.0, None, False, "2"),            # counts
        (None, 0.1, False, ""),
    ],
)
def test_value_follows_the_uncertainty(value, u, signed, text):
    assert fmt_value(value, u, signed=signed) == text


def test_uncertainty_has_two_significant_digits():
    assert fmt_uncertainty(0.0627) == "0.063"
    assert fmt_uncertainty(0.08) == "0.080"
    assert fmt_uncertainty(1.25) == "1.2"
    assert fmt_uncertainty(None) == ""


def test_numbers_and_limits():
    assert fmt_number(1234.5678) == "1235"
    assert fmt_number(1.5e-6) == "1.500e-06"
    assert fmt_limits(-0.5, 0.5, "%") == "\u00b10.5 %"
    assert fmt_limits(-0.2, 0.6, "%") == "-0.2 .. 0.6 %"
    assert fmt_limits(None, 1, "imp") == "\u2264 1 imp"
    assert fmt_limits(1, None, "") == "\u2265 1"
    assert fmt_limits(None, None) == ""


def test_times():
    assert fmt_time(0.0) == "1970-01-01 00:00:00 UTC"
    assert fmt_time(None) == ""
    assert fmt_duration(3725) == "1 h 02 min"
    assert fmt_duration(65) == "1 min 05 s"


def test_many_times_are_the_texts_of_one_at_a_time():
    """iso_times (the export's time columns) gives datetime's texts (iso_time): random times
    over three centuries and, around whole seconds, the fractions where the rounding to
    microseconds carries into the next second or stops short of it."""
    rng = random.Random(5)
    times = [rng.uniform(-2e9, 7e9) for _ in range(20_000)]
    times += [math.floor(t) + f for t in times[:500]
              for f in (0.0, 0.9999995, 0.0000005, 0.9999994999, 0.4999995, 0.9995, 0.0005,
                        0.9999999999, 1e-7, -1e-7, -0.9999995)]
    times += [1_790_000_000 + k * 5e-7 for k in range(-4000, 4000)]
    times += [0, 0.0, -0.0, -0.5, 59.9999996, None, math.nan, math.inf, True, "x"]
    assert iso_times(times) == [iso_time(t) for t in times]
    assert iso_times([1_790_000_000.1234996, 1_790_000_059.9999996]) == [
        "2026-09-21T14:13:20.123+00:00", "2026-09-21T14:14:20.000+00:00"]  # carried: 60 s on
