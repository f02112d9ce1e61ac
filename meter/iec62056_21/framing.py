"""Streaming frame splitter: bytes in as they arrive, complete frames out (sans-IO).

The splitter only cuts frames; `messages.decode` validates them. Bytes that cannot start a
message (noise, wake-up NULs of Annex B, the tail of a broken frame) come out as `Garbage`
so the state machine can decide whether to ignore them.

Frame ends (standards.md 6.3): `/...CRLF`; `ACK V Z Y CRLF` or a lone ACK; NAK;
`SOH|STX ... ETX|EOT BCC`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .messages import ACK, EOT, ETX, NAK, SOH, STX

FRAME_STARTS = frozenset((ord("/"), ACK, NAK, SOH, STX))
LINE_MAX = 40  # longest request: `/?` + 32-char address + `!` + CRLF = 37 bytes
DEFAULT_FRAME_MAX = 1 << 20
_DIGITS = frozenset(b"0123456789")
_FRAME_CONTROLS = (SOH, STX, ETX, EOT)
_CONTROL = re.compile(b"[" + bytes(_FRAME_CONTROLS) + b"]")  # one C scan for any of them


def _next_control(buf: bytearray, start: int) -> int:
    """Index of the first SOH, STX, ETX or EOT at or after `start`; -1 if there is none."""
    found = _CONTROL.search(buf, start)
    return found.start() if found else -1


_OPTION_SHAPE = (frozenset((ACK,)), _DIGITS, _DIGITS, _DIGITS, frozenset(b"\r"), frozenset(b"\n"))


@dataclass(frozen=True)
class Garbage:
    """Bytes that are not (part of) a frame, and why."""

    data: bytes
    reason: str


class NeedData:
    """Sentinel: the buffer holds no complete frame yet."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()


class FrameSplitter:
    def __init__(self, max_frame: int = DEFAULT_FRAME_MAX) -> None:
        self._buf = bytearray()
        self.max_frame = max_frame
        self._scanned = 1  # BCC frames: bytes before this were already searched for ETX/EOT

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> bytes:
        """Bytes of an unfinished frame (what an inter-character timeout would discard)."""
        return bytes(self._buf)

    @property
    def pending_count(self) -> int:
        """How many bytes `pending` holds (without copying them)."""
        return len(self._buf)

    def discard(self) -> bytes:
        """Drop the unfinished frame (inter-character timeout) and return it."""
        data = bytes(self._buf)
        self._buf.clear()
        self._scanned = 1
        return data

    def skip_to(self, start: int) -> bytes:
        """Drop the bytes before the first `start` byte (all of them if there is none), so the
        next frame cut begins there; return what was dropped."""
        n = self._buf.find(bytes((start,)))
        data = bytes(self._buf[: n if n >= 0 else len(self._buf)])
        if data:
            del self._buf[: len(data)]
            self._scanned = 1
        return data

    def next_frame(self, option_select_expected: bool = False) -> bytes | Garbage | NeedData:
        """Cut the next frame. With `option_select_expected`, ACK followed by a digit starts
        `ACK V Z Y CRLF` (the meter awaiting an option select); otherwise ACK is one byte."""
        buf = self._buf
        if not buf:
            return NEED_DATA
        first = buf[0]
        if first not in FRAME_STARTS:
            n = next((i for i, b in enumerate(buf) if b in FRAME_STARTS), len(buf))
            return self._take(n, "bytes that start no message")
        if first == NAK:
            return self._take(1)
        if first == ACK:
            if not option_select_expected:
                return self._take(1)
            if len(buf) < 2:
                return NEED_DATA
            if not chr(buf[1]).isdigit():
                return self._take(1)
            # ACK V Z Y CR LF: at the first byte that does not fit, cut what came before as
            # garbage, so a sign-on that follows a broken option select is not swallowed.
            for i, expected in enumerate(_OPTION_SHAPE[: len(buf)]):
                if buf[i] not in expected:
                    return self._take(i, "broken option select")
            if len(buf) < 6:
                return NEED_DATA
            return self._take(6)
        if first == ord("/"):
            end = buf.find(b"\r\n")
            if end >= 0:
                return self._take(end + 2)
            if len(buf) > LINE_MAX:
                return self._take(len(buf), f"'/' line longer than {LINE_MAX} bytes without CR LF")
            return NEED_DATA
        return self._bcc_frame(first)

    def _bcc_frame(self, first: int) -> bytes | Garbage | NeedData:
        buf = self._buf
        # Only the control bytes matter here: found by bytearray.find, not a loop per byte in
        # Python (a readout is kilobytes).
        i = self._scanned - 1
        while (i := _next_control(buf, i + 1)) >= 0:
            b = buf[i]
            if b in (ETX, EOT):
                if i + 1 < len(buf):
                    return self._take(i + 2)
                self._scanned = i
                return NEED_DATA
            # A new SOH, or an STX other than the one after `SOH C D`, means the frame
            # before it was cut short: report it and resynchronise on the new start.
            if b == SOH or (b == STX and not (first == SOH and i == 3)):
                return self._take(i, "frame cut short by the start of another frame")
        if len(buf) > self.max_frame:
            return self._take(len(buf), f"frame longer than {self.max_frame} bytes")
        self._scanned = max(1, len(buf))
        return NEED_DATA

    def _take(self, n: int, garbage_reason: str | None = None) -> bytes | Garbage:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        self._scanned = 1
        if garbage_reason is not None:
            return Garbage(data, garbage_reason)
        return data
