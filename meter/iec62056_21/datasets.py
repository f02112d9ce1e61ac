"""Data sets `address(value*unit)(value)...` and data lines (standards.md 6.5).

Field limits (standards.md 6.5 [H]): address <= 16 printable characters except ( ) / !;
value <= 32 printable characters except ( ) * / ! (<= 128 in programming mode);
unit <= 16 printable characters except ( ) / ! (the first `*` of a bracket separates value
and unit, so a unit may itself hold `*`). Several values may follow one address.
Data lines "should" not exceed 78 characters: readouts in the field break that rule, so the
decoder does not enforce it and the encoder writes one data set per line.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import FieldTooLong, FramingError, IllegalCharacter

ADDRESS_MAX = 16
VALUE_MAX = 32
VALUE_MAX_PROGRAMMING = 128
UNIT_MAX = 16
ERROR_TEXT_MAX = 32  # standards.md 6.3 error message

ADDRESS_FORBIDDEN = frozenset("()/!")
VALUE_FORBIDDEN = frozenset("()*/!")
UNIT_FORBIDDEN = frozenset("()/!")
ERROR_TEXT_FORBIDDEN = frozenset("()*/!")

T = TypeVar("T")


def trusted(cls: type[T], **fields: Any) -> T:
    """An instance of the frozen dataclass `cls` with `fields` as given, without its checks:
    for values the caller has already validated as a whole (a parsed line, a decoded frame).
    Equal to, and hashing and printing as, the same instance built by `cls(**fields)`."""
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def check_field(
    text: str, field: str, forbidden: frozenset[str], limit: int | None, offset: int = 0
) -> None:
    """Raise IllegalCharacter / FieldTooLong unless `text` is a valid field.

    `offset` is where the field starts in the enclosing frame, so errors point at the byte.
    Printable means ISO 646 0x20..0x7E (standards.md 6.1: 7-bit characters).
    """
    if not (text.isascii() and text.isprintable() and forbidden.isdisjoint(text)):
        for i, ch in enumerate(text):  # the one at fault, named with its place
            if not (" " <= ch <= "~") or ch in forbidden:
                raise IllegalCharacter(ch, offset + i, field, text)
    if limit is not None and len(text) > limit:
        raise FieldTooLong(field, len(text), limit, text)


@dataclass(frozen=True)
class Value:
    """One bracketed value of a data set; `unit` None means no `*unit` part."""

    value: str
    unit: str | None = None

    def __post_init__(self) -> None:
        check_field(self.value, "value", VALUE_FORBIDDEN, VALUE_MAX_PROGRAMMING)
        if self.unit is not None:
            if self.unit == "":
                raise FieldTooLong("unit", 0, UNIT_MAX, "empty unit after '*'")
            check_field(self.unit, "unit", UNIT_FORBIDDEN, UNIT_MAX)

    def encode(self) -> str:
        inner = self.value if self.unit is None else f"{self.value}*{self.unit}"
        return f"({inner})"


@dataclass(frozen=True)
class DataSet:
    """`address(v1)(v2*unit)...`: an address and one or more values."""

    address: str
    values: tuple[Value, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.values, tuple):
            object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise FramingError(f"data set {self.address!r} has no value: at least '()' is needed")
        for v in self.values:
            if not isinstance(v, Value):
                raise TypeError(f"data set {self.address!r}: values must be Value, got {v!r}")
        check_field(self.address, "address", ADDRESS_FORBIDDEN, ADDRESS_MAX)

    @classmethod
    def of(cls, address: str, *values: str | Value) -> DataSet:
        """Shorthand: DataSet.of('1.8.0', Value('12.5', 'kWh'), '230101')."""
        return cls(address, tuple(v if isinstance(v, Value) else Value(v) for v in values))

    def encode(self, max_value: int = VALUE_MAX) -> str:
        # Text and longest value made once per data set (immutable): a meter sends the same
        # unchanged registers again and again (meter.a1000.bank keeps their data sets).
        made = self.__dict__.get("_encoded")
        if made is None:
            parts = [self.address]
            longest = 0
            for v in self.values:  # Value.encode inline
                value, unit = v.value, v.unit
                if len(value) > longest:
                    longest = len(value)
                parts.append(f"({value})" if unit is None else f"({value}*{unit})")
            made = self.__dict__["_encoded"] = ("".join(parts), longest)
        text, longest = made
        if longest > max_value:
            value = next(v.value for v in self.values if len(v.value) > max_value)
            raise FieldTooLong(f"value of {self.address!r}", len(value), max_value, value)
        return text


# One data set's address and value with its unit, as the field limits above allow them (but
# for the value's length, which depends on the mode).
_SET = re.compile(r"([^()/!]{0,16})\(([^()*/!]*)(?:\*([^()/!]{1,16}))?\)")
# The same, for the values that follow the first one of a data set.
_MORE = re.compile(r"()\(([^()*/!]*)(?:\*([^()/!]{1,16}))?\)")
_new = object.__new__


def _value(value: str, unit: str | None) -> Value:
    """`trusted(Value, ...)` for the parser's inner loop (no keyword dict)."""
    v = _new(Value)
    fields = v.__dict__
    fields["value"] = value
    fields["unit"] = unit
    return v


