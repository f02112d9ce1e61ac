"""Streaming frame splitter."""

from __future__ import annotations

from meter.iec62056_21 import BREAK, DataSet, ErrorMessage, OptionSelect, Readout, Request, Value
from meter.iec62056_21.framing import NEED_DATA, FrameSplitter, Garbage


def frames_of(chunks, option=False):
    splitter = FrameSplitter()
    out = []
    for chunk in chunks:
        splitter.feed(chunk)
        while (frame := splitter.next_frame(option)) is not NEED_DATA:
            out.append(frame)
    return out, splitter.pending


def test_byte_by_byte_gives_the_same_frames():
    readout = Readout.of([DataSet.of("1.8.0", Value("1", "kWh"))] * 3).encode()
    stream = (
        Request("1").encode()
        + readout
        + b"\x06"
        + BREAK.encode()
        + b"\x15"
        + ErrorMessage("E").encode()
    )
    whole, rest = frames_of([stream])
    single, rest2 = frames_of([bytes([b]) for b in stream])
    assert whole == single
    assert rest == rest2 == b""
    assert whole == [
        Request("1").encode(),
        readout,
        b"\x06",
        BREAK.encode(),
        b"\x15",
        ErrorMessage("E").encode(),
    ]


def test_bcc_byte_equal_to_etx_is_not_a_terminator():
    frame = b"\x02(x)\x03" + bytes([0x03])  # a BCC may be any 7-bit value, even ETX
    assert frames_of([frame[:-1], frame[-1:]])[0] == [frame]


def test_need_data_until_the_bcc_arrives():
    frames, pending = frames_of([BREAK.encode()[:-1]])
    assert frames == [] and pending == BREAK.encode()[:-1]


def test_option_select_only_when_expected():
    data = OptionSelect("0", "5", "1").encode()
    assert frames_of([data], option=True)[0] == [data]
    frames, _ = frames_of([data], option=False)
    assert frames[0] == b"\x06"  # a lone ACK, then noise
    assert isinstance(frames[1], Garbage)


def test_lone_ack_when_option_expected_waits_for_more():
    frames, pending = frames_of([b"\x06"], option=True)
    assert frames == [] and pending == b"\x06"


def test_garbage_before_a_frame_is_reported_and_skipped():
    frames, _ = frames_of([b"\x00\x00noise" + BREAK.encode()])
    assert frames[0] == Garbage(b"\x00\x00noise", "bytes that start no message")
    assert frames[1] == BREAK.encode()


def test_truncated_frame_is_cut_at_the_next_start():
    cut = Readout.of([DataSet.of("1.8.0", "1")]).encode()[:6]
    frames, _ = frames_of([cut + BREAK.encode()])
    assert isinstance(frames[0], Garbage) and frames[0].data == cut
    assert "cut short" in frames[0].reason
    assert frames[1] == BREAK.encode()


def test_overlong_line_and_frame_become_garbage():
    frames, _ = frames_of([b"/" + b"x" * 50])
    assert isinstance(frames[0], Garbage)
    splitter = FrameSplitter(max_frame=10)
    splitter.feed(b"\x02" + b"a" * 20)
    assert isinstance(splitter.next_frame(), Garbage)


def test_discard_returns_the_partial_frame():
    splitter = FrameSplitter()
    splitter.feed(b"\x02abc")
    assert splitter.next_frame() is NEED_DATA
    assert splitter.discard() == b"\x02abc"
    assert splitter.pending == b""


def test_broken_option_select_does_not_swallow_a_sign_on():
    frames, _ = frames_of([b"\x060/?!\r\n"], option=True)
    assert frames[0] == Garbage(b"\x060", "broken option select")
    assert frames[1] == b"/?!\r\n"
