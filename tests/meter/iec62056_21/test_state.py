"""Both state machines joined in memory: no ports, no sleeps (the h11 test model)."""

from __future__ import annotations

import pytest

from meter.iec62056_21 import (
    BREAK,
    Ack,
    Command,
    Connection,
    DataMessage,
    DataSet,
    ErrorMessage,
    Identification,
    Nak,
    OptionSelect,
    Readout,
    Request,
    Role,
    State,
    Timing,
    UnexpectedMessage,
    Value,
)
from meter.iec62056_21.framing import NEED_DATA
from meter.iec62056_21.state import Corrupt, Ignored, Invalid, RepeatRequested, TimedOut

IDENT = Identification("ABC", "5", "DEMO")
READOUT = Readout.of([DataSet.of("1.8.0", Value("00001.5", "kWh")), DataSet.of("F.F", "0")])


def events(conn: Connection, data: bytes) -> list:
    conn.receive_data(data)
    out = []
    while (ev := conn.next_event()) is not NEED_DATA:
        out.append(ev)
    return out


def one(conn: Connection, data: bytes):
    got = events(conn, data)
    assert len(got) == 1, got
    return got[0]


def pair(**kw) -> tuple[Connection, Connection]:
    return Connection(Role.CLIENT, **kw), Connection(Role.METER, **kw)


def sign_on(client: Connection, meter: Connection, ident: Identification = IDENT) -> None:
    assert one(meter, client.send(Request())) == Request()
    assert meter.state is State.IDENT_DUE and meter.must_answer
    assert one(client, meter.send(ident)) == ident


def enter_programming(client: Connection, meter: Connection) -> None:
    sign_on(client, meter)
    assert one(meter, client.send(OptionSelect("0", "5", "1"))) == OptionSelect("0", "5", "1")
    assert meter.state is State.P0_DUE
    p0 = Command("P", "0", DataSet.of("", "12345678"))
    assert one(client, meter.send(p0)) == p0
    assert client.state is meter.state is State.PROG


def test_mode_c_readout_with_baud_switch():
    client, meter = pair()
    sign_on(client, meter)
    assert client.state is State.OPTION_DUE and meter.state is State.AWAIT_OPTION
    assert client.baud == meter.baud == 300
    option = OptionSelect("0", "5", "0")
    assert one(meter, client.send(option)) == option
    assert client.baud == meter.baud == 9600
    assert meter.state is State.READOUT_DUE
    assert one(client, meter.send(READOUT)) == READOUT
    assert client.state is State.IDLE and client.baud == 300
    assert meter.state is State.READOUT_SENT
    assert isinstance(meter.timeout(), TimedOut)
    assert meter.state is State.IDLE and meter.baud == 300


def test_mode_b_switches_after_identification_and_mode_a_never():
    client, meter = pair()
    sign_on(client, meter, Identification("ABC", "E", "MODEB"))
    assert client.state is State.AWAIT_READOUT and meter.state is State.READOUT_DUE
    assert client.baud == meter.baud == 9600
    assert one(client, meter.send(READOUT)) == READOUT

    client, meter = pair()
    sign_on(client, meter, Identification("ABC", "K", "MODEA"))
    assert client.baud == meter.baud == 300 and client.state is State.AWAIT_READOUT


def test_fast_reaction_applies_after_the_identification():
    timing = Timing()
    client, meter = pair(timing=timing)
    meter_events = events(meter, client.send(Request()))
    assert meter_events == [Request()]
    assert meter.reaction_time == timing.reaction_min  # the identification itself: 200 ms
    assert one(client, meter.send(Identification("ABc", "5", "FAST"))).fast_reaction
    assert meter.reaction_time == client.reaction_time == timing.reaction_min_fast