def _data_set(address: str, values: list[Value]) -> DataSet:
    """`trusted(DataSet, ...)` likewise."""
    ds = _new(DataSet)
    fields = ds.__dict__
    fields["address"] = address
    fields["values"] = tuple(values)
    return ds


def parse_line(text: str, offset: int = 0, max_value: int = VALUE_MAX) -> tuple[DataSet, ...]:
    """Parse one data line (no CR LF) into its data sets; `offset` locates errors in the frame."""
    sets = _parse_well_formed(text, max_value)
    return sets if sets is not None else _parse_checked(text, offset, max_value)


def _parse_well_formed(text: str, max_value: int) -> tuple[DataSet, ...] | None:
    """The data sets of a line that breaks no rule of the module doc, matched a data set (or a
    further value) at a time by a regular expression (a per-character check of every field
    was most of the time spent decoding); None for any other line, which `_parse_checked`
    then names the fault of."""
    if not (text.isascii() and text.isprintable()):
        return None
    sets: list[DataSet] = []
    values: list[Value] = []
    set_address = ""
    pos, end = 0, len(text)
    match = _SET.match
    while pos < end:
        # After a value, another value of the same data set, else the next data set (an
        # empty address only at the start of a line, as `_parse_checked` reads it).
        found = (_MORE.match(text, pos) if values else None) or match(text, pos)
        if found is None:
            return None
        address, value, unit = found.groups()
        if len(value) > max_value:
            return None
        if found.re is _SET:  # a new data set: the one before is complete
            if values:
                sets.append(_data_set(set_address, values))
                values = []
            set_address = address
        values.append(_value(value, unit))
        pos = found.end()
    if not values:
        return None
    sets.append(_data_set(set_address, values))
    return tuple(sets)


# A client reads the same readout again and again with a few lines changed (the clock, the
# energies): the data sets of a well-formed line of a message of several lines come from a
# cache (immutable; a line that is not well formed gives None, and `_parse_checked` raises for
# it every time). A message of one line is a short answer, cached whole (messages.decode).
_parse_known = functools.lru_cache(maxsize=8192)(_parse_well_formed)


def _parse_checked(text: str, offset: int, max_value: int) -> tuple[DataSet, ...]:
    """parse_line field by field, raising for the first fault with its offset."""
    sets: list[DataSet] = []
    i = 0
    n = len(text)
    while i < n:
        start = i
        while i < n and text[i] != "(":
            i += 1
        address = text[start:i]
        if i == n:
            raise FramingError(
                f"data set address {address!r} at offset {offset + start} has no '(value)'"
            )
        check_field(address, "address", ADDRESS_FORBIDDEN, ADDRESS_MAX, offset + start)
        values: list[Value] = []
        while i < n and text[i] == "(":
            close = text.find(")", i + 1)
            if close < 0:
                raise FramingError(f"unterminated '(' at offset {offset + i} in {text[:60]!r}")
            values.append(_parse_value(text[i + 1 : close], offset + i + 1, max_value, address))
            i = close + 1
        sets.append(DataSet(address, tuple(values)))
    return tuple(sets)


def _parse_value(inner: str, offset: int, max_value: int, address: str) -> Value:
    star = inner.find("*")
    value, unit = (inner, None) if star < 0 else (inner[:star], inner[star + 1 :])
    check_field(value, f"value of {address!r}", VALUE_FORBIDDEN, max_value, offset)
    if unit is not None:
        if unit == "":
            raise FramingError(f"empty unit after '*' at offset {offset + star} ({address!r})")
        check_field(unit, f"unit of {address!r}", UNIT_FORBIDDEN, UNIT_MAX, offset + star + 1)
    return Value(value, unit)


def parse_lines(
    text: str, offset: int = 0, max_value: int = VALUE_MAX
) -> tuple[tuple[DataSet, ...], ...]:
    """Parse CR LF separated data lines; a final CR LF is optional, empty lines are rejected."""
    lines: list[tuple[DataSet, ...]] = []
    pos = 0
    parts = text.split("\r\n")
    if parts and parts[-1] == "":
        parts.pop()
    well_formed = _parse_known if len(parts) > 1 else _parse_well_formed
    for part in parts:
        if "\r" in part or "\n" in part:
            j = min(k for k in (part.find("\r"), part.find("\n")) if k >= 0)
            raise IllegalCharacter(part[j], offset + pos + j, "data line", part)
        if not part:
            raise FramingError(f"empty data line at offset {offset + pos}")
        sets = well_formed(part, max_value)
        lines.append(sets if sets is not None else _parse_checked(part, offset + pos, max_value))
        pos += len(part) + 2
    return tuple(lines)
