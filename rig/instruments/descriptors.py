"""A small declarative layer for driver settings, in the PyMeasure spirit.

`Setting` turns a command template into a Python property: assigning validates the value, formats it
exactly as the instrument expects and writes it through the owner's `write` (which checks the
instrument's error queue or error reply). Reading, where the instrument has a query, parses
the reply.
Templates may contain `{ch}`, filled from the owner's `ch` attribute (a phase or position channel).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from rig.instruments.errors import SettingError

Validator = Callable[[Any, str], Any]


def in_range(low: float, high: float) -> Validator:
    """Accept a finite number low <= v <= high."""

    def check(value: Any, name: str) -> float:
        v = float(value)
        if not (math.isfinite(v) and low <= v <= high):
            raise SettingError(f"{name}: {value!r} is outside {low:g} .. {high:g}")
        return v

    return check


def int_range(low: int, high: int) -> Validator:
    """Accept an integer low <= v <= high."""

    def check(value: Any, name: str) -> int:
        if isinstance(value, bool) or int(value) != value:
            raise SettingError(f"{name}: {value!r} is not an integer")
        v = int(value)
        if not low <= v <= high:
            raise SettingError(f"{name}: {value!r} is outside {low} .. {high}")
        return v

    return check


def one_of(choices: Sequence[Any]) -> Validator:
    """Accept only one of the given values."""

    def check(value: Any, name: str) -> Any:
        if value not in choices:
            raise SettingError(f"{name}: {value!r} is not one of {list(choices)}")
        return value

    return check


def each(*validators: Validator) -> Validator:
    """Validate a tuple element by element."""

    def check(value: Any, name: str) -> tuple:
        if len(value) != len(validators):
            raise SettingError(f"{name}: expected {len(validators)} values, got {value!r}")
        return tuple(v(x, name) for v, x in zip(validators, value, strict=True))

    return check


def compact_number(value: float) -> str:
    """Integer form if integral, else up to 6 decimals without trailing zeros; never an exponent."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


class Setting:
    """A write-validated instrument setting; readable when `get_cmd` is given.

    set_cmd: format template; a tuple value is spread over the placeholders (`"X {:.3f},{:.3f}"`).
    get_cmd: query text; its reply goes through `parse`.
    """

    def __init__(
        self,
        set_cmd: str,
        doc: str,
        *,
        validator: Validator | None = None,
        get_cmd: str | None = None,
        parse: Callable[[str], Any] = float,
        to_text: Callable[[Any], Any] | None = None,
    ) -> None:
        self.set_cmd = set_cmd
        self.get_cmd = get_cmd
        self.validator = validator
        self.parse = parse
        self.to_text = to_text
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        if self.get_cmd is None:
            raise AttributeError(f"{self.name} is write-only ({self.__doc__})")
        return self.parse(obj.query(self.get_cmd.format(ch=getattr(obj, "ch", ""))))

    def __set__(self, obj: Any, value: Any) -> None:
        obj.write(self.command(obj, value))

    def command(self, obj: Any, value: Any) -> str:
        """Validate `value` and return the exact command text (nothing is sent)."""
        label = f"{getattr(obj, 'name', type(obj).__name__)}.{self.name}"
        if self.validator is not None:
            value = self.validator(value, label)
        if self.to_text is not None:
            value = self.to_text(value)
        args = value if isinstance(value, tuple) else (value,)
        return self.set_cmd.format(*args, ch=getattr(obj, "ch", ""))
