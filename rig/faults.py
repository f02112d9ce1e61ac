"""The fault-injection matrix (testplans/fault_matrix.yaml): which plan tests a named defect of
the software meter must fail. `python -m rig.faults` writes it into the README as a table.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from meter.readme import README, fill

MATRIX = Path(__file__).resolve().parent.parent / "testplans" / "fault_matrix.yaml"


def load_matrix(path: Path = MATRIX) -> list[dict[str, Any]]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of rows")
    for i, entry in enumerate(entries):
        missing = {"defect", "run", "fails"} - set(entry)
        if missing:
            raise ValueError(f"{path}: row {i + 1}: missing {', '.join(sorted(missing))}")
        if entry["fails"] and not entry.get("message"):
            raise ValueError(f"{path}: row {i + 1} ({entry['defect']}): no message pattern")
    return entries


def matrix_markdown(entries: list[dict[str, Any]]) -> str:
    lines = [
        "| Defect (parameters) | Plan modules run | Tests that must fail | Why |",
        "|---|---|---|---|",
    ]
    for e in entries:
        name = f"`{e['defect']}`" if e["defect"] else "healthy meter"
        params = ", ".join(f"{k}={v}" for k, v in (e.get("params") or {}).items())
        run = ", ".join("all" if m == "." else f"`{m}`" for m in e["run"])
        fails = "<br>".join(f"`{f}`" for f in e["fails"]) or "none"
        lines.append(
            f"| {name}{f' ({params})' if params else ''} | {run} | {fails} | {e.get('why', '')} |"
        )
    return "\n".join(lines)


def main() -> int:
    text = README.read_text(encoding="utf-8")
    README.write_text(
        fill(text, {"fault-matrix": matrix_markdown(load_matrix())}), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
