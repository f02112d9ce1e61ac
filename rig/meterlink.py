"""Talking to a meter under test during a plan: reads, programming writes, its clock.

Every call is one IEC 62056-21 session on the position's link (sign-on, commands, break), so a
plan never leaves a meter in programming mode; the clock polls of `clock_offsets` share one
session per meter, closed when the roll-over is caught or anything fails. Reads use the
programming-mode R1 without a password where the meter allows it (A1000 manual 2.2.1: reads
need none); writes need the meter's programming state (seal open, reset button held:
`RigSession.enter_programming`) and the P1 password.

After a stop request (rig.safety.StopRequest) a link starts no new exchange: it raises
StopRequested instead, so plan clean-up code (restoring tables, clocks) never talks to a meter
once the operator stopped the run. A session already open is still signed off.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from meter.iec62056_21 import Client, MeterError
from meter.iec62056_21.readings import Reading
from rig.safety import StopRequest
from rig.timebase import Timebase

EPOCH = dt.datetime(1970, 1, 1)
CLOCK_ADDRESSES = ("0.9.2", "0.9.1")  # date YYMMDD, time hhmmss (A1000 manual, OBIS table)
T = TypeVar("T")


class MeterReadError(RuntimeError):
    """A register could not be read or written; names the position, address and reason."""


@dataclass(frozen=True)
class ClockReading:
    """The meter clock against true time: meter_seconds - true_seconds, with its resolution."""

    offset_s: float
    half_width_s: float  # the offset lies within +-half_width_s
    true_time: float


def meter_seconds(date_text: str, time_text: str) -> float:
    """Seconds since 1970 of the meter's naive date YYMMDD and time hhmmss."""
    stamp = dt.datetime.strptime(date_text + time_text, "%y%m%d%H%M%S")
    return (stamp - EPOCH).total_seconds()


def meter_datetime(seconds: float) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=seconds)


class MeterLink:
    """One position's meter, as the plans talk to it."""

    def __init__(
        self,
        number: int,
        client_factory: Callable[[], Client],
        password: str,
        port: str = "",
        stop: StopRequest | None = None,
    ) -> None:
        self.number = number
        self._new_client = client_factory
        self.password = password
        self.port = port or f"position {number}"  # the serial port or URL (shared on a bus)
        self.stop = stop

    def _check_stop(self) -> None:
        if self.stop is not None:
            self.stop.check()

    def _client(self) -> Client:
        """A new client for one exchange; StopRequested after a stop request."""
        self._check_stop()
        return self._new_client()

    def _fail(self, what: str, exc: Exception) -> MeterReadError:
        return MeterReadError(f"position {self.number}: {what}: {exc}")

    def readout(self) -> dict[str, Reading]:
        try:
            with self._client() as client:
                return {r.address: r for r in client.readout()}
        except (OSError, MeterError) as exc:
            raise self._fail("readout", exc) from exc

    def read(self, *addresses: str) -> dict[str, Reading]:
        """R1 of each address in one programming-mode session (no password)."""
        with self.session() as client:
            return self.read_in(client, addresses)

    @contextlib.contextmanager
    def session(self) -> Iterator[Client]:
        """One programming-mode session (no password) kept open for several reads, e.g. the
        polls of a clock roll-over; signed off when the block ends, however it ends."""
        try:
            with self._client() as client:  # closing signs off a session still open
                client.program()
                yield client
        except (OSError, MeterError) as exc:
            raise self._fail("session", exc) from exc

    def read_in(self, client: Client, addresses: Sequence[str]) -> dict[str, Reading]:
        """R1 of each address in `client`'s open session (see `session`, `MeterSessions`)."""
        out: dict[str, Reading] = {}
        for address in addresses:
            self._check_stop()
            try:
                readings = client.read(address)
            except MeterError as exc:
                raise self._fail(f"R1 {address}", exc) from exc
            if not readings:
                raise MeterReadError(f"position {self.number}: R1 {address}: empty answer")
            out[address] = readings[0]
        return out

    def value(self, address: str) -> Decimal:
        reading = self.read(address)[address]
        if reading.value is None:
            raise MeterReadError(
                f"position {self.number}: {address}({reading.raw}) is not a number"
            )
        return reading.value

    def values(self, addresses: Iterable[str]) -> dict[str, Decimal]:
        readings = self.read(*addresses)
        out = {}
        for address, reading in readings.items():
            if reading.value is None:
                raise MeterReadError(
                    f"position {self.number}: {address}({reading.raw}) is not a number"
                )
            out[address] = reading.value
        return out

    def read_range(self, address: str, args: Sequence[str], command: str = "R5") -> list[Reading]:
        with self._client() as client:
            client.program()
            try:
                readings = client.read(address, args, command=command)
            except MeterError as exc:
                raise self._fail(f"{command} {address}", exc) from exc
            client.sign_off()
        return readings

    def write(self, writes: Sequence[tuple[str, Sequence[str]]]) -> None:
        """W1 each (address, values) in one programming session with the P1 password."""
        with self._client() as client:
            client.program(self.password)
            for address, values in writes:
                try:
                    client.write(address, list(values))
                except MeterError as exc:
                    raise self._fail(f"W1 {address}", exc) from exc
            client.sign_off()

    def execute(self, address: str, values: Sequence[str] = ()) -> list[Reading]:
        with self._client() as client:
            client.program(self.password)
            try:
                result = client.execute(address, values)
            except MeterError as exc:
                raise self._fail(f"E2 {address}", exc) from exc
            client.sign_off()
        return result

    def clock_seconds(self) -> float:
        """The meter's clock to the second (0.9.2 date, 0.9.1 time)."""
        readings = self.read(*CLOCK_ADDRESSES)
        return meter_seconds(readings["0.9.2"].raw, readings["0.9.1"].raw)

    def clock_offset(
        self, timebase: Timebase, step_s: float, max_wait_s: float = 2.0
    ) -> ClockReading:
        """Meter clock minus true time, to +-step_s/2, by catching the seconds roll-over.

        The clock shows whole seconds; polling it every `step_s` (advancing the timebase between
        polls, so virtual and wall time alike) finds the poll at which the second changes. The
        change happened within the last step: the offset is known to half a step
        (standards.md 4.3 item 2: "detect the seconds roll-over by polling").
        """
        return clock_offsets({self.number: self}, timebase, step_s, max_wait_s)[self.number]


