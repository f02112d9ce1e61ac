"""Exceptions of the IEC 62056-21 stack: one base class, specific subclasses.

Codec errors say what is wrong and where (field, byte offset); state machine errors name the
state and the message; wrapper errors name what was awaited.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class of every error raised by meter.iec62056_21."""


class FramingError(ProtocolError):
    """The bytes do not form a frame of the standard (start, end, structure)."""


class MissingEtx(FramingError):
    """A BCC-protected frame ended (or the input ended) before its ETX/EOT."""

    def __init__(self, frame: bytes, detail: str = "") -> None:
        self.frame = frame
        tail = f": {detail}" if detail else ""
        super().__init__(f"frame {frame[:40]!r} has no ETX/EOT{tail}")


class TrailingData(FramingError):
    """Bytes follow a complete frame where exactly one frame was expected."""

    def __init__(self, extra: bytes, offset: int) -> None:
        self.extra = extra
        self.offset = offset
        super().__init__(
            f"{len(extra)} unexpected byte(s) {extra[:20]!r} after the frame at offset {offset}"
        )


class BccError(ProtocolError):
    """Block check character mismatch (standards.md 6.4)."""

    def __init__(self, expected: int, received: int, frame: bytes = b"") -> None:
        self.expected = expected
        self.received = received
        self.frame = frame
        super().__init__(
            f"BCC error: expected 0x{expected:02X}, received 0x{received:02X}"
            f" in frame {frame[:40]!r}"
        )


class FieldTooLong(ProtocolError):
    """A field exceeds its length limit (standards.md 6.3, 6.5)."""

    def __init__(self, field: str, length: int, limit: int, text: str = "") -> None:
        self.field = field
        self.length = length
        self.limit = limit
        super().__init__(f"{field} is {length} characters long, limit {limit}: {text[:40]!r}")


class IllegalCharacter(ProtocolError):
    """A character that the field does not allow."""

    def __init__(self, char: str, offset: int, field: str, text: str = "") -> None:
        self.char = char
        self.offset = offset
        self.field = field
        super().__init__(f"illegal character {char!r} at offset {offset} in {field} {text[:60]!r}")


class InvalidObis(ProtocolError, ValueError):
    """Text that is not an OBIS code in full or reduced form (standards.md 6.8)."""


class UnexpectedMessage(ProtocolError):
    """A message that the state machine does not allow in its current state."""

    def __init__(self, role: str, state: str, direction: str, message: object) -> None:
        self.role = role
        self.state = state
        self.direction = direction
        self.message = message
        super().__init__(f"{role} in state {state} cannot {direction} {message!r}")


class RepeatLimitExceeded(ProtocolError):
    """The peer still fails after the configured number of repeats (standards.md 6.6)."""


class ProtocolTimeout(ProtocolError, TimeoutError):
    """Nothing (or not enough) arrived within the time the standard allows."""

    def __init__(self, awaited: str, seconds: float, partial: bytes = b"") -> None:
        self.awaited = awaited
        self.seconds = seconds
        self.partial = partial
        extra = f" (received only {partial[:40]!r})" if partial else ""
        super().__init__(f"timed out after {seconds:.3f} s waiting for {awaited}{extra}")


class ConnectionLost(ProtocolError, ConnectionError):
    """The link closed (TCP EOF, serial device gone) while a message was awaited."""


class MeterError(ProtocolError):
    """The meter answered with an error message `(text)` (standards.md 6.3)."""

    def __init__(self, text: str, command: str = "") -> None:
        self.text = text
        self.command = command
        where = f" to {command}" if command else ""
        super().__init__(f"meter answered error message ({text}){where}")


class PasswordRefused(ProtocolError):
    """The meter did not accept the P1/P2 password."""
