"""DataSet.encode: the text made once per data set, the value limit checked at every encode
(standards.md 6.5: values <= 32 characters, <= 128 in programming mode)."""

from __future__ import annotations

import pytest

from meter.iec62056_21.datasets import VALUE_MAX, VALUE_MAX_PROGRAMMING, DataSet, Value
from meter.iec62056_21.errors import FieldTooLong


def test_encode_gives_the_same_text_each_time() -> None:
    ds = DataSet("1.8.0", (Value("001234.5", "kWh"), Value("2301011200")))
    assert ds.encode() == "1.8.0(001234.5*kWh)(2301011200)"
    assert ds.encode() == "1.8.0(001234.5*kWh)(2301011200)"
    assert ds.encode(VALUE_MAX_PROGRAMMING) == "1.8.0(001234.5*kWh)(2301011200)"


def test_a_long_value_fails_every_readout_encode_and_passes_programming_mode() -> None:
    long = "9" * 40  # > 32, <= 128
    ds = DataSet("C.99", (Value("1"), Value(long)))
    assert ds.encode(VALUE_MAX_PROGRAMMING) == f"C.99(1)({long})"
    for _ in range(2):  # made once, still refused each time
        with pytest.raises(FieldTooLong) as caught:
            ds.encode(VALUE_MAX)
        assert "C.99" in str(caught.value)
    assert ds.encode(VALUE_MAX_PROGRAMMING) == f"C.99(1)({long})"


def test_made_text_does_not_change_equality_or_repr() -> None:
    a = DataSet("0.9.1", (Value("120000"),))
    b = DataSet("0.9.1", (Value("120000"),))
    a.encode()
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b)
