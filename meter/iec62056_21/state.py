"""The IEC 62056-21 state machines of both sides, table driven (the h11 model).

ALL protocol state logic lives in this module, in the table TRANSITIONS: for a role, a state,
a direction and an event kind it gives the next state and an action. `Connection` is the
only object that reads the table:

    conn = Connection(Role.CLIENT, timing)
    port.write(conn.send(Request()))             # events in, bytes out
    conn.receive_data(port.read(...))
    event = conn.next_event()                    # a message, an Incident, or NEED_DATA
    seconds, awaited = conn.wait()               # the timer the wrapper must run now
    incident = conn.timeout()                    # when that timer expired

Incidents tell the wrapper what the standard wants done about a broken or missing frame:
`reply` holds the bytes to send (NAK, or the last message again), `gave_up` says the repeat
count (standards.md 6.6 [L], default 3) is spent and the session has returned to IDLE (a
client that gives up inside a session then sends the break in `reply`). A client ignores what
it did not ask for: anything but an identification before its sign-on is answered, and an
identification after (stale output of an earlier session, the answer to a repeated request).

Covered: mode C sign-on, identification, option select (readout / programming, with the
baud character), readout (modes A and B: readout straight after the identification, mode B
after a speed change), programming mode with P0 from the meter and P1/P2 from the client,
R1/R5/R6, W1, E2 and any other command (the meter answers those with an error message),
partial blocks (EOT, acknowledged with ACK), break B0, NAK/repeat and time-outs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from .errors import (
    BccError,
    MissingEtx,
    ProtocolError,
    TrailingData,
    UnexpectedMessage,
)
from .framing import NEED_DATA, FrameSplitter, Garbage, NeedData
from .messages import (
    BREAK,
    MODE_B_BAUD,
    SOH,
    START_BAUD,
    STX,
    Ack,
    Command,
    DataMessage,
    ErrorMessage,
    Identification,
    Message,
    Nak,
    OptionSelect,
    Readout,
    Request,
    decode,
)
from .timing import Timing


class Role(Enum):
    CLIENT = "client"  # the hand-held unit (HHU) / rig
    METER = "meter"  # the tariff device

    # Members are singletons compared by identity: hashing by identity (in C) gives the same
    # table lookups as Enum's hash of the name (a Python call per lookup, at every event).
    __hash__ = object.__hash__


class State(Enum):
    IDLE = "IDLE"
    # client
    AWAIT_IDENT = "AWAIT_IDENT"
    OPTION_DUE = "OPTION_DUE"
    AWAIT_READOUT = "AWAIT_READOUT"
    AWAIT_P0 = "AWAIT_P0"
    AWAIT_ANSWER = "AWAIT_ANSWER"
    BLOCK_ACK_DUE = "BLOCK_ACK_DUE"
    # meter
    IDENT_DUE = "IDENT_DUE"
    AWAIT_OPTION = "AWAIT_OPTION"
    READOUT_DUE = "READOUT_DUE"
    READOUT_SENT = "READOUT_SENT"
    P0_DUE = "P0_DUE"
    PASSWORD_DUE = "PASSWORD_DUE"
    ANSWER_DUE = "ANSWER_DUE"
    AWAIT_BLOCK_ACK = "AWAIT_BLOCK_ACK"
    # both
    PROG = "PROG"  # programming mode, between commands

    __hash__ = object.__hash__  # as Role's


SEND = "send"
RECV = "recv"
LOCAL = "local"  # time-outs and the meter's decision not to answer

REQUEST_START = ord("/")  # the first character of a request (and of an identification)
# Commands given a row of their own; every other command is kind "command".
KNOWN_COMMANDS = ("P0", "P1", "P2", "B0", "R1", "R5", "R6", "W1", "E2")


def kind_of(message: Message) -> str:
    """The event kind the table is keyed by."""
    kind = _KIND_OF_TYPE.get(type(message))
    if kind is not None:  # one dict look-up for the messages whose type is their kind
        return kind
    # The commonest two first (a command, its answer).
    if isinstance(message, Command):
        return message.name if message.name in KNOWN_COMMANDS else "command"
    if isinstance(message, DataMessage):
        return "data.partial" if message.partial else "data"
    if isinstance(message, Identification):
        return "ident.C" if message.mode == "C" else "ident.AB"
    if isinstance(message, OptionSelect):
        return {"0": "option.readout", "1": "option.programming"}.get(message.mode, "option.other")
    for cls, kind in _KIND_OF_TYPE.items():  # a subclass of one of those
        if isinstance(message, cls):
            return kind
    raise TypeError(f"not an IEC 62056-21 message: {message!r}")


_KIND_OF_TYPE: dict[type, str] = {
    Request: "request", Readout: "readout", ErrorMessage: "error", Ack: "ack", Nak: "nak"
}


# Actions: None (just change state), "ident" (note fast reaction; mode B speed), "baud"
# (option select speed), "nak" (ask for a repeat), "repeat" (send the last message again),
# "password" / "answer" / "auth" (password bookkeeping), "fail" (give up), "ignore".
S = State
C, M = Role.CLIENT, Role.METER
_ANSWER_KINDS = ("P1", "P2", "R1", "R5", "R6", "W1", "E2", "command")  # client commands
_CLIENT_STATES = (
    S.IDLE, S.AWAIT_IDENT, S.OPTION_DUE, S.AWAIT_READOUT, S.AWAIT_P0, S.PROG, S.AWAIT_ANSWER,
    S.BLOCK_ACK_DUE,
)  # fmt: skip
_CLIENT_WAITING = (S.AWAIT_READOUT, S.AWAIT_P0, S.AWAIT_ANSWER)
# Every kind of message `kind_of` can give (the row of a state may name any of them).
_MESSAGE_KINDS = frozenset({
    "request", "ident.C", "ident.AB", "option.readout", "option.programming", "option.other",
    "readout", "command", "data", "data.partial", "error", "ack", "nak", *KNOWN_COMMANDS,
})  # fmt: skip

TRANSITIONS: dict[tuple[Role, State, str, str], tuple[State, str | None]] = {}


def _row(
    role: Role,
    states: tuple[State, ...] | State,
    direction: str,
    kinds: tuple[str, ...] | str,
    target: State | None,
    action: str | None = None,
) -> None:
    """Add rows; target None = stay in the same state."""
    for state in states if isinstance(states, tuple) else (states,):
        for kind in kinds if isinstance(kinds, tuple) else (kinds,):
            TRANSITIONS[(role, state, direction, kind)] = (target or state, action)


# ---- client (HHU) -------------------------------------------------------------------------
_row(C, S.IDLE, SEND, "request", S.AWAIT_IDENT)
_row(C, S.AWAIT_IDENT, RECV, "ident.C", S.OPTION_DUE, "ident")
_row(C, S.AWAIT_IDENT, RECV, "ident.AB", S.AWAIT_READOUT, "ident")
_row(C, S.AWAIT_IDENT, LOCAL, ("timeout", "timeout.partial"), None, "repeat")  # sign on again
_row(C, S.AWAIT_IDENT, RECV, ("corrupt", "invalid"), S.IDLE, "fail")  # no BCC: nothing to NAK
_row(C, S.OPTION_DUE, SEND, "option.readout", S.AWAIT_READOUT, "baud")
_row(C, S.OPTION_DUE, SEND, "option.programming", S.AWAIT_P0, "baud")
_row(C, S.OPTION_DUE, SEND, "request", S.AWAIT_IDENT)
_row(C, S.AWAIT_READOUT, RECV, "readout", S.IDLE)
_row(C, S.AWAIT_READOUT, RECV, "error", S.IDLE)
_row(C, S.AWAIT_P0, RECV, "P0", S.PROG)
_row(C, S.AWAIT_P0, RECV, "error", S.IDLE)
_row(C, _CLIENT_WAITING, RECV, "corrupt", None, "nak")
_row(C, _CLIENT_WAITING, LOCAL, ("timeout", "timeout.partial"), None, "nak")
_row(C, _CLIENT_WAITING, RECV, "invalid", S.IDLE, "fail")
_row(C, S.PROG, SEND, ("P1", "P2"), S.AWAIT_ANSWER, "password")
_row(C, S.PROG, SEND, _ANSWER_KINDS[2:], S.AWAIT_ANSWER)
_row(C, (S.PROG, S.BLOCK_ACK_DUE), SEND, "B0", S.IDLE)
_row(C, S.AWAIT_ANSWER, RECV, "ack", S.PROG, "answer")
_row(C, S.AWAIT_ANSWER, RECV, ("data", "error"), S.PROG, "answer")
_row(C, S.AWAIT_ANSWER, RECV, "data.partial", S.BLOCK_ACK_DUE)
_row(C, S.AWAIT_ANSWER, RECV, "nak", None, "repeat")
_row(C, S.AWAIT_ANSWER, RECV, "B0", S.IDLE)  # the meter signed off (e.g. password refused)
_row(C, S.BLOCK_ACK_DUE, SEND, "ack", S.AWAIT_ANSWER)
_row(C, _CLIENT_STATES, RECV, "garbage", None, "ignore")  # noise between frames
# Stale output a client did not ask for: a meter answers each request it got, so a request
# repeated after a late identification is answered twice, and a session that ended (a client
# that gave up, then a new sign-on) may leave answers on their way. Before its identification
# a client takes nothing else; after it, no second identification (a head-end discards both).
_row(C, S.AWAIT_IDENT, RECV, tuple(sorted(_MESSAGE_KINDS - {"ident.C", "ident.AB"})), None,
     "ignore")
_row(C, _CLIENT_WAITING, RECV, ("ident.C", "ident.AB"), None, "ignore")
# Signing on again is allowed at any point; it abandons the current session.
_row(C, tuple(s for s in _CLIENT_STATES if s is not S.IDLE), SEND, "request", S.AWAIT_IDENT)

# ---- meter (tariff device) ----------------------------------------------------------------
_row(M, S.IDLE, RECV, "*", None, "ignore")  # only a sign-on wakes an idle meter
_row(M, S.IDLE, RECV, ("corrupt", "invalid", "garbage"), None, "ignore")
_row(M, S.IDLE, LOCAL, ("timeout", "timeout.partial"), None, "ignore")
_row(M, tuple(S), RECV, "request", S.IDENT_DUE)
_row(M, S.IDENT_DUE, SEND, "ident.C", S.AWAIT_OPTION, "ident")
_row(M, S.IDENT_DUE, SEND, "ident.AB", S.READOUT_DUE, "ident")
_row(M, S.IDENT_DUE, LOCAL, "decline", S.IDLE)  # request for another device address
# The answer owed was dropped (the client spoke first): the session ends without it.
_row(M, (S.IDENT_DUE, S.READOUT_DUE, S.P0_DUE, S.PASSWORD_DUE, S.ANSWER_DUE), LOCAL, "abandon",
     S.IDLE)
_row(M, S.AWAIT_OPTION, RECV, "option.readout", S.READOUT_DUE, "baud")
_row(M, S.AWAIT_OPTION, RECV, "option.programming", S.P0_DUE, "baud")
_row(M, S.AWAIT_OPTION, RECV, ("*", "corrupt", "invalid"), S.IDLE)
_row(M, S.AWAIT_OPTION, RECV, "garbage", None, "ignore")
_row(M, S.READOUT_DUE, SEND, "readout", S.READOUT_SENT)
_row(M, S.READOUT_DUE, SEND, "error", S.IDLE)
_row(M, S.READOUT_SENT, RECV, "nak", None, "repeat")
_row(M, S.READOUT_SENT, RECV, ("*", "corrupt", "invalid"), S.IDLE)
_row(M, S.READOUT_SENT, RECV, "garbage", None, "ignore")
_row(M, S.P0_DUE, SEND, "P0", S.PROG)
_row(M, S.P0_DUE, SEND, "error", S.IDLE)
_row(M, S.PROG, RECV, ("P1", "P2"), S.PASSWORD_DUE)
# Anything else in programming mode, and intact but invalid frames: an error message is due.
_row(M, (S.PROG, S.AWAIT_BLOCK_ACK), RECV, ("*", "invalid"), S.ANSWER_DUE)
_row(M, S.PROG, RECV, _ANSWER_KINDS[2:], S.ANSWER_DUE)
_row(M, (S.PROG, S.AWAIT_BLOCK_ACK), RECV, "B0", S.IDLE)
_row(M, (S.PROG, S.AWAIT_BLOCK_ACK), RECV, "nak", None, "repeat")
_row(M, (S.PROG, S.AWAIT_BLOCK_ACK), RECV, "corrupt", None, "nak")
_row(M, (S.PROG, S.AWAIT_BLOCK_ACK), LOCAL, "timeout.partial", None, "nak")
_row(M, (S.PROG, S.AWAIT_BLOCK_ACK), RECV, "garbage", None, "ignore")
_row(M, S.PROG, RECV, "ack", None, "ignore")
_row(M, S.AWAIT_BLOCK_ACK, RECV, "ack", S.ANSWER_DUE)
_row(M, S.PASSWORD_DUE, SEND, "ack", S.PROG, "auth")
_row(M, S.PASSWORD_DUE, SEND, ("error", "nak"), S.PROG)
_row(M, S.PASSWORD_DUE, SEND, "B0", S.IDLE)
_row(M, S.ANSWER_DUE, SEND, ("ack", "data", "error"), S.PROG)
_row(M, S.ANSWER_DUE, SEND, "data.partial", S.AWAIT_BLOCK_ACK)
_row(M, S.ANSWER_DUE, SEND, "B0", S.IDLE)
# Time-outs: option select not given, no NAK after a readout, programming-mode inactivity.
_row(M, (S.AWAIT_OPTION, S.READOUT_SENT, S.PROG, S.AWAIT_BLOCK_ACK), LOCAL, "timeout", S.IDLE)
_row(M, (S.AWAIT_OPTION, S.READOUT_SENT), LOCAL, "timeout.partial", S.IDLE)

# States in which the meter owes an answer (the server acts), and what a client waits for.
METER_MUST_ANSWER = frozenset({S.IDENT_DUE, S.READOUT_DUE, S.P0_DUE, S.PASSWORD_DUE, S.ANSWER_DUE})
_AWAITED = {
    S.AWAIT_IDENT: "the identification message",
    S.AWAIT_READOUT: "the data readout",
    S.AWAIT_P0: "the P0 command that opens programming mode",
}


# ---- events the connection produces besides messages ----------------------------------------
def _short(address: str) -> str:
    """An address without its medium and channel (`1-1:1.8.0` -> `1.8.0`), for comparing."""
    return address.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class Incident:
    """Something went wrong on the line; `reply` is what to send, `gave_up` ends the session."""

    reason: str
    reply: bytes = b""
    gave_up: bool = False
    error: ProtocolError | None = None


@dataclass(frozen=True)
class Corrupt(Incident):
    """A frame failed its BCC or framing (a transmission error: the standard's NAK case)."""


@dataclass(frozen=True)
class Invalid(Incident):
    """A frame arrived intact (BCC good) but its content breaks the standard."""


@dataclass(frozen=True)
class RepeatRequested(Incident):
    """The peer sent NAK; `reply` is our last message again."""


@dataclass(frozen=True)
class TimedOut(Incident):
    """The timer from `wait()` expired; `partial` is the unfinished frame discarded."""

    awaited: str = ""
    seconds: float = 0.0
    partial: bytes = b""


@dataclass(frozen=True)
class Ignored(Incident):
    """Input the current state disregards (noise, traffic for other meters)."""

    data: bytes = b""


# Python 3.11's EnumType has a __getattr__, which makes every `State.X` / `Role.X` a slow
# look-up (timeit, idle machine: 0.16 us against 0.008 us for a global): the code that runs
# for every message, here and in the client, server and session modules, compares with these
# globals instead (one set, here).
CLIENT, METER = Role.CLIENT, Role.METER
IDLE, PROG, AWAIT_ANSWER, AWAIT_OPTION, READOUT_SENT = (
    S.IDLE, S.PROG, S.AWAIT_ANSWER, S.AWAIT_OPTION, S.READOUT_SENT)
IDENT_DUE, READOUT_DUE, P0_DUE, PASSWORD_DUE, ANSWER_DUE = (  # what a meter owes
    S.IDENT_DUE, S.READOUT_DUE, S.P0_DUE, S.PASSWORD_DUE, S.ANSWER_DUE)
PROGRAMMING_STATES = frozenset((S.PROG, S.AWAIT_BLOCK_ACK))  # between a meter's commands

Event = Message | Incident
_TRANSMISSION_ERRORS = (BccError, MissingEtx, TrailingData)


@dataclass
class Connection:
    """One side of an IEC 62056-21 link; pure state, no I/O and no clock."""

    role: Role
    timing: Timing = field(default_factory=Timing)
    repeats: int = 3  # NAK/repeat attempts before giving up: 3 in most implementations (6.6 [L])
    start_baud: int = START_BAUD
    max_frame: int = 1 << 20

    def __post_init__(self) -> None:
        if self.repeats < 0:
            raise ValueError(f"repeats must be >= 0, got {self.repeats}")
        self.state = IDLE
        self.baud = self.start_baud
        self.fast_reaction = False
        self.authenticated = False
        self.identification: Identification | None = None
        self.last_received: Message | None = None
        self._splitter = FrameSplitter(self.max_frame)
        self._last_sent = b""
        self._last_command = ""
        self._read_address = ""  # the address of the R1 awaited
        self._repeats_used = 0
        self._password_pending = False

    # ---- queries ----
    @property
    def reaction_time(self) -> float:
        """Minimum pause before this side answers (standards.md 6.6)."""
        return self.timing.reaction_min_fast if self.fast_reaction else self.timing.reaction_min

    @property
    def must_answer(self) -> bool:
        """Meter: the state owes an answer (identification, readout, P0, ACK/data/error)."""
        return self.role is METER and self.state in METER_MUST_ANSWER

    @property
    def pending(self) -> bytes:
        return self._splitter.pending

    @property
    def pending_count(self) -> int:
        """len(pending), without copying the bytes (the server asks at every event)."""
        return self._splitter.pending_count

    def wait(self) -> tuple[float, str] | None:
        """The timer to run while waiting for input: (seconds, what is awaited), or None."""
        t = self.timing
        if self._splitter.pending_count:
            return t.inter_character, "the rest of a frame (inter-character time-out)"
        if self.role is CLIENT:
            if self.state in _AWAITED:
                return t.answer_timeout, _AWAITED[self.state]
            if self.state is AWAIT_ANSWER:
                return t.answer_timeout, f"the answer to {self._last_command}"
            return None
        if self.state is AWAIT_OPTION:
            return t.option_select_wait, "the option select"
        if self.state is READOUT_SENT:
            return t.answer_timeout, "a repeat request after the readout"
        if self.state in PROGRAMMING_STATES:
            return t.inactivity, "a programming-mode command (inactivity time-out)"
        return None

    # ---- events in ----
    def send(self, message: Message) -> bytes:
        """Validate `message` against the table, apply the transition, return its bytes."""
        kind = kind_of(message)
        target, action = self._lookup(SEND, kind, message)
        data = message.encode()
        self._enter(target)
        if not isinstance(message, Nak):
            self._last_sent = data
            self._repeats_used = 0
        if isinstance(message, Command):
            self._last_command = message.name
            self._read_address = (
                message.data.address if message.name == "R1" and message.data is not None else ""
            )
        self._apply(action, message)
        return data

    def decline(self) -> None:
        """Meter: stay silent (the request named another device address)."""
        target, _ = self._lookup(LOCAL, "decline", "decline")
        self._enter(target)

    def abandon(self) -> None:
        """Meter: give up the answer owed (it was not sent); back to idle."""
        target, _ = self._lookup(LOCAL, "abandon", "abandon")
        self._enter(target)

    def receive_data(self, data: bytes) -> None:
        self._splitter.feed(data)

    def next_event(self) -> Event | NeedData:
        if self.role is METER and self.state is IDLE:
            # An idle meter waits for a request (standards.md 6.3: `/?...!`); what comes before
            # one is the rest of a session that ended (its partial frame would otherwise hold
            # a following request until the inter-character time-out).
            dropped = self._splitter.skip_to(REQUEST_START)
            if dropped:
                return Ignored("meter in IDLE ignores all but a request", data=dropped)
        frame = self._splitter.next_frame(
            option_select_expected=self.role is METER and self.state is AWAIT_OPTION
        )
        if frame is NEED_DATA:  # the one NeedData there is
            return NEED_DATA
        if type(frame) is Garbage:
            if frame.reason.startswith("frame cut short"):
                error = MissingEtx(frame.data, frame.reason)
                return self._incident(Corrupt, "corrupt", str(error), error=error)
            return self._incident(Ignored, "garbage", frame.reason, data=frame.data)
        try:
            message = decode(frame)
        except ProtocolError as error:
            # A frame whose BCC checked out but whose content breaks the rules is invalid
            # (answered with an error message); anything else is a transmission error (NAK).
            intact = (
                frame[0] in (SOH, STX)
                and not isinstance(error, _TRANSMISSION_ERRORS)
                and all(b < 0x80 for b in frame)
            )
            if intact:
                return self._incident(Invalid, "invalid", str(error), error=error)
            return self._incident(Corrupt, "corrupt", str(error), error=error)
        return self._receive(message)

    def timeout(self) -> Incident:
        """The timer given by `wait()` expired without the awaited input."""
        awaited = self.wait()
        partial = self._splitter.discard()
        seconds, what = awaited if awaited else (0.0, "nothing")
        kind = "timeout.partial" if partial else "timeout"
        return self._incident(
            TimedOut,
            kind,
            f"timed out waiting for {what}",
            awaited=what,
            seconds=seconds,
            partial=partial,
        )

    # ---- internals ----
    def _receive(self, message: Message) -> Event:
        kind = kind_of(message)
        target, action = self._lookup(RECV, kind, message)
        if action == "repeat":
            return self._incident(RepeatRequested, "nak", "the peer asked for a repeat (NAK)")
        if action == "ignore":
            return Ignored(
                f"{self.role.value} in {self.state.value} ignores {kind}", data=message.encode()
            )
        if self._answers_another_read(message):
            return Ignored(
                f"client awaiting R1 {self._read_address} ignores an answer for another address"
                " (stale: an earlier answer sent again)", data=message.encode()
            )
        self.last_received = message
        self._repeats_used = 0
        self._enter(target)
        self._apply(action, message)
        return message

    def _answers_another_read(self, message: Message) -> bool:
        """Client: `message` is data for an address other than the R1 awaited. A meter answers
        R1 with the address asked for (standards.md 6.3: `addr(value)`), in full or short form;
        data for another one is an answer of an earlier command that came twice (a NAK crossing
        the late answer it asked for)."""
        if self.role is not CLIENT or self.state is not AWAIT_ANSWER:
            return False
        if not (self._read_address and isinstance(message, DataMessage) and message.lines):
            return False
        answered = message.lines[0][0].address  # the first data set's
        return bool(answered) and _short(answered) != _short(self._read_address)

    def _incident(self, cls: type[Incident], kind: str, reason: str, **extra: object) -> Incident:
        """Look up what the state does about a broken/missing frame or a NAK, and do it."""
        key = (
            self.role,
            self.state,
            RECV if kind not in ("timeout", "timeout.partial") else LOCAL,
            kind,
        )
        target, action = TRANSITIONS.get(key, (None, None))
        if target is None:
            wildcard = TRANSITIONS.get((self.role, self.state, key[2], "*"))
            if wildcard:
                target, action = wildcard
            else:  # no row: noise is ignored, anything else ends the session
                target, action = self.state, ("ignore" if kind == "garbage" else "fail")
        reply = b""
        gave_up = False
        if action in ("nak", "repeat"):
            if self._repeats_used >= self.repeats:
                gave_up = True
                reason += f"; gave up after {self.repeats} repeat(s)"
                target = State.IDLE
            else:
                self._repeats_used += 1
                reply = Nak().encode() if action == "nak" else self._last_sent
        elif action == "fail":
            gave_up = True
            target = State.IDLE
        if gave_up and self.role is Role.CLIENT and self.state in _CLIENT_WAITING:
            # standards.md 6.6: after its failed repeats the HHU aborts with a break, so a meter
            # still in the session (a late answer, a lost frame) returns to idle now rather than
            # at its time-out, and answers nothing more of it.
            reply = BREAK.encode()
        if action == "ignore":
            return Ignored(f"{self.role.value} in {self.state.value} ignores: {reason}")
        self._enter(target)
        return cls(reason, reply=reply, gave_up=gave_up, **extra)  # type: ignore[arg-type]

    def _lookup(self, direction: str, kind: str, message: object) -> tuple[State, str | None]:
        row = TRANSITIONS.get((self.role, self.state, direction, kind))
        if row is None and direction == RECV:
            row = TRANSITIONS.get((self.role, self.state, direction, "*"))
        if row is None:
            raise UnexpectedMessage(self.role.value, self.state.value, direction, message)
        return row

    def _enter(self, target: State) -> None:
        self.state = target
        if target is IDLE:
            self.baud = self.start_baud
            self.fast_reaction = False
            self.authenticated = False
            self._password_pending = False
            self.identification = None

    def _apply(self, action: str | None, message: Message) -> None:
        if action == "ident":
            assert isinstance(message, Identification)
            self.identification = message
            self.fast_reaction = message.fast_reaction
            if message.mode == "B":  # mode B: both change speed right after the identification
                self.baud = MODE_B_BAUD.get(message.baud, self.start_baud)
        elif action == "baud":
            assert isinstance(message, OptionSelect)
            self.baud = message.baud_rate or self.start_baud
        elif action == "password":
            self._password_pending = True
        elif action == "answer":
            if self._password_pending and isinstance(message, Ack):
                self.authenticated = True
            self._password_pending = False
        elif action == "auth":
            self.authenticated = True
