"""The messages of IEC 62056-21 (standards.md 6.3) as frozen dataclasses, with BCC.

Every message has `encode() -> bytes`; `decode(frame)` turns exactly one complete frame
into its message or raises a ProtocolError saying what is wrong and where. Pure code:
no I/O, no clock.

Decoding an STX frame is decided by its content alone: a block ending in `!CR LF` is a
data readout; a block that is exactly `(text)` (no address, no unit) is an error message
(standards.md 6.3); anything else is a programming-mode data message.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from dataclasses import dataclass

from .datasets import (
    ERROR_TEXT_FORBIDDEN,
    ERROR_TEXT_MAX,
    VALUE_MAX,
    VALUE_MAX_PROGRAMMING,
    DataSet,
    check_field,
    parse_line,
    parse_lines,
    trusted,
)
from .errors import BccError, FramingError, IllegalCharacter, MissingEtx, TrailingData

SOH = 0x01
STX = 0x02
ETX = 0x03
EOT = 0x04
ACK = 0x06
NAK = 0x15
CRLF = b"\r\n"

# Baud rate characters (standards.md 6.2 [H]).
MODE_C_BAUD = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}
MODE_B_BAUD = {"A": 600, "B": 1200, "C": 2400, "D": 4800, "E": 9600, "F": 19200}
START_BAUD = 300

REQUEST_ADDRESS_MAX = 32  # standards.md 6.7 [L]
IDENT_MAX = 16  # standards.md 6.3 [M]
ADDRESS_FORBIDDEN_REQUEST = frozenset("/!?")
IDENT_FORBIDDEN = frozenset("/!")

# Command identifiers and types (standards.md 6.3 [H]).
COMMANDS = frozenset("PWREB")


_SHORT = 48  # up to this many bytes (a command, an R1 answer) a plain XOR of each is faster


def bcc(data: bytes) -> int:
    """XOR of `data`, 7-bit (the parity bit is not part of the BCC, standards.md 6.4)."""
    # XOR-fold the bytes as one integer (a readout is kilobytes: a loop per byte in Python
    # was a fifth of decoding it): halves XORed until one byte is left.
    n = len(data)
    if n <= _SHORT:
        return functools.reduce(operator.xor, data, 0) & 0x7F
    x = int.from_bytes(data, "little")
    while n > 1:
        half = (n + 1) // 2
        x = (x >> (8 * half)) ^ (x & ((1 << (8 * half)) - 1))
        n = half
    return x & 0x7F


def _baud_char_of(rate: int) -> str:
    for char, value in MODE_C_BAUD.items():
        if value == rate:
            return char
    raise ValueError(f"{rate} Bd has no mode C baud character (300..19200)")


# ---------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Request:
    """Sign-on `/?[device address]!CRLF`; '' = no address (point to point)."""

    address: str = ""

    def __post_init__(self) -> None:
        check_field(
            self.address, "device address", ADDRESS_FORBIDDEN_REQUEST, REQUEST_ADDRESS_MAX, 2
        )

    def encode(self) -> bytes:
        return b"/?" + self.address.encode("ascii") + b"!" + CRLF


@dataclass(frozen=True)
class Identification:
    """Identification `/XXXZ[\\W]ident CRLF` sent by the meter.

    manufacturer: 3 letters (FLAG id); a lower-case 3rd letter says the meter reacts within
    20 ms instead of 200 ms. baud: Z, the highest speed offered (mode C '0'..'9', mode B
    'A'..'I', anything else = mode A). enhanced: W of the optional `\\W` (mode E '2').
    """

    manufacturer: str
    baud: str
    ident: str
    enhanced: str | None = None

    def __post_init__(self) -> None:
        m = self.manufacturer
        if len(m) != 3:
            raise FramingError(f"manufacturer id {m!r} must be 3 letters")
        for i, ch in enumerate(m):
            ok = ("A" <= ch <= "Z") or (i == 2 and "a" <= ch <= "z")
            if not ok:
                raise IllegalCharacter(ch, 1 + i, "manufacturer id", m)
        if len(self.baud) != 1 or not ("!" <= self.baud <= "~") or self.baud in "/!\\":
            raise IllegalCharacter(self.baud, 4, "baud character", self.baud)
        if self.enhanced is not None and (
            len(self.enhanced) != 1 or not ("!" <= self.enhanced <= "~")
        ):
            raise IllegalCharacter(self.enhanced, 6, "enhanced identification", self.enhanced)
        start = 5 if self.enhanced is None else 7
        check_field(self.ident, "identification", IDENT_FORBIDDEN, IDENT_MAX, start)
        if not self.ident:
            raise FramingError("identification text is empty")
        if self.enhanced is None and self.ident.startswith("\\"):
            raise IllegalCharacter("\\", 5, "identification", self.ident)

    @property
    def fast_reaction(self) -> bool:
        """True if the meter allows a 20 ms reaction time (standards.md 6.3, 6.6 [H])."""
        return self.manufacturer[2].islower()

    @property
    def mode(self) -> str:
        """'C' (mode C or E), 'B' or 'A' from the baud character (standards.md 6.2)."""
        if self.baud.isdigit():
            return "C"
        if "A" <= self.baud <= "I":
            return "B"
        return "A"

    @property
    def max_baud(self) -> int:
        """Highest speed the meter offers (300 for mode A and reserved characters)."""
        return MODE_C_BAUD.get(self.baud) or MODE_B_BAUD.get(self.baud) or START_BAUD

    def encode(self) -> bytes:
        esc = "" if self.enhanced is None else "\\" + self.enhanced
        return f"/{self.manufacturer}{self.baud}{esc}{self.ident}".encode("ascii") + CRLF


@dataclass(frozen=True)
class OptionSelect:
    """Acknowledgement / option select `ACK V Z Y CRLF` sent by the client (mode C).

    V protocol control ('0' normal, '1' secondary, '2' HDLC), Z baud character,
    Y mode control ('0' readout, '1' programming, '2' binary, '6'..'9' manufacturer).
    """

    protocol: str = "0"
    baud: str = "0"
    mode: str = "0"

    READOUT = "0"
    PROGRAMMING = "1"

    def __post_init__(self) -> None:
        for offset, (name, ch) in enumerate(
            (
                ("protocol control", self.protocol),
                ("baud character", self.baud),
                ("mode control", self.mode),
            ),
            start=1,
        ):
            if len(ch) != 1 or not ch.isdigit():
                raise IllegalCharacter(ch, offset, f"option select {name}", ch)

    @classmethod
    def for_rate(cls, rate: int, mode: str = "0") -> OptionSelect:
        return cls("0", _baud_char_of(rate), mode)

    @property
    def baud_rate(self) -> int | None:
        return MODE_C_BAUD.get(self.baud)

    def encode(self) -> bytes:
        return bytes([ACK]) + f"{self.protocol}{self.baud}{self.mode}".encode("ascii") + CRLF


def _lines(lines: object) -> tuple[tuple[DataSet, ...], ...]:
    out = tuple(tuple(line) for line in lines)  # type: ignore[union-attr]
    for line in out:
        if not line:
            raise FramingError("a data line needs at least one data set")
    return out


@dataclass(frozen=True)
class Readout:
    """Data (readout) message `STX data-block ! CRLF ETX BCC`; lines of data sets."""

    lines: tuple[tuple[DataSet, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", _lines(self.lines))

    @classmethod
    def of(cls, datasets: list[DataSet] | tuple[DataSet, ...]) -> Readout:
        """One data set per line (lines of one data set each: nothing for the constructor's
        check to find)."""
        return trusted(cls, lines=tuple((ds,) for ds in datasets))

    @property
    def datasets(self) -> tuple[DataSet, ...]:
        return tuple(itertools.chain.from_iterable(self.lines))

    def encode(self) -> bytes:
        block = "".join(
            "".join(ds.encode(VALUE_MAX) for ds in line) + "\r\n" for line in self.lines
        )
        return _bcc_frame(STX, (block + "!\r\n").encode("ascii"), ETX)


@dataclass(frozen=True)
class Command:
    """Programming command `SOH C D [STX data-set] ETX|EOT BCC` (EOT = partial block).

    C: P (password), W (write), R (read), E (execute), B (break); D: the type digit.
    """

    command: str
    type: str
    data: DataSet | None = None
    partial: bool = False

    def __post_init__(self) -> None:
        if self.command not in COMMANDS or len(self.command) != 1:
            raise IllegalCharacter(self.command, 1, "command identifier (P W R E B)", self.command)
        if len(self.type) != 1 or not self.type.isdigit():
            raise IllegalCharacter(self.type, 2, "command type", self.type)
        if self.partial and self.data is None:
            raise FramingError("a partial block (EOT) needs a data set")

    @functools.cached_property
    def name(self) -> str:
        # Made once (immutable): the state machine asks for it at every command sent or taken.
        return self.command + self.type

    def encode(self) -> bytes:
        return self._frame

    @functools.cached_property
    def _frame(self) -> bytes:
        # Built once per command (immutable): a client sends the same ones again and again.
        body = self.name.encode("ascii")
        if self.data is not None:
            body += _BYTES[STX] + self.data.encode(VALUE_MAX_PROGRAMMING).encode("ascii")
        return _bcc_frame(SOH, body, EOT if self.partial else ETX)


BREAK = Command("B", "0")


@dataclass(frozen=True)
class DataMessage:
    """Programming-mode data message `STX data-set(s) ETX|EOT BCC` (EOT = partial block)."""

    lines: tuple[tuple[DataSet, ...], ...]
    partial: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", _lines(self.lines))
        if not self.lines:
            raise FramingError("a programming-mode data message needs at least one data set")

    @classmethod
    def of(
        cls, datasets: list[DataSet] | tuple[DataSet, ...], partial: bool = False
    ) -> DataMessage:
        """One data set per line (a meter's answer: built for every read it serves)."""
        if not datasets:
            return cls((), partial)  # raises: a data message needs a data set
        # Lines of one data set each are what the constructor's check would let through.
        return trusted(cls, lines=tuple([(ds,) for ds in datasets]), partial=partial)

    @property
    def datasets(self) -> tuple[DataSet, ...]:
        return tuple(itertools.chain.from_iterable(self.lines))

    def encode(self) -> bytes:
        lines = self.lines
        if len(lines) == 1 and len(lines[0]) == 1:  # the answer to an R1: one data set
            block = lines[0][0].encode(VALUE_MAX_PROGRAMMING)
        else:
            block = "\r\n".join(
                "".join(ds.encode(VALUE_MAX_PROGRAMMING) for ds in line) for line in lines
            )
        if block.startswith("(") and len(self.lines) == 1 and _looks_like_error(self.lines[0]):
            raise FramingError(
                f"data message {block!r} would read as an error message:"
                " give the data set an address"
            )
        return _bcc_frame(STX, block.encode("ascii"), EOT if self.partial else ETX)


def _looks_like_error(line: tuple[DataSet, ...]) -> bool:
    return (
        len(line) == 1
        and line[0].address == ""
        and len(line[0].values) == 1
        and line[0].values[0].unit is None
    )


@dataclass(frozen=True)
class ErrorMessage:
    """Error message `STX (text) ETX BCC` (standards.md 6.3).

    The text has at most 32 characters and none of ( ) * / !.
    """

    text: str

    def __post_init__(self) -> None:
        check_field(self.text, "error text", ERROR_TEXT_FORBIDDEN, ERROR_TEXT_MAX, 2)

    def encode(self) -> bytes:
        return _bcc_frame(STX, f"({self.text})".encode("ascii"), ETX)


@dataclass(frozen=True)
class Ack:
    """Acknowledge, the single byte ACK."""

    def encode(self) -> bytes:
        return bytes([ACK])


@dataclass(frozen=True)
class Nak:
    """Repeat request, the single byte NAK."""

    def encode(self) -> bytes:
        return bytes([NAK])


Message = (
    Request
    | Identification
    | OptionSelect
    | Readout
    | Command
    | DataMessage
    | ErrorMessage
    | Ack
    | Nak
)


_BYTES = [bytes((b,)) for b in range(256)]  # one-byte strings, made once


def _bcc_frame(start: int, body: bytes, end: int) -> bytes:
    protected = body + _BYTES[end]
    return b"".join((_BYTES[start], protected, _BYTES[bcc(protected)]))


# ---------------------------------------------------------------------------- decoding


# A meter is sent the same few dozen commands thousands of times in a type test, and a client
# gets many answers that repeat: the message of a short frame comes from a cache (messages are
# immutable; a frame that raises is not cached, so its error is raised again).
CACHED_FRAME_MAX = 128
_CACHED_FRAMES = 4096


def decode(frame: bytes) -> Message:
    """Decode exactly one complete frame (as cut by framing.FrameSplitter)."""
    if len(frame) <= CACHED_FRAME_MAX:
        return _decode_short(bytes(frame))
    return _decode(frame)


def _decode(frame: bytes) -> Message:
    if not frame:
        raise FramingError("empty frame")
    if not frame.isascii():  # one C scan; the loop only names the byte at fault
        for i, byte in enumerate(frame):
            if byte > 0x7F:
                raise IllegalCharacter(
                    chr(byte), i, "frame (7-bit ISO 646 only)", frame.decode("latin-1")
                )
    first = frame[0]
    if first == ord("/"):
        return _decode_slash(frame)
    if first == ACK:
        if len(frame) == 1:
            return Ack()
        return _decode_option(frame)
    if first == NAK:
        if len(frame) != 1:
            raise TrailingData(frame[1:], 1)
        return Nak()
    if first in (SOH, STX):
        return _decode_bcc_frame(frame)
    raise FramingError(f"byte 0x{first:02X} at offset 0 starts no message of IEC 62056-21")


_decode_short = functools.lru_cache(maxsize=_CACHED_FRAMES)(_decode)


def _decode_slash(frame: bytes) -> Request | Identification:
    end = frame.find(CRLF)
    if end < 0:
        raise FramingError(f"{frame[:40]!r} is not terminated by CR LF")
    if end + 2 != len(frame):
        raise TrailingData(frame[end + 2 :], end + 2)
    text = frame[1:end].decode("ascii")
    for i, ch in enumerate(text):
        if not (" " <= ch <= "~"):
            raise IllegalCharacter(ch, 1 + i, "sign-on/identification line", text)
    if text.startswith("?"):
        if not text.endswith("!"):
            raise FramingError(f"request {text!r} does not end with '!' before CR LF")
        return Request(text[1:-1])
    if len(text) < 5:
        raise FramingError(f"identification {text!r} is too short: needs /XXXZ and an ident")
    manufacturer, baud, rest = text[:3], text[3], text[4:]
    enhanced = None
    if rest.startswith("\\"):
        if len(rest) < 2:
            raise FramingError(f"identification {text!r}: '\\' without the enhanced character W")
        enhanced, rest = rest[1], rest[2:]
    return Identification(manufacturer, baud, rest, enhanced)


def _decode_option(frame: bytes) -> OptionSelect:
    if len(frame) < 6 or frame[4:6] != CRLF:
        raise FramingError(f"option select {frame[:10]!r} must be ACK V Z Y CR LF (6 bytes)")
    if len(frame) > 6:
        raise TrailingData(frame[6:], 6)
    v, z, y = (chr(b) for b in frame[1:4])
    return OptionSelect(v, z, y)


_END = re.compile(b"[\x03\x04]")  # ETX or EOT
# What a frame body may hold: no control character but STX, CR and LF.
_BODY_BYTES = bytes((STX, 0x0D, 0x0A)) + bytes(range(0x20, 0x100))


def _decode_bcc_frame(frame: bytes) -> Message:
    found = _END.search(frame, 1)
    end = found.start() if found else -1
    if end < 0:
        raise MissingEtx(frame)
    if end + 1 >= len(frame):
        raise MissingEtx(frame, "the BCC byte after ETX/EOT is missing")
    if end + 2 != len(frame):
        raise TrailingData(frame[end + 2 :], end + 2)
    expected = bcc(frame[1 : end + 1])
    if frame[end + 1] != expected:
        raise BccError(expected, frame[end + 1], frame)
    partial = frame[end] == EOT
    body = frame[1:end]
    if body.translate(None, _BODY_BYTES):  # a control character: find and name it
        for i, byte in enumerate(body):
            if byte < 0x20 and byte not in (STX, 0x0D, 0x0A):
                raise IllegalCharacter(chr(byte), 1 + i, "frame body", body.decode("ascii"))
    if frame[0] == SOH:
        return _decode_command(body, partial)
    return _decode_stx(body, partial)


def _decode_command(body: bytes, partial: bool) -> Command:
    if len(body) < 2:
        raise FramingError(f"command {body!r} needs a command identifier and a type")
    text = body.decode("ascii")
    command, type_ = text[0], text[1]
    if command not in COMMANDS:
        raise IllegalCharacter(command, 1, "command identifier (P W R E B)", text)
    if not type_.isdigit():
        raise IllegalCharacter(type_, 2, "command type", text)
    rest = text[2:]
    if not rest:
        if partial:
            raise FramingError(f"partial command {text!r} carries no data set")
        return Command(command, type_)
    if rest[0] != "\x02":
        raise IllegalCharacter(rest[0], 3, "command (STX or ETX expected after the type)", text)
    data = rest[1:]
    if "\x02" in data or "\r" in data or "\n" in data:
        bad = next(ch for ch in data if ch in "\x02\r\n")
        raise IllegalCharacter(bad, 4 + data.index(bad), "command data set", data)
    sets = parse_line(data, 4, VALUE_MAX_PROGRAMMING)
    if len(sets) != 1:
        raise FramingError(
            f"command {command}{type_} carries {len(sets)} data sets, expected one: {data!r}"
        )
    # Identifier and type were checked above, the data set by parse_line.
    return trusted(Command, command=command, type=type_, data=sets[0], partial=partial)


def _decode_stx(body: bytes, partial: bool) -> Readout | DataMessage | ErrorMessage:
    text = body.decode("ascii")
    if "\x02" in text:
        raise IllegalCharacter("\x02", 1 + text.index("\x02"), "data block", text)
    if text.endswith("!\r\n"):
        if partial:
            raise FramingError("a data readout ends with ETX, not EOT")
        # parse_lines gives what Readout checks: a tuple of lines of at least one data set.
        return trusted(Readout, lines=parse_lines(text[:-3], 1, VALUE_MAX))
    if text.startswith("(") and text.endswith(")") and text.count("(") == 1 and "*" not in text:
        if partial:
            raise FramingError(f"error message {text!r} ends with EOT")
        return ErrorMessage(text[1:-1])
    if not text:
        raise FramingError("empty data message")
    return trusted(DataMessage, lines=parse_lines(text, 1, VALUE_MAX_PROGRAMMING), partial=partial)
