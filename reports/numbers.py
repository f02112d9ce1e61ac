"""Number and time formatting for reports: sensible significant digits, units, UTC times.

Rounding follows the GUM habit (JCGM 100:2008 7.2.6): the expanded uncertainty is shown
with two significant digits and the measured value is rounded to the same decimal place.
Without an uncertainty a value gets four significant digits. Text uses an ASCII minus so
that exported and parsed numbers stay machine-readable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

DEFAULT_SIGNIFICANT = 4


def is_number(x: object) -> bool:
    # The exact types first: a report asks this some 15 times per measurement.
    if type(x) is float or type(x) is int:
        return math.isfinite(x)
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _decimals_for(x: float, significant: int) -> int:
    """Decimal places that show `significant` significant digits of x (>= 0)."""
    if x == 0:
        return significant - 1
    exponent = math.floor(math.log10(abs(x)))
    return max(0, significant - 1 - exponent)


def _fixed(x: float, decimals: int, signed: bool) -> str:
    text = f"{x:+.{decimals}f}" if signed else f"{x:.{decimals}f}"
    if text.lstrip("+-").strip("0.") == "":  # -0.000 -> 0.000
        text = text.replace("-", "+" if signed else "")
    return text


def fmt_number(x: float | None, significant: int = DEFAULT_SIGNIFICANT, *,
               signed: bool = False) -> str:
    """Compact decimal text, '' for None/NaN. Very large or small numbers use exponents."""
    if x is None or not is_number(x):
        return ""
    if x != 0 and not 1e-4 <= abs(x) < 1e7:
        return f"{x:+.{significant - 1}e}" if signed else f"{x:.{significant - 1}e}"
    return _fixed(x, _decimals_for(x, significant), signed)


def uncertainty_decimals(u: float) -> int:
    """Decimal places of U shown with two significant digits."""
    return _decimals_for(u, 2)


def fmt_uncertainty(u: float | None) -> str:
    if u is None or not is_number(u):
        return ""
    if u == 0:
        return "0"
    return _fixed(u, uncertainty_decimals(u), False)


def fmt_value(value: float | None, u: float | None = None, *, signed: bool = False) -> str:
    """The measured value rounded to the decimal place of its uncertainty (if known)."""
    if value is None or not is_number(value):
        return ""
    if u is not None and is_number(u) and u > 0 and 1e-4 <= abs(u) < 1e7:
        return _fixed(value, uncertainty_decimals(u), signed)
    if float(value).is_integer() and abs(value) < 1e7:  # counts: 2 pulses, not 2.000
        return _fixed(value, 0, signed)
    return fmt_number(value, signed=signed)


def with_unit(text: str, unit: str | None) -> str:
    if not text or not unit:
        return text
    return f"{text} {unit}"


def fmt_compact(x: float | None, significant: int = 6) -> str:
    """Shortest text of a stated figure such as a limit (1, 0.5, 0.56): no padding zeros."""
    if x is None or not is_number(x):
        return ""
    return f"{x:.{significant}g}"


def fmt_limits(low: float | None, high: float | None, unit: str | None = "") -> str:
    """'+-0.5 %' for symmetric limits, 'a .. b' otherwise, '<= b' / '>= a' one-sided."""
    lo = low if low is not None and is_number(low) else None
    hi = high if high is not None and is_number(high) else None
    if lo is None and hi is None:
        return ""
    if lo is not None and hi is not None:
        if math.isclose(-lo, hi, rel_tol=1e-12, abs_tol=1e-15) and hi > 0:
            return with_unit(f"\u00b1{fmt_compact(hi)}", unit)
        return with_unit(f"{fmt_compact(lo)} .. {fmt_compact(hi)}", unit)
    if hi is not None:
        return with_unit(f"\u2264 {fmt_compact(hi)}", unit)
    return with_unit(f"\u2265 {fmt_compact(lo)}", unit)


def fmt_time(t: float | None) -> str:
    """UTC date and time of an epoch-seconds value, '' if unknown."""
    if t is None or not is_number(t):
        return ""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(t: float | None) -> str | None:
    if t is None or not is_number(t):
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def iso_times(times: Iterable[Any]) -> list[str | None]:
    """iso_time of each of many times, the same texts at a fraction of the cost (a
    48-position export has 60 000): datetime works out each minute's date and time once, and
    the seconds and milliseconds are added to it, the fraction rounded to microseconds as
    datetime.fromtimestamp rounds it (half to even; CPython's _PyTime_ObjectToTimeval)
    before the milliseconds are cut from it, as isoformat cuts them."""
    minutes: dict[int, str] = {}
    out: list[str | None] = []
    for t in times:
        if t is None or not is_number(t):
            out.append(None)
            continue
        fraction, whole = math.modf(t)
        micro, seconds = round(fraction * 1e6), int(whole)
        if micro >= 1_000_000:
            seconds, micro = seconds + 1, micro - 1_000_000
        elif micro < 0:
            seconds, micro = seconds - 1, micro + 1_000_000
        minute, second = divmod(seconds, 60)
        head = minutes.get(minute)
        if head is None:  # 'YYYY-MM-DDTHH:MM:' of 'YYYY-MM-DDTHH:MM:00+00:00'
            head = minutes[minute] = datetime.fromtimestamp(minute * 60, UTC).isoformat()[:-8]
        out.append(f"{head}{second:02d}.{micro // 1000:03d}+00:00")
    return out


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not is_number(seconds) or seconds < 0:
        return ""
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min {sec:02d} s"
    return f"{sec} s"
