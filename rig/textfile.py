"""Text files the operator writes (bench files, plans) are UTF-8; say so when one is not."""

from __future__ import annotations


def not_utf8(exc: UnicodeDecodeError) -> str:
    """The reason for a file that failed to decode, naming the first bad byte and where."""
    byte = exc.object[exc.start]
    line = exc.object[: exc.start].count(b"\n") + 1
    return f"not UTF-8 text (byte {byte:#04x} at offset {exc.start}, line {line}); save it as UTF-8"
