"""Generated sections of the README: the defect registry and the OBIS map of the A1000.

`python -m meter.readme` rewrites the marked blocks of README.md from the code, so the tables
there are the code's own; a test checks they are current.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from meter.a1000.defects import defect_table_markdown
from meter.a1000.obis_doc import obis_table_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def sections() -> dict[str, str]:
    return {"defects": defect_table_markdown(), "obis-map": obis_table_markdown()}


def fill(text: str, blocks: dict[str, str]) -> str:
    """`text` with each `<!-- name:start -->...<!-- name:end -->` block replaced."""
    for name, body in blocks.items():
        pattern = re.compile(
            rf"(<!-- {re.escape(name)}:start -->\n).*?(<!-- {re.escape(name)}:end -->)", re.DOTALL
        )
        if not pattern.search(text):
            raise ValueError(f"README has no block {name!r}")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main() -> int:
    README.write_text(fill(README.read_text(encoding="utf-8"), sections()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
