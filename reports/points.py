"""What a measurement's test point says (the keys the test plans set in `point`).

  load       multiple of In (number)        pf        "1", "0.5L", "0.8C" (or a number;
  direction  "import" / "export"                       a negative number = capacitive)
  element    "balanced" / "L1" / "L2" / "L3"  influence  influence quantity (no curve point)
  window / window_start   demand window index / start (epoch s); raw {"meter", "reference"}
  elapsed_s / elapsed_h   time since the clock was set, for clock error over time

Pure functions of a point, used by the measurement row (reports.records) and the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reports.numbers import fmt_compact, fmt_duration, fmt_time, is_number


def pf_label(pf: Any) -> str:
    """Normalised power-factor label: '1', '0.5L' (inductive, lagging), '0.8C' (capacitive)."""
    if pf is None:
        return ""
    if is_number(pf):
        mag = abs(float(pf))
        if math.isclose(mag, 1.0):
            return "1"
        return f"{mag:g}" + ("C" if pf < 0 else "L")
    text = str(pf).strip().upper().replace(" ", "")
    for suffix, kind in (("IND", "L"), ("LAG", "L"), ("CAP", "C"), ("LEAD", "C"), ("I", "L"),
                         ("L", "L"), ("C", "C")):
        if text.endswith(suffix) and text[: -len(suffix)]:
            try:
                mag = float(text[: -len(suffix)])
            except ValueError:
                break
            return "1" if math.isclose(mag, 1.0) else f"{mag:g}{kind}"
    try:
        return pf_label(float(text))
    except ValueError:
        return str(pf)


def pf_sort_key(label: str) -> tuple[int, float]:
    if label == "1":
        return (0, 0.0)
    try:
        mag = float(label[:-1])
    except ValueError:
        return (3, 0.0)
    return (1 if label.endswith("L") else 2, -mag)


def describe_point(point: Any) -> str:
    """Human text of a test point, e.g. '0.05 In, PF 0.5L, import, L1'."""
    if not isinstance(point, Mapping):
        return str(point)
    parts: list[str] = []
    load = point.get("load")
    if is_number(load):
        parts.append(f"{fmt_compact(load)} In")
    if point.get("pf") is not None:
        parts.append(f"PF {pf_label(point.get('pf'))}")
    for key in ("direction", "element"):
        if point.get(key):
            parts.append(str(point[key]))
    inf = point.get("influence")
    if inf:
        if isinstance(inf, Mapping):
            q = inf.get("quantity", "influence")
            v = inf.get("value")
            parts.append(f"{q} {fmt_compact(v) if is_number(v) else v}".strip())
        else:
            parts.append(str(inf))
    skip = {"load", "pf", "direction", "element", "influence"}
    for key, value in point.items():
        if key in skip:
            continue
        parts.append(_point_item(str(key), value))
    return ", ".join(parts) if parts else "-"


def _point_item(key: str, value: Any) -> str:
    """'window start 2026-09-21 14:28:20', 'elapsed 6 h 00 min', 'voltage factor 1.15'."""
    if is_number(value):
        if key.endswith(("_start", "_at", "_time")) and value > 1e8:  # epoch seconds
            return f"{_words(key)} {fmt_time(value).removesuffix(' UTC')}"
        if key.endswith("_s"):
            return f"{_words(key[:-2])} {fmt_duration(value) or fmt_compact(value) + ' s'}"
        return f"{_words(key)} {fmt_compact(value)}"
    return f"{_words(key)} {value}"


def _words(key: str) -> str:
    """A plan's point key as words for the reader ('voltage_factor' -> 'voltage factor')."""
    return key.replace("_", " ")


def elapsed_hours(point: Any) -> float:
    """Time since the clock was set (elapsed_s or elapsed_h), in hours; NaN without one."""
    if isinstance(point, Mapping):
        if is_number(point.get("elapsed_s")):
            return float(point["elapsed_s"]) / 3600.0
        if is_number(point.get("elapsed_h")):
            return float(point["elapsed_h"])
    return math.nan
