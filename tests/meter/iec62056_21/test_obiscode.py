"""ObisCode: full and reduced forms, letter mapping (standards.md 6.8)."""

from __future__ import annotations

import pytest

from meter.iec62056_21 import InvalidObis, ObisCode


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("1-1:1.8.0*101", (1, 1, 1, 8, 0, 101)),
        ("1-0:1.8.0.255", (1, 0, 1, 8, 0, 255)),
        ("1.8.0", (None, None, 1, 8, 0, None)),
        ("1.8", (None, None, 1, 8, None, None)),
        ("1.8.0*18", (None, None, 1, 8, 0, 18)),
        ("C.1.0", (None, None, 96, 1, 0, None)),
        ("F.F", (None, None, 97, 97, None, None)),
        ("L.1.0", (None, None, 98, 1, 0, None)),
        ("P.01", (None, None, 99, 1, None, None)),
        ("P.98", (None, None, 99, 98, None, None)),
        ("32.7.0", (None, None, 32, 7, 0, None)),
    ],
)
def test_parse(text, groups):
    code = ObisCode.parse(text)
    assert (code.a, code.b, code.c, code.d, code.e, code.f) == groups


@pytest.mark.parametrize(
    "text", ["1-1:1.8.0*101", "1.8.0", "C.1.0", "F.F", "P.01", "P.98", "0.1.2&18", "C.7.21", "1.8"]
)
def test_format_round_trip(text):
    assert str(ObisCode.parse(text)) == text


def test_six_group_dot_form_formats_with_star():
    assert str(ObisCode.parse("1-0:1.8.0.255")) == "1-0:1.8.0*255"


def test_letters_equal_numbers():
    assert ObisCode.parse("C.1.0") == ObisCode.parse("96.1.0")
    assert ObisCode.parse("F.F") == ObisCode.parse("97.97")


def test_matches_ignores_unwritten_groups():
    assert ObisCode.parse("1-0:1.8.0*255").matches(ObisCode.parse("1.8.0"))
    assert not ObisCode.parse("1.8.1").matches(ObisCode.parse("1.8.0"))


@pytest.mark.parametrize(
    "text", ["", "1", "1.8.0.255", "X.1.0", "1-1:1.8.0*256", "1.8.0*", "1..0", "ERROR"]
)
def test_rejects(text):
    with pytest.raises(InvalidObis, match="OBIS"):
        ObisCode.parse(text)