def test_programming_session_password_read_write_partial_blocks_break():
    client, meter = pair()
    enter_programming(client, meter)
    p1 = Command("P", "1", DataSet.of("", "00000000"))
    assert one(meter, client.send(p1)) == p1
    assert meter.state is State.PASSWORD_DUE
    assert one(client, meter.send(Ack())) == Ack()
    assert client.authenticated and meter.authenticated

    r1 = Command("R", "1", DataSet.of("1.8.0", ""))
    assert one(meter, client.send(r1)) == r1 and meter.state is State.ANSWER_DUE
    answer = DataMessage.of([DataSet.of("1.8.0", Value("1.5", "kWh"))])
    assert one(client, meter.send(answer)) == answer
    assert client.state is State.PROG

    w1 = Command("W", "1", DataSet.of("0.9.1", "120000"))
    assert one(meter, client.send(w1)) == w1
    assert one(client, meter.send(Ack())) == Ack()

    r6 = Command("R", "6", DataSet.of("P.01", "1;2"))
    one(meter, client.send(r6))
    block1 = DataMessage.of([DataSet.of("P.01", "1")], partial=True)
    assert one(client, meter.send(block1)) == block1
    assert client.state is State.BLOCK_ACK_DUE and meter.state is State.AWAIT_BLOCK_ACK
    assert one(meter, client.send(Ack())) == Ack()
    assert meter.state is State.ANSWER_DUE
    last = DataMessage.of([DataSet.of("P.01", "2")])
    assert one(client, meter.send(last)) == last

    assert one(meter, client.send(BREAK)) == BREAK
    assert client.state is meter.state is State.IDLE
    assert not meter.authenticated and meter.baud == 300


def test_wrong_password_leaves_the_session_unauthenticated():
    client, meter = pair()
    enter_programming(client, meter)
    one(meter, client.send(Command("P", "1", DataSet.of("", "bad"))))
    assert one(client, meter.send(ErrorMessage("PASSWORD"))) == ErrorMessage("PASSWORD")
    assert client.state is meter.state is State.PROG
    assert not client.authenticated and not meter.authenticated


def test_bad_bcc_is_naked_and_repeated_until_the_limit():
    client, meter = pair(repeats=2)
    sign_on(client, meter)
    one(meter, client.send(OptionSelect("0", "5", "0")))
    good = meter.send(READOUT)
    bad = good[:-1] + bytes([good[-1] ^ 0x01])
    incident = one(client, bad)
    assert isinstance(incident, Corrupt) and incident.reply == Nak().encode()
    assert "BCC error" in incident.reason and not incident.gave_up
    repeat = one(meter, incident.reply)
    assert isinstance(repeat, RepeatRequested) and repeat.reply == good
    incident = one(client, bad)
    assert incident.reply == Nak().encode()
    incident = one(client, bad)
    # Giving up inside a session, the client aborts with a break (standards.md 6.6).
    assert (
        incident.gave_up
        and incident.reply == BREAK.encode()
        and "gave up after 2 repeat" in incident.reason
    )
    assert client.state is State.IDLE


def test_repeat_after_nak_then_success():
    client, meter = pair()
    sign_on(client, meter)
    one(meter, client.send(OptionSelect("0", "5", "0")))
    good = meter.send(READOUT)
    nak = one(client, good[:5] + b"X" + good[6:]).reply
    assert one(client, one(meter, nak).reply) == READOUT


def test_client_timeouts_nak_in_answers_and_resend_the_request():
    client, meter = pair(repeats=1)
    client.send(Request())
    assert client.wait()[1] == "the identification message"
    first = client.timeout()
    assert first.reply == Request().encode() and not first.gave_up
    assert client.timeout().gave_up
    client, meter = pair()
    enter_programming(client, meter)
    client.send(Command("R", "1", DataSet.of("1.8.0", "")))
    seconds, awaited = client.wait()
    assert awaited == "the answer to R1" and seconds == Timing().answer_timeout
    assert client.timeout().reply == Nak().encode()


