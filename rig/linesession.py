"""Reads and programming writes of one meter in one IEC 62056-21 session, and reads that take
what the meter's data readout carries from one readout.

A sign-on costs the line more than a read (the request, the identification, the option select
and its P0 answer, the break: IEC 62056-21 mode C), so reads and writes of the same moment go
in one session: R1 needs no password, W1 the P1 password (A1000 manual 2.2.1), which is sent
once the reads before it are done. The meter must be in its programming state for the writes
(rig.session.RigSession.programming), as for MeterLink.write. A series of such steps (a clock
set, the tariff read, again) keeps one session a meter open across the series
(`ProgrammingSessions`).

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

from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import ExitStack, suppress

from meter.iec62056_21 import Client, MeterError
from meter.iec62056_21.readings import Reading
from rig.meterlink import MeterLink, MeterReadError, each


def read_write_read(link: MeterLink, read: Sequence[str] = (),
                    write: Sequence[tuple[str, Sequence[str]]] = (),
                    then_read: Sequence[str] = ()) -> dict[str, Reading]:
    """R1 of `read`, then (after P1) W1 of each (address, values) of `write`, then R1 of
    `then_read`, in one session of `link`; every reading by address."""
    with link.session() as client:
        out = link.read_in(client, read)
        if write:
            _password(link, client)
        out.update(_write_read(link, client, write, then_read))
        return out


def _password(link: MeterLink, client: Client) -> None:
    try:
        client.password(link.password)
    except MeterError as exc:
        raise MeterReadError(f"position {link.number}: P1: {exc}") from exc


def _write_read(link: MeterLink, client: Client, write: Sequence[tuple[str, Sequence[str]]],
                then_read: Sequence[str]) -> dict[str, Reading]:
    """W1 of each (address, values) of `write`, then R1 of `then_read`, in `client`'s session
    (the password given); none once a stop was requested (rig.meterlink)."""
    for address, values in write:
        if link.stop is not None:
            link.stop.check()
        try:
            client.write(address, list(values))
        except MeterError as exc:
            raise MeterReadError(f"position {link.number}: W1 {address}: {exc}") from exc
    return link.read_in(client, then_read)


class ProgrammingSessions:
    """One session per meter, the P1 password sent once, kept open for a series of steps of
    writes then reads (`step`): a series of clock settings each with the tariff read after it
    costs one sign-on a meter, not one a setting. A meter on a port of its own holds its
    session; meters sharing a port (an RS485 bus) cannot hold sessions side by side, so each
    of their steps is a session of its own (`read_write_read`), as rig.meterlink
    .MeterSessions does for reads. A step that fails ends its meter's session; that meter's
    next step signs on again. All sessions are signed off when the block ends.

        with rig.programming(*positions), ProgrammingSessions(links) as held:
            each(links, lambda link: held.step(link, write=[("0.9.1", ["120030"])],
                                               then_read=["C.14.0"]))
    """

    def __init__(self, links: Mapping[int, MeterLink]) -> None:
        ports = Counter(link.port for link in links.values())
        self._alone = {n for n, link in links.items() if ports[link.port] == 1}
        self.links = dict(links)
        self._open: dict[int, tuple[ExitStack, Client]] = {}

    def __enter__(self) -> ProgrammingSessions:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        held = {n: self.links[n] for n in self._open}
        try:
            each(held, lambda link: self._end(link.number))
        except MeterReadError:
            if kind is None:
                raise
            # else the block's own failure is the one to say

    def step(self, link: MeterLink, write: Sequence[tuple[str, Sequence[str]]] = (),
             then_read: Sequence[str] = ()) -> dict[str, Reading]:
        """W1 of each (address, values) of `write`, then R1 of `then_read`, in `link`'s held
        session (signed on, with the password, at its first step); the readings by address."""
        if link.number not in self._alone:
            return read_write_read(link, write=write, then_read=then_read)
        held = self._open.get(link.number)
        if held is None:
            stack = ExitStack()
            try:
                client = stack.enter_context(link.session())
                _password(link, client)
            except BaseException:
                with suppress(MeterReadError):  # the failure is the one to say
                    stack.close()
                raise
            held = self._open[link.number] = (stack, client)
        try:
            return _write_read(link, held[1], write, then_read)
        except BaseException:
            with suppress(MeterReadError):
                self._end(link.number)
            raise

    def _end(self, number: int) -> None:
        stack, _ = self._open.pop(number)
        stack.close()


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
