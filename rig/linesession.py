"""Reads and programming writes of one meter in one IEC 62056-21 session.

A sign-on costs the line more than a read (the request, the identification, the option select
and its P0 answer, the break: IEC 62056-21 mode C), so reads and writes of the same moment go
in one session: R1 needs no password, W1 the P1 password (A1000 manual 2.2.1), which is sent
once the reads before it are done. The meter must be in its programming state for the writes
(rig.session.RigSession.programming), as for MeterLink.write.
"""

from __future__ import annotations

from collections.abc import Sequence

from meter.iec62056_21 import MeterError
from meter.iec62056_21.readings import Reading
from rig.meterlink import MeterLink, MeterReadError


def read_write_read(link: MeterLink, read: Sequence[str] = (),
                    write: Sequence[tuple[str, Sequence[str]]] = (),
                    then_read: Sequence[str] = ()) -> dict[str, Reading]:
    """R1 of `read`, then (after P1) W1 of each (address, values) of `write`, then R1 of
    `then_read`, in one session of `link`; every reading by address."""
    with link.session() as client:
        out = link.read_in(client, read)
        if write:
            try:
                client.password(link.password)
            except MeterError as exc:
                raise MeterReadError(f"position {link.number}: P1: {exc}") from exc
        for address, values in write:
            try:
                client.write(address, list(values))
            except MeterError as exc:
                raise MeterReadError(f"position {link.number}: W1 {address}: {exc}") from exc
        out.update(link.read_in(client, then_read))
        return out