def test_inter_character_timeout_discards_the_partial_frame():
    client, meter = pair()
    enter_programming(client, meter)
    partial = client.send(Command("W", "1", DataSet.of("0.9.1", "1")))[:5]
    assert events(meter, partial) == []
    assert meter.wait() == (
        Timing().inter_character,
        "the rest of a frame (inter-character time-out)",
    )
    incident = meter.timeout()
    assert incident.partial == partial and incident.reply == Nak().encode()
    assert meter.state is State.PROG


def test_meter_inactivity_timeout_returns_to_idle():
    timing = Timing(inactivity=60)
    client, meter = pair(timing=timing)
    enter_programming(client, meter)
    assert meter.wait() == (60, "a programming-mode command (inactivity time-out)")
    meter.timeout()
    assert meter.state is State.IDLE and meter.baud == 300


def test_idle_meter_ignores_everything_but_a_request():
    meter = Connection(Role.METER)
    for data in (
        Nak().encode(),
        BREAK.encode(),
        b"\x00\x00",
        Ack().encode(),
        READOUT.encode(),
        BREAK.encode()[:-1] + b"\x00",
    ):
        for ev in events(meter, data):
            assert isinstance(ev, Ignored), ev
            assert ev.reply == b"" and not ev.gave_up
        assert meter.state is State.IDLE and not meter.must_answer


def test_meter_declines_another_device_address():
    meter = Connection(Role.METER)
    assert one(meter, Request("99").encode()) == Request("99")
    meter.decline()
    assert meter.state is State.IDLE


def test_invalid_command_is_answered_not_naked():
    client, meter = pair()
    enter_programming(client, meter)
    protected = b"X1\x03"
    from meter.iec62056_21 import bcc

    incident = one(meter, b"\x01" + protected + bytes([bcc(protected)]))
    assert isinstance(incident, Invalid) and incident.reply == b""
    assert meter.state is State.ANSWER_DUE
    meter.send(ErrorMessage("INVALID"))
    assert meter.state is State.PROG


def test_unknown_command_kind_goes_to_answer_due():
    client, meter = pair()
    enter_programming(client, meter)
    one(meter, client.send(Command("W", "2", DataSet.of("1", "2"))))
    assert meter.state is State.ANSWER_DUE


def test_unexpected_messages_name_state_and_message():
    client = Connection(Role.CLIENT)
    with pytest.raises(UnexpectedMessage, match="client in state IDLE cannot send"):
        client.send(READOUT)
    client.send(Request())
    events(client, IDENT.encode())
    client.send(OptionSelect("0", "5", "1"))
    with pytest.raises(UnexpectedMessage, match="AWAIT_P0 cannot recv Readout"):
        events(client, READOUT.encode())
    meter = Connection(Role.METER)
    with pytest.raises(UnexpectedMessage, match="meter in state IDLE cannot send"):
        meter.send(READOUT)


def test_sign_on_again_abandons_the_session():
    client, meter = pair()
    enter_programming(client, meter)
    assert one(meter, client.send(Request())) == Request()
    assert meter.state is State.IDENT_DUE and not meter.authenticated


def test_option_select_for_unsupported_mode_returns_meter_to_idle():
    client, meter = pair()
    sign_on(client, meter)
    meter_events = events(meter, OptionSelect("2", "5", "2").encode())
    assert meter_events == [OptionSelect("2", "5", "2")]
    assert meter.state is State.IDLE


def test_break_and_a_new_sign_on_in_one_chunk():
    client, meter = pair()
    enter_programming(client, meter)
    data = client.send(BREAK) + client.send(Request())
    assert events(meter, data) == [BREAK, Request()]
    assert meter.state is State.IDENT_DUE


def test_table_rows_use_each_roles_own_states():
    from meter.iec62056_21.state import TRANSITIONS

    client_only = {
        State.AWAIT_IDENT,
        State.OPTION_DUE,
        State.AWAIT_READOUT,
        State.AWAIT_P0,
        State.AWAIT_ANSWER,
        State.BLOCK_ACK_DUE,
    }
    for (role, state, _direction, _kind), (target, _action) in TRANSITIONS.items():
        if role is Role.CLIENT:
            assert state in client_only | {State.IDLE, State.PROG}
            assert target in client_only | {State.IDLE, State.PROG}
        else:
            assert target not in client_only


