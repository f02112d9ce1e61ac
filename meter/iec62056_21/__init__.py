"""IEC 62056-21 (ex IEC 1107) direct local data exchange: one strict codec for both sides.

Layering (imports point down only):

1. Codec (sans-IO, pure): `datasets` (data sets and their field limits), `obiscode`
   (ObisCode, full and reduced forms), `messages` (every message as a frozen dataclass with
   encode/decode, BCC), `framing` (streaming frame splitter). No I/O, no clock, no sleeps.
2. State machines (sans-IO): `state` holds ALL protocol state logic in one table for both
   roles (client/HHU and meter), h11 style: messages and time-outs in, bytes and incidents
   out. `timing` holds the standard's time limits as data.
3. Wrappers (I/O): `client.Client` drives a pyserial port (serial device, pty, socket://,
   rfc2217://, loop://); `server.MeterServer` serves RegisterBanks (`bank`) on a pty or a
   TCP port in a background thread. They enforce the timing; the state machines decide.
"""

from .bank import RegisterBank, RegisterError
from .client import Client
from .datasets import DataSet, Value
from .errors import (
    BccError,
    ConnectionLost,
    FieldTooLong,
    FramingError,
    IllegalCharacter,
    InvalidObis,
    MeterError,
    MissingEtx,
    PasswordRefused,
    ProtocolError,
    ProtocolTimeout,
    RepeatLimitExceeded,
    TrailingData,
    UnexpectedMessage,
)
from .messages import (
    BREAK,
    Ack,
    Command,
    DataMessage,
    ErrorMessage,
    Identification,
    Nak,
    OptionSelect,
    Readout,
    Request,
    bcc,
    decode,
)
from .obiscode import ObisCode
from .readings import Reading
from .server import MeterServer, serve_pty, serve_tcp
from .state import Connection, Role, State
from .timing import Timing

__all__ = [
    "BREAK",
    "Ack",
    "BccError",
    "Client",
    "Command",
    "Connection",
    "ConnectionLost",
    "DataMessage",
    "DataSet",
    "ErrorMessage",
    "FieldTooLong",
    "FramingError",
    "Identification",
    "IllegalCharacter",
    "InvalidObis",
    "MeterError",
    "MeterServer",
    "MissingEtx",
    "Nak",
    "ObisCode",
    "OptionSelect",
    "PasswordRefused",
    "ProtocolError",
    "ProtocolTimeout",
    "Reading",
    "Readout",
    "RegisterBank",
    "RegisterError",
    "RepeatLimitExceeded",
    "Request",
    "Role",
    "State",
    "Timing",
    "TrailingData",
    "UnexpectedMessage",
    "Value",
    "bcc",
    "decode",
    "serve_pty",
    "serve_tcp",
]
