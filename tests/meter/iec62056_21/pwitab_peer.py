"""An outside IEC 62056-21 client reading our meter: pwitab's `iec62056-21` 0.0.2 (PyPI,
BSD-3-Clause, a dev extra), used by the peer test beside this file and by
benchmarks/bench_iec62056_21.py.

Its protocol code (request, identification parsing, option select, block reads with BCC
checks, R1/P1/B0 messages) is used as it is. Two faults of 0.0.2 are worked around with its
own classes:
- `SerialTransport.switch_baudrate` sleeps 0.5 s and then opens the port a second time;
  pyserial's open empties the input buffer, so an answer the meter sent in the meantime is lost
  and the read times out. A meter answers the option select after tr, 200..1500 ms
  (standards.md 6.6), so a meter at 200 ms is never read. Here the open port changes its
  speed, as a serial line does.
- `send_password` builds `DataSet(value=...)` without the `address` its own DataSet needs and
  a command type "1" its CommandMessage refuses (it accepts ints): a TypeError before anything
  is sent. Here P1 is `CommandMessage("P", 1, DataSet("", password))`, which encodes as
  `SOH P1 STX (password) ETX BCC`.
"""

from __future__ import annotations

from typing import Any

from iec62056_21 import constants, messages, transports
from iec62056_21.client import Iec6205621Client


class _SerialPort(transports.SerialTransport):  # type: ignore[misc]
    def switch_baudrate(self, baud: int) -> None:
        self.port.baudrate = baud


class OutsidePeer:
    """One pwitab client session to a served meter: `url` is a pty path or socket://host:port."""

    def __init__(self, url: str, device_address: str = "", timeout: float = 10.0) -> None:
        if url.startswith("socket://"):
            host, port = url.removeprefix("socket://").rsplit(":", 1)
            transport: Any = transports.TcpTransport((host, int(port)), timeout=timeout)
        else:
            transport = _SerialPort(url, timeout=timeout)
        self.client = Iec6205621Client(transport, device_address=device_address)
        self.client.connect()

    def readout(self) -> list[messages.DataSet]:
        """Sign-on with option select 0: the data readout's data sets."""
        return list(self.client.standard_readout().data)

    def program(self, password: str) -> str:
        """Sign-on with option select 1, P0 taken, P1 sent: the meter's answer (ACK or an
        error message's text)."""
        challenge = self.client.access_programming_mode()
        if challenge.command != "P" or challenge.command_type != 0:
            raise AssertionError(f"expected P0 after option select 1, got {challenge!r}")
        p1 = messages.CommandMessage("P", 1, messages.DataSet("", password))
        self.client.transport.send(p1.to_bytes())
        first = self.client.transport.recv(1).decode(constants.ENCODING)
        if first == constants.ACK:
            return first
        rest = self.client.transport.simple_read(start_char="(", end_char=")")
        return str(rest.decode(constants.ENCODING))

    def read(self, address: str) -> messages.DataSet:
        """R1 of `address` in the programming session."""
        return self.client.read_single_value(address)

    def close(self) -> None:
        self.client.send_break()
        self.client.disconnect()

    def __enter__(self) -> OutsidePeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