def test_client_ignores_what_it_did_not_ask_for_before_its_identification():
    # Output of a session that ended (a late answer, a readout nobody read) may still reach a
    # client that signs on: before the identification it takes nothing else.
    client = Connection(Role.CLIENT)
    client.send(Request())
    stale = (
        DataMessage.of([DataSet.of("0.9.1", "120000")]).encode()
        + ErrorMessage("ERROR").encode()
        + Ack().encode()
        + Command("P", "0", DataSet.of("", "")).encode()
        + READOUT.encode()
    )
    got = events(client, stale + IDENT.encode())
    assert all(isinstance(ev, Ignored) for ev in got[:-1]) and len(got) == 6
    assert got[-1] == IDENT and client.state is State.OPTION_DUE


@pytest.mark.parametrize("mode", ["1", "0"])
def test_a_second_identification_is_discarded_after_the_option_select(mode):
    # The client repeated its request after its time-out; a slow meter answers both requests,
    # so the second identification comes after the option select (AWAIT_P0 / AWAIT_READOUT).
    client, meter = pair()
    client.send(Request())
    client.timeout()  # the time-out repeats the request
    for _ in range(2):
        assert one(meter, Request().encode()) == Request()
        second = meter.send(IDENT)
    assert one(client, second) == IDENT
    option = OptionSelect("0", "5", mode)
    assert one(meter, client.send(option)) == option
    assert isinstance(one(client, IDENT.encode()), Ignored)  # the stale identification
    if mode == "1":
        p0 = Command("P", "0", DataSet.of("", ""))
        assert one(client, meter.send(p0)) == p0 and client.state is State.PROG
    else:
        assert one(client, meter.send(READOUT)) == READOUT and client.state is State.IDLE


def test_a_client_giving_up_in_programming_mode_breaks_and_the_meter_goes_idle():
    client, meter = pair(repeats=1)
    enter_programming(client, meter)
    one(meter, client.send(Command("R", "1", DataSet.of("1.8.0", ""))))
    assert client.timeout().reply == Nak().encode()  # first: ask for a repeat
    gave_up = client.timeout()
    assert gave_up.gave_up and gave_up.reply == BREAK.encode()
    assert client.state is State.IDLE
    meter.send(DataMessage.of([DataSet.of("1.8.0", "1")]))  # the late answer went out
    assert one(meter, gave_up.reply) == BREAK and meter.state is State.IDLE


def test_idle_meter_drops_the_rest_of_an_ended_session_before_a_request():
    # A client left mid-frame (no ETX); the next client's request must not wait behind it for
    # the inter-character time-out.
    meter = Connection(Role.METER)
    partial = Command("R", "1", DataSet.of("1.8.0", "")).encode()[:6]
    got = events(meter, partial + Request().encode())
    assert isinstance(got[0], Ignored) and got[0].data == partial
    assert got[1:] == [Request()] and meter.state is State.IDENT_DUE


def test_an_answer_for_another_address_is_not_taken_for_the_r1_awaited():
    # A NAK crossing a late answer makes the meter send that answer twice; the copy must not
    # pass for the answer to the next R1. A meter answers `addr(value)` with the address asked
    # for (standards.md 6.3), in full or short form.
    client, meter = pair()
    enter_programming(client, meter)
    one(meter, client.send(Command("R", "1", DataSet.of("0.9.1", ""))))
    stale = DataMessage.of([DataSet.of("F.F.1", "00000001")])
    assert isinstance(one(client, stale.encode()), Ignored)
    assert client.state is State.AWAIT_ANSWER
    answer = DataMessage.of([DataSet.of("1-1:0.9.1", "120000")])
    assert one(client, meter.send(answer)) == answer and client.state is State.PROG
