"""The README's generated tables are the code's own (python -m meter.readme rewrites them)."""

from __future__ import annotations

import pytest

from meter.readme import README, fill, sections


def test_readme_tables_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert fill(text, sections()) == text, "README is stale: run python -m meter.readme"


def test_fill_names_a_missing_block() -> None:
    with pytest.raises(ValueError, match="no block 'defects'"):
        fill("no markers here", {"defects": "x"})
