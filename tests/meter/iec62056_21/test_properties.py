"""Hypothesis properties of the codec."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meter.iec62056_21 import (
    BREAK,
    BccError,
    Command,
    DataMessage,
    DataSet,
    ErrorMessage,
    FieldTooLong,
    FramingError,
    IllegalCharacter,
    ProtocolError,
    Readout,
    Value,
    decode,
)
from meter.iec62056_21.datasets import _parse_checked, parse_line
from meter.iec62056_21.framing import NEED_DATA, FrameSplitter, Garbage

PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]


def text(forbidden: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(
        alphabet=[c for c in PRINTABLE if c not in forbidden], min_size=min_size, max_size=max_size
    )


values = st.builds(Value, text("()*/!", 0, 32), st.none() | text("()/!", 1, 16))
addresses = text("()/!", 1, 16)
datasets = st.builds(DataSet, addresses, st.lists(values, min_size=1, max_size=3).map(tuple))
first_datasets = st.builds(
    DataSet, text("()/!", 0, 16), st.lists(values, min_size=1, max_size=3).map(tuple)
)
lines = st.tuples(first_datasets, st.lists(datasets, max_size=2)).map(lambda t: (t[0], *t[1]))


@settings(max_examples=300, deadline=None)
@given(first_datasets)
def test_every_valid_data_set_round_trips(ds):
    assert parse_line(ds.encode()) == (ds,)


def _outcome(parse, line: str, max_value: int) -> object:
    try:
        return parse(line, 3, max_value)
    except ProtocolError as error:
        return type(error), str(error)


# Text near the edge of the rules: delimiters, forbidden and control characters, fields just
# over their limits.
edgy_lines = st.lists(
    st.sampled_from(["(", ")", "*", "/", "!", "\x01", "\x7f", "é", "a", "1.8.0", "1" * 16,
                     "2" * 17, "v" * 32, "*kWh", "()", "(1)"]),
    max_size=8,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(edgy_lines, lines.map(lambda ds: "".join(d.encode() for d in ds))),
       st.sampled_from([32, 128]))
def test_the_fast_parse_agrees_with_the_field_by_field_one(line, max_value):
    """parse_line's whole-line path gives the data sets, or the error, of the checked one."""
    assert _outcome(parse_line, line, max_value) == _outcome(_parse_checked, line, max_value)


@settings(max_examples=150, deadline=None)
@given(st.lists(lines, max_size=5))
def test_every_valid_readout_round_trips(block):
    message = Readout(tuple(block))
    assert decode(message.encode()) == message


def _frames() -> st.SearchStrategy[bytes]:
    commands = st.builds(
        Command, st.sampled_from("PWRE"), st.sampled_from("0123456"), datasets, st.booleans()
    )
    data = st.builds(DataMessage.of, st.lists(datasets, min_size=1, max_size=4), st.booleans())
    readouts = st.lists(lines, max_size=4).map(lambda b: Readout(tuple(b)))
    errors = st.builds(ErrorMessage, text("()*/!", 0, 32))
    return st.one_of(commands, data, readouts, errors, st.just(BREAK)).map(lambda m: m.encode())


@settings(max_examples=1500, deadline=None)
@given(_frames(), st.data())
def test_every_single_byte_corruption_is_detected(frame, data):
    index = data.draw(st.integers(0, len(frame) - 1), label="index")
    new = data.draw(st.integers(0, 255).filter(lambda b: b != frame[index]), label="byte")
    corrupted = frame[:index] + bytes([new]) + frame[index + 1 :]
    # A BCC error, or a framing/character error (the BCC is checked before the content).
    with pytest.raises((BccError, FramingError, IllegalCharacter, FieldTooLong)):
        decode(corrupted)


@settings(max_examples=300, deadline=None)
@given(_frames(), st.data())
def test_splitter_never_yields_a_valid_frame_that_was_not_sent(frame, data):
    """Fed through the splitter in random chunks, a corrupted frame never decodes cleanly
    as the whole transmission: some piece is garbage, fails decoding or stays pending."""
    index = data.draw(st.integers(0, len(frame) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != frame[index]))
    corrupted = frame[:index] + bytes([new]) + frame[index + 1 :]
    splitter = FrameSplitter()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(corrupted)), max_size=4)))
    pieces, out, start = [], [], 0
    for cut in [*cuts, len(corrupted)]:
        pieces.append(corrupted[start:cut])
        start = cut
    problems = 0
    for piece in pieces:
        splitter.feed(piece)
        while (item := splitter.next_frame()) is not NEED_DATA:
            if isinstance(item, Garbage):
                problems += 1
                continue
            try:
                out.append(decode(item))
            except ProtocolError:
                problems += 1
    assert problems or splitter.pending or len(out) != 1
