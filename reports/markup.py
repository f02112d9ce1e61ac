"""Escaping and ids for the HTML the report's section builders write (the page itself is a
Jinja2 template with autoescape: reports/page.py)."""

from __future__ import annotations

import html
import re
from typing import Any

_TO_ESCAPE = re.compile(r"[&<>\"']")


def e(value: Any) -> str:
    text = "" if value is None else str(value)
    # Most text has nothing to escape; html.escape would still make five passes over it.
    return html.escape(text, quote=True) if _TO_ESCAPE.search(text) else text


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"
