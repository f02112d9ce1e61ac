"""Reads and programming writes of one meter in one IEC 62056-21 session, and reads that take
what the meter's data readout carries from one readout.

A sign-on costs the line more than a read (the request, the identification, the option select
and its P0 answer, the break: IEC 62056-21 mode C), so reads and writes of the same moment go
in one session: R1 needs no password, W1 the P1 password (A1000 manual 2.2.1), which is sent
once the reads before it are done. The meter must be in its programming state for the writes
(rig.session.RigSession.programming), as for MeterLink.write.

The data readout (mode C option select '0', standards.md 6.2: `ACK 0 5 0` = readout at
9600 Bd) is one message of every data set on the meter's readout list: on the A1000 the energy
registers of Appendix A (1.8.0-4, 2.8.0-4, 5.8.0-4 .. 8.8.0-4, 30 of them) among others. One
readout session replaces an R1 exchange for each of those, where many are read at once. Which
addresses a readout carries differs from meter to meter and with its configuration (the list
above is the A1000's; the readout samples in standards.md's sources carry others), so a read by
readout takes from it only the addresses it does carry and reads the others by R1
(`readout_part`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


def readout_part(link: MeterLink, read: Sequence[str]) -> dict[str, Reading]:
    """The readings of the addresses of `read` that `link`'s meter carries in its data readout
    (one readout session); the others are not in the result: they are for R1."""
    carried = link.readout()
    return {address: carried[address] for address in read if address in carried}


def not_in(part: Mapping[str, Reading], read: Sequence[str]) -> list[str]:
    """The addresses of `read` that `part` (a `readout_part`) does not hold, in order."""
    return [address for address in read if address not in part]


def in_order(read: Sequence[str], *parts: Mapping[str, Reading]) -> dict[str, Reading]:
    """Every address of `read`, in that order, with its reading from whichever part holds it."""
    merged: dict[str, Reading] = {}
    for part in parts:
        merged.update(part)
    return {address: merged[address] for address in read}


def read_by_readout(link: MeterLink, read: Sequence[str]) -> dict[str, Reading]:
    """Every address of `read`: what the data readout carries from one readout, the rest by R1
    in one session (none when the readout carries them all)."""
    part = readout_part(link, read)
    rest = not_in(part, read)
    return in_order(read, part, link.read(*rest) if rest else {})
