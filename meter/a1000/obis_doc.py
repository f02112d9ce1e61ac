"""The OBIS map as markdown (the README's table, `python -m meter obis-map`): the core rows,
or the whole map of a default A1000 with its components' rows."""

from __future__ import annotations

from meter.a1000.config import default_config
from meter.a1000.meter import A1000
from meter.a1000.obis_map import build_map, core_rows
from meter.a1000.obis_rows import ObisMap, ObisRow


def _history_groups(rows: list[ObisRow]) -> list[tuple[ObisRow, str]]:
    """Rows with the address to show: the history rows of one base address (billing periods
    `X*101..*116`, resets `*00..*99`, latest events `*1..*10`) are shown once, as a range, at
    the place of the first."""
    spans: dict[tuple[str, bool], list[int]] = {}
    for r in rows:
        base, star, suffix = r.address.partition("*")
        if star and suffix.isdigit():
            spans.setdefault((base, int(suffix) > 100), []).append(int(suffix))
    out: list[tuple[ObisRow, str]] = []
    shown: set[tuple[str, bool]] = set()
    for r in rows:
        base, star, suffix = r.address.partition("*")
        if not (star and suffix.isdigit()):
            out.append((r, r.address))
            continue
        key = (base, int(suffix) > 100)
        if key in shown:
            continue
        shown.add(key)
        numbers = spans[key]
        width = len(suffix)
        text = r.address if len(numbers) == 1 else (
            f"{base}*{min(numbers):0{width}d}..*{max(numbers):0{width}d}"
        )
        out.append((r, text))
    return out


def markdown_table(rows: ObisMap | list[ObisRow]) -> str:
    """The map as markdown; runs of history rows (billing periods, latest events) collapse
    into one line each."""
    lines = [
        "| Address | Description | Unit | Source | R | W | E | Readout |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r, shown in _history_groups(list(rows)):
        lines.append(
            f"| `{shown}` | {r.description} | {r.unit or ''} | {r.source} | "
            f"{'yes' if r.readable else ''} | {'yes' if r.writable else ''} | "
            f"{'yes' if r.executable else ''} | "
            f"{'yes' if r.readout else ''} |"
        )
    return "\n".join(lines)


def obis_table_markdown(core_only: bool = False) -> str:
    """The OBIS map of a default A1000 as markdown: the core rows, plus (unless
    ``core_only``) the rows of the plugged-in components."""
    if core_only:
        return markdown_table(core_rows())
    meter = A1000(default_config(), start_time=0.0)
    return markdown_table(build_map(meter))
