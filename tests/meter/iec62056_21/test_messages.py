"""Codec: messages, BCC, data sets (round trips and strict rejections)."""

from __future__ import annotations

import pytest

from meter.iec62056_21 import (
    BREAK,
    Ack,
    BccError,
    Command,
    DataMessage,
    DataSet,
    ErrorMessage,
    FieldTooLong,
    FramingError,
    Identification,
    IllegalCharacter,
    MissingEtx,
    Nak,
    OptionSelect,
    ProtocolError,
    Readout,
    Request,
    TrailingData,
    Value,
    bcc,
    decode,
)
from meter.iec62056_21.datasets import parse_line, parse_lines


# ---- BCC: the checked examples of standards.md 6.4 ----
def test_bcc_examples_from_standards():
    assert BREAK.encode() == b"\x01B0\x03q"  # 0x71
    p0 = Command("P", "0", DataSet.of("", "1234567")).encode()
    assert p0 == b"\x01P0\x02(1234567)\x03P"  # 0x50
    r1 = Command("R", "1", DataSet.of("1.8.0", "")).encode()
    assert r1 == b"\x01R1\x021.8.0()\x03Z"  # 0x5A
    assert bcc(b"B0\x03") == 0x71


def test_bcc_is_seven_bit():
    assert bcc(b"\xff") == 0x7F


# ---- round trips ----
MESSAGES = [
    Request(),
    Request("12345678"),
    Request("A" * 32),
    Identification("LGZ", "5", "ZMD310CT"),
    Identification("ISk", "5", "MT174", "2"),
    Identification("ABC", "E", "MODEB"),
    Identification("ABC", "K", "MODEA"),
    OptionSelect("0", "5", "0"),
    OptionSelect("0", "6", "1"),
    Readout.of([DataSet.of("1.8.0", Value("001234.5", "kWh")), DataSet.of("F.F", "00000000")]),
    Readout(()),
    Readout(((DataSet.of("1.6.1", Value("27.19", "kW"), "1702090945"), DataSet.of("0.9.1", "1")),)),
    Command("P", "1", DataSet.of("", "secret")),
    Command("W", "1", DataSet.of("0.9.1", "120000")),
    Command("R", "5", DataSet.of("P.01", "2301010000;2301020000")),
    Command("W", "3", DataSet.of("C.1.0", "x" * 128), partial=True),
    Command("E", "2", DataSet.of("RESET", "")),
    BREAK,
    Command("B", "1"),
    DataMessage.of([DataSet.of("1.8.0", Value("1", "kWh"))]),
    DataMessage.of([DataSet.of("P.01", "1"), DataSet.of("P.01", "2")], partial=True),
    DataMessage.of([DataSet.of("0.2.0", "v" * 128)]),
    ErrorMessage("ERROR"),
    ErrorMessage("E" * 32),
    Ack(),
    Nak(),
]


@pytest.mark.parametrize("message", MESSAGES, ids=repr)
def test_round_trip(message):
    frame = message.encode()
    assert decode(frame) == message
    assert decode(frame).encode() == frame


def test_wire_formats():
    assert Request("42").encode() == b"/?42!\r\n"
    assert Identification("ABc", "5", "X", "2").encode() == b"/ABc5\\2X\r\n"
    assert OptionSelect.for_rate(9600, "1").encode() == b"\x06051\r\n"
    assert Readout.of([DataSet.of("1.8.0", Value("1", "kWh"))]).encode()[:-1] == (
        b"\x021.8.0(1*kWh)\r\n!\r\n\x03"
    )
    assert ErrorMessage("ERROR").encode()[:-1] == b"\x02(ERROR)\x03"
    assert DataMessage.of([DataSet.of("1", "2")], partial=True).encode()[-2] == 0x04


# ---- identification details ----
def test_identification_without_enhanced_character_keeps_whole_ident():
    # pwitab 0.0.2 read `/ABC5A1000` as ident '1000' (anchors.md 17).
    ident = decode(b"/ABC5A1000\r\n")
    assert ident == Identification("ABC", "5", "A1000")
    assert ident.enhanced is None


def test_identification_flags():
    assert Identification("ABc", "5", "X").fast_reaction
    assert not Identification("ABC", "5", "X").fast_reaction
    assert Identification("ABC", "5", "X").mode == "C"
    assert Identification("ABC", "5", "X").max_baud == 9600
    assert Identification("ABC", "E", "X").mode == "B"
    assert Identification("ABC", "E", "X").max_baud == 9600
    assert Identification("ABC", "K", "X").mode == "A"
    assert Identification("ABC", "K", "X").max_baud == 300


@pytest.mark.parametrize(
    ("frame", "error", "words"),
    [
        (
            b"/ABC5" + b"x" * 17 + b"\r\n",
            FieldTooLong,
            "identification is 17 characters long, limit 16",
        ),
        (b"/AbC5X\r\n", IllegalCharacter, "'b' at offset 2 in manufacturer id"),
        (b"/ABC5\r\n", FramingError, "too short"),
        (b"/ABC5X!\r\n", IllegalCharacter, "'!' at offset 6"),
        (
            b"/?" + b"1" * 33 + b"!\r\n",
            FieldTooLong,
            "device address is 33 characters long, limit 32",
        ),
        (b"/?12\r\n", FramingError, "does not end with '!'"),
        (b"/?12!\r\nX", TrailingData, "after the frame at offset 7"),
    ],
)
def test_line_rejections(frame, error, words):
    with pytest.raises(error) as info:
        decode(frame)
    assert words in str(info.value)