def each(
    links: Mapping[int, MeterLink],
    fn: Callable[[MeterLink], T],
    pool: ThreadPoolExecutor | None = None,
) -> dict[int, T]:
    """`fn(link)` for every position at once, one thread per port: meters on their own ports
    (optical heads, ptys) talk in parallel as on a bench with one head per position; meters
    sharing a port (an RS485 bus) take turns on it. `pool`: threads to reuse (a series of
    polls need not start a thread per meter each time); a pool of its own otherwise."""
    by_port: dict[str, list[int]] = {}
    for n, link in links.items():
        by_port.setdefault(link.port, []).append(n)
    if len(by_port) <= 1:
        return {n: fn(link) for n, link in links.items()}

    def on_port(numbers: list[int]) -> dict[int, T]:
        return {n: fn(links[n]) for n in numbers}

    out: dict[int, T] = {}
    workers = contextlib.nullcontext(pool) if pool is not None else ThreadPoolExecutor(
        max_workers=len(by_port), thread_name_prefix="meter")
    with workers as threads:
        for part in threads.map(on_port, by_port.values()):
            out.update(part)
    return {n: out[n] for n in links}


def clock_offsets(
    links: Mapping[int, MeterLink], timebase: Timebase, step_s: float, max_wait_s: float = 2.0
) -> dict[int, ClockReading]:
    """`MeterLink.clock_offset` of every position in one pass: all clocks are polled at each
    step, each position's roll-over is caught on its own.

    A poll reads the time alone, in each meter's session kept open through its polls (one R1,
    not a sign-on, two reads and a sign-off): the date is read with the first time, and a time
    that went back past midnight means the next day."""
    found: dict[int, ClockReading] = {}
    with MeterSessions(links) as sessions:
        first = {n: (r["0.9.2"].raw, r["0.9.1"].raw)
                 for n, r in sessions.read(*CLOCK_ADDRESSES).items()}
        waited = 0.0
        while len(found) < len(links) and waited <= max_wait_s:
            timebase.dwell(step_s, label="clock poll")
            waited += step_s
            times = sessions.read("0.9.1")
            true_now = timebase.now()
            caught = []
            for n, readings in times.items():
                time_text = readings["0.9.1"].raw
                date_text, first_time = first[n]
                if time_text == first_time:
                    continue
                seconds = meter_seconds(date_text, time_text)
                if time_text < first_time:  # hhmmss went back: midnight passed
                    seconds += 86400.0
                found[n] = ClockReading(seconds - (true_now - step_s / 2), step_s / 2, true_now)
                caught.append(n)
            sessions.end(caught)
    missing = sorted(set(links) - set(found))
    if missing:
        raise MeterReadError(
            f"position(s) {missing}: the meter clock did not advance within {max_wait_s} s"
        )
    return {n: found[n] for n in links}


class MeterSessions:
    """One programming-mode session per meter (no password), kept open for a series of polls
    so that each poll is the reads alone; all sessions end with the block.

        with MeterSessions(links) as sessions:
            tariffs = sessions.read("0.9.0")        # {position: {address: Reading}}
            sessions.end([3])                       # position 3 is done: sign it off now

    Meters sharing a port (an RS485 bus) cannot hold sessions side by side: each of their
    reads is a session of its own, taken in turn on the bus (`each`).
    """

    def __init__(self, links: Mapping[int, MeterLink]) -> None:
        self.links = dict(links)
        ports: dict[str, int] = {}
        for link in self.links.values():
            ports[link.port] = ports.get(link.port, 0) + 1
        self._own_port = {n for n, link in self.links.items() if ports[link.port] == 1}
        self._active = set(self.links)
        self._open: dict[int, tuple[contextlib.ExitStack, Client]] = {}
        # One thread per port for the whole series of polls.
        self._pool = ThreadPoolExecutor(max_workers=max(len(ports), 1),
                                        thread_name_prefix="meter-poll")

    def __enter__(self) -> MeterSessions:
        try:
            each({n: self.links[n] for n in self._own_port}, self._start, self._pool)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.end(list(self.links))
        finally:
            self._pool.shutdown()

    def _start(self, link: MeterLink) -> None:
        own = contextlib.ExitStack()
        client = own.enter_context(link.session())
        self._open[link.number] = (own, client)

    def _read(self, link: MeterLink, addresses: Sequence[str]) -> dict[str, Reading]:
        held = self._open.get(link.number)
        if held is None:  # on a shared bus: a session for this read alone
            return link.read(*addresses)
        return link.read_in(held[1], addresses)

    def read(self, *addresses: str) -> dict[int, dict[str, Reading]]:
        """R1 of `addresses` on every meter not yet ended, all meters at once."""
        links = {n: link for n, link in self.links.items() if n in self._active}
        return each(links, lambda link: self._read(link, addresses), self._pool)

    def end(self, numbers: Iterable[int]) -> None:
        """Done with `numbers`: no more reads, their sessions signed off now."""
        numbers = list(numbers)
        self._active.difference_update(numbers)
        links = {n: self.links[n] for n in numbers if n in self._open}
        each(links, lambda link: self._open.pop(link.number)[0].close(), self._pool)
