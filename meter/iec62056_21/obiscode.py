"""OBIS codes as written in IEC 62056-21 readouts (standards.md 6.8).

Full form `A-B:C.D.E*F` (also `A-B:C.D.E.F` and `&F` for the second billing scheme), reduced
forms `C.D.E`, `C.D`, `C.D.E*F`. Letters stand for numbers in value groups C and D:
C = 96 (service entries), F = 97 (error), L = 98 (lists), P = 99 (profiles) [H] (VZ, GX),
so `C.1.0` = 96.1.0, `F.F` = 97.97, `P.01` = 99.1.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .errors import InvalidObis

LETTERS = {"C": 96, "F": 97, "L": 98, "P": 99}
_NUMBER_TO_LETTER = {v: k for k, v in LETTERS.items()}

_GROUP = r"(\d{1,3}|[CFLP])"
_PATTERN = re.compile(
    r"^(?:(\d{1,3})-(\d{1,3}):)?"
    + _GROUP
    + r"\."
    + _GROUP
    + r"(?:\.(\d{1,3}))?(?:([*&.])(\d{1,3}))?$"
)


def _group(text: str, name: str, source: str) -> int:
    number = LETTERS[text] if text in LETTERS else int(text)
    if number > 255:
        raise InvalidObis(f"OBIS value group {name} = {number} > 255 in {source!r}")
    return number


@dataclass(frozen=True)
class ObisCode:
    """An OBIS code; groups absent from the written form are None (A, B, E, F)."""

    a: int | None
    b: int | None
    c: int
    d: int
    e: int | None = None
    f: int | None = None
    billing_separator: str = "*"

    @classmethod
    def parse(cls, text: str) -> ObisCode:
        """Parse the written form; the result is immutable, so repeats come from a cache (a
        meter model maps thousands of addresses, the same ones for every meter)."""
        if cls is ObisCode:
            return _parse_cached(text)
        return cls._parse(text)

    @classmethod
    def _parse(cls, text: str) -> ObisCode:
        m = _PATTERN.match(text)
        if m is None:
            raise InvalidObis(
                f"{text!r} is not an OBIS code"
                " (expected A-B:C.D.E*F or reduced C.D.E, C.D, F.F, P.01)"
            )
        a, b, c, d, e, sep, f = m.groups()
        if sep == "." and (a is None or e is None):
            raise InvalidObis(
                f"OBIS code {text!r}: '.F' is only allowed in the six-group form A-B:C.D.E.F"
            )
        return cls(
            a=None if a is None else _group(a, "A", text),
            b=None if b is None else _group(b, "B", text),
            c=_group(c, "C", text),
            d=_group(d, "D", text),
            e=None if e is None else _group(e, "E", text),
            f=None if f is None else _group(f, "F", text),
            billing_separator="*" if sep in (None, ".") else sep,
        )

    @property
    def reduced(self) -> bool:
        return self.a is None

    def __str__(self) -> str:
        if self.reduced:
            c = _NUMBER_TO_LETTER.get(self.c, str(self.c))
            if self.c == 99:
                d = f"{self.d:02d}"  # profiles are written P.01, P.98
            elif c in LETTERS and self.d in _NUMBER_TO_LETTER:
                d = _NUMBER_TO_LETTER[self.d]  # F.F
            else:
                d = str(self.d)
            text = f"{c}.{d}"
        else:
            text = f"{self.a}-{self.b}:{self.c}.{self.d}"
        if self.e is not None:
            text += f".{self.e}"
        if self.f is not None:
            text += f"{self.billing_separator}{self.f}"
        return text

    def matches(self, other: ObisCode) -> bool:
        """True if both name the same quantity where both spell out a group (A/B/E/F optional)."""
        for mine, theirs in (
            (self.a, other.a),
            (self.b, other.b),
            (self.e, other.e),
            (self.f, other.f),
        ):
            if mine is not None and theirs is not None and mine != theirs:
                return False
        return self.c == other.c and self.d == other.d


def try_parse(text: str) -> ObisCode | None:
    """ObisCode.parse, or None for addresses that are not OBIS codes (manufacturer ids)."""
    try:
        return ObisCode.parse(text)
    except InvalidObis:
        return None


_parse_cached = functools.lru_cache(maxsize=16384)(ObisCode._parse)