# ---- BCC frame rejections ----
def test_bcc_error_names_expected_and_received():
    frame = bytearray(BREAK.encode())
    frame[-1] = 0x70
    with pytest.raises(BccError) as info:
        decode(bytes(frame))
    assert info.value.expected == 0x71 and info.value.received == 0x70
    assert "expected 0x71, received 0x70" in str(info.value)


def test_missing_etx_and_missing_bcc():
    with pytest.raises(MissingEtx):
        decode(b"\x02(ERROR)")
    with pytest.raises(MissingEtx, match="BCC byte after ETX/EOT is missing"):
        decode(b"\x02(ERROR)\x03")


def test_trailing_data_after_bcc_frame():
    with pytest.raises(TrailingData):
        decode(BREAK.encode() + b"x")


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        ("X1", IllegalCharacter, "'X' at offset 1 in command identifier"),
        ("RX\x021.8.0()", IllegalCharacter, "'X' at offset 2 in command type"),
        ("R1(1.8.0)", IllegalCharacter, "'(' at offset 3"),
        ("R1\x021.8.0()2.8.0()", FramingError, "carries 2 data sets"),
        ("W1\x02" + "A" * 17 + "(1)", FieldTooLong, "address is 17 characters long, limit 16"),
        ("W1\x020.9.1(" + "1" * 129 + ")", FieldTooLong, "limit 128"),
        ("W1\x020.9.1(1*)", FramingError, "empty unit"),
        ("W1\x020.9.1(1*" + "u" * 17 + ")", FieldTooLong, "unit of '0.9.1' is 17 characters"),
        ("W1\x020.9.1(1", FramingError, "unterminated '(' at offset 9"),
        ("W1\x020.9.1", FramingError, "has no '(value)'"),
        ("W1\x020.9/1(1)", IllegalCharacter, "'/' at offset 7 in address"),
    ],
)
def test_command_rejections(body, error, words):
    protected = body.encode() + b"\x03"
    with pytest.raises(error) as info:
        decode(b"\x01" + protected + bytes([bcc(protected)]))
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("block", "error", "words"),
    [
        ("1.8.0(" + "1" * 33 + ")\r\n!\r\n", FieldTooLong, "limit 32"),  # readout: 32
        ("1.8.0(1)\r\n\r\n!\r\n", FramingError, "empty data line"),
        ("1.8.0(1!)\r\n!\r\n", IllegalCharacter, "'!'"),
        ("(" + "E" * 33 + ")", FieldTooLong, "error text is 33 characters long"),
        ("1.8.0(1)\x02", IllegalCharacter, "'\\x02'"),
        ("", FramingError, "empty data message"),
        ("1.8.0(1)\x01", IllegalCharacter, "'\\x01' at offset 9"),
    ],
)
def test_stx_rejections(block, error, words):
    protected = block.encode() + b"\x03"
    with pytest.raises(error) as info:
        decode(b"\x02" + protected + bytes([bcc(protected)]))
    assert words in str(info.value)


def test_eight_bit_bytes_are_rejected_with_offset():
    with pytest.raises(IllegalCharacter, match="offset 3"):
        decode(b"/?1\xb1!\r\n")


def test_option_select_rejections():
    with pytest.raises(IllegalCharacter, match="mode control"):
        decode(b"\x0605X\r\n")
    with pytest.raises(FramingError, match="ACK V Z Y CR LF"):
        decode(b"\x06050\r")


def test_unknown_start_byte():
    with pytest.raises(FramingError, match="0x41 at offset 0 starts no message"):
        decode(b"ABC")


def test_all_errors_share_one_base():
    for exc in (
        BccError(1, 2),
        MissingEtx(b""),
        FieldTooLong("f", 2, 1),
        IllegalCharacter("x", 0, "f"),
    ):
        assert isinstance(exc, ProtocolError)


# ---- data sets ----
def test_data_set_syntax():
    (ds,) = parse_line("1.6.1(27.19*kW)(1702090945)")
    assert ds == DataSet("1.6.1", (Value("27.19", "kW"), Value("1702090945")))
    assert ds.encode() == "1.6.1(27.19*kW)(1702090945)"
    assert parse_line("a(1)b(2*V)") == (DataSet.of("a", "1"), DataSet.of("b", Value("2", "V")))
    assert parse_line("(ABC)") == (DataSet.of("", "ABC"),)


def test_unit_may_not_hold_slash():
    # '/' is excluded from units (standards.md 6.5): Imp/kWh is not a legal unit text.
    with pytest.raises(IllegalCharacter, match="'/'"):
        parse_line("0.3.0(5000*Imp/kWh)")


def test_value_limits_depend_on_mode():
    assert parse_line("x(" + "1" * 128 + ")", max_value=128)
    with pytest.raises(FieldTooLong, match="limit 32"):
        parse_line("x(" + "1" * 33 + ")")
    with pytest.raises(FieldTooLong, match="limit 32"):
        Readout.of([DataSet.of("x", "1" * 33)]).encode()


def test_invalid_values_cannot_be_constructed():
    with pytest.raises(IllegalCharacter, match=r"'\*'"):
        Value("1*2")
    with pytest.raises(IllegalCharacter, match="'!'"):
        DataSet.of("a!", "1")
    with pytest.raises(FramingError, match="no value"):
        DataSet("1.8.0", ())
    with pytest.raises(IllegalCharacter):
        ErrorMessage("(x)")


def test_parse_lines_offsets_point_into_the_frame():
    with pytest.raises(IllegalCharacter) as info:
        parse_lines("a(1)\r\nb(2!)\r\n", offset=1)
    assert info.value.offset == 1 + 6 + 3


def test_unaddressed_single_value_data_message_is_refused():
    with pytest.raises(FramingError, match="would read as an error message"):
        DataMessage.of([DataSet.of("", "123")]).encode()
