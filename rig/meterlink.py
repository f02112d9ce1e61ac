"""Talking to a meter under test during a plan: reads, programming writes, its clock.

Every call is one IEC 62056-21 session on the position's link (sign-on, commands, break), so a
plan never leaves a meter in programming mode; the clock polls of `clock_offsets` (vernier
polling: a resolution finer than one exchange on the line) share one session per meter,
closed after the polls or when anything fails. Reads use the
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
import functools
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from meter.iec62056_21 import Client, MeterError
from meter.iec62056_21.readings import Reading
from meter.iec62056_21.timing import Timing
from rig.meterhub import run_tasks
from rig.safety import StopRequest
from rig.timebase import Timebase
from rig.timeref import TimeReference

EPOCH = dt.datetime(1970, 1, 1)
#: The rig's client timing on the simulated bench. The line's protocol times are virtual there
#: (rig.sim.line: the meter keeps tr and its time-outs in the world's time), and a meter that
#: answers does so after tr <= 1.5 s of virtual time, which takes no wall time: how long the
#: answer takes in wall time is the machine's scheduling (a loaded machine, a database commit
#: in the same process), which must not change the exchanges. So the client's wall waits for
#: an answer and between characters are only a guard against a simulator that stopped.
SIMULATED_LINE_TIMING = Timing(reaction_min=0.0, reaction_min_fast=0.0, answer_slack=20.0,
                               inter_character=20.0)
CLOCK_ADDRESSES = ("0.9.2", "0.9.1")  # date YYMMDD, time hhmmss (A1000 manual, OBIS table)
T = TypeVar("T")


class MeterReadError(RuntimeError):
    """A register could not be read or written; names the position, address and reason."""


@dataclass(frozen=True)
class ClockReading:
    """The meter clock against true time (see `clock_offsets`).

    offset_s: meter seconds - true seconds, the meter's latch instant taken in the middle of
        its exchange; the offset lies within +-half_width_s (resolution and latch together).
    resolution_s: width of the bracket the probes leave; the difference of two readings of one
        meter is known to +-(r1 + r2)/2, the latch instant being common to both.
    latch_s: half an exchange, from the request sent to the answer taken: offset_s + latch_s
        is the offset against the instant a request is sent (`sent_offset_s`).
    """

    offset_s: float
    half_width_s: float  # the offset lies within +-half_width_s
    true_time: float
    resolution_s: float = 0.0
    latch_s: float = 0.0
    probes: int = 0
    #: What true time was for these polls (host clock and its synchronisation, or the simulator's
    #: virtual time) and its uncertainty (rig.timeref); None: the link was given no reference.
    reference: TimeReference | None = None

    @property
    def sent_offset_s(self) -> float:
        """Meter clock minus the instant an R1 is sent: what a later R1 sent at true time s
        sees is the meter at s + sent_offset_s (within resolution_s / 2)."""
        return self.offset_s + self.latch_s


@functools.lru_cache(maxsize=4096)
def meter_seconds(date_text: str, time_text: str) -> float:
    """Seconds since 1970 of the meter's naive date YYMMDD and time hhmmss. Cached (strptime
    is slow, and `clock_offsets` brackets every poll again after each round of polls); a text
    that is no date raises every time."""
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
        time_reference: Callable[[], TimeReference] | None = None,
    ) -> None:
        self.number = number
        # Read once per clock reading (`clock_offsets`): the session's reference, recorded.
        self.time_reference = time_reference
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

    def numeric(self, readings: Mapping[str, Reading], address: str) -> Decimal:
        """The value `address` read as, a MeterReadError naming the position if it is none."""
        reading = readings[address]
        if reading.value is None:
            raise MeterReadError(
                f"position {self.number}: {address}({reading.raw}) is not a number"
            )
        return reading.value

    def value(self, address: str) -> Decimal:
        return self.numeric(self.read(address), address)

    def values(self, addresses: Iterable[str]) -> dict[str, Decimal]:
        readings = self.read(*addresses)
        return {address: self.numeric(readings, address) for address in readings}

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

    def clock_offset(self, timebase: Timebase, resolution_s: float) -> ClockReading:
        """Meter clock minus true time, its seconds roll-over bracketed to `resolution_s` by
        polling (standards.md 4.3 item 2: "detect the seconds roll-over by polling"); see
        `clock_offsets`."""
        return clock_offsets({self.number: self}, timebase, resolution_s)[self.number]


def each(links: Mapping[int, MeterLink], fn: Callable[[MeterLink], T]) -> dict[int, T]:
    """`fn(link)` for every position at once, one task per port: meters on their own ports
    (optical heads, ptys) talk in parallel as on a bench with one head per position; meters
    sharing a port (an RS485 bus) take turns on it, inside their port's task.

    The tasks run in the calling thread (rig.meterhub): each yields while its meter has not
    answered, and one poll() waits for all of them. Results come in `links` order; every port
    finishes its work, then the first position (in order) whose `fn` raised has its exception
    raised here (`kept_errors` keeps each position's read error as its result instead)."""
    by_port: dict[str, list[int]] = {}
    for n, link in links.items():
        by_port.setdefault(link.port, []).append(n)
    if len(by_port) <= 1:
        return {n: fn(link) for n, link in links.items()}

    def on_port(numbers: list[int]) -> Callable[[], dict[int, T]]:
        return lambda: {n: fn(links[n]) for n in numbers}

    out: dict[int, T] = {}
    for part in run_tasks([on_port(numbers) for numbers in by_port.values()]):
        out.update(part)
    return {n: out[n] for n in links}


def kept_errors(fn: Callable[[MeterLink], T]) -> Callable[[MeterLink], T | MeterReadError]:
    """`fn` at one position, its read error kept as the result (for `each`): one meter that
    does not answer fails its own point with the reason, and the others and the next points
    go on (issue 13: a read error fails that point and the family goes on)."""

    def kept(link: MeterLink) -> T | MeterReadError:
        try:
            return fn(link)
        except MeterReadError as exc:
            return exc

    return kept


@dataclass(frozen=True)
class Probe:
    """One R1 answer with the true times its request was sent and its answer taken."""

    sent: float
    taken: float
    reading: Reading


def vernier_period(cycle_s: float, resolution_s: float) -> tuple[float, int]:
    """(period, count): polls `period` apart, period >= cycle_s, whose `count` instants fall on
    every multiple of 1/count s modulo one second, count = ceil(1 / resolution_s).

    period = m / count with m coprime to count, so j * m (j = 0..count-1) runs through every
    residue modulo count: something that repeats every second (the clock's seconds
    roll-over) is bracketed by two polls 1/count <= resolution_s apart in its phase, although
    no two polls are closer than one exchange on the line."""
    if not (math.isfinite(resolution_s) and 0 < resolution_s <= 1):
        raise ValueError(f"resolution must be in (0, 1] s, got {resolution_s!r}")
    count = math.ceil(1.0 / resolution_s - 1e-9)
    m = max(1, math.ceil(cycle_s * count - 1e-9))
    while math.gcd(m, count) != 1:
        m += 1
    return m / count, count


def dwell_until(timebase: Timebase, t: float, label: str) -> None:
    """Let time pass up to true time t (nothing if it has passed)."""
    now = timebase.now()
    if t > now:
        timebase.dwell(t - now, label=label)


def clock_offsets(
    links: Mapping[int, MeterLink], timebase: Timebase, resolution_s: float,
    sessions: MeterSessions | None = None,
) -> dict[int, ClockReading]:
    """The clock offset of every position, bracketed to `resolution_s` (vernier polling).

    The clock shows whole seconds and one R1 takes a whole exchange on the line (about 0.43 s
    at 9600 Bd with tr = 200 ms, see rig.sim.line), so polls cannot be `resolution_s` apart.
    They need not be: the seconds roll-over repeats every second, and polls spaced by
    `vernier_period` fall on every phase of the second to `resolution_s` within count polls.
    Each poll that shows meter second S when sent at true time s says the meter clock minus the
    send instant lies in [S - s, S + 1 - s); intersecting them brackets it (the clock runs at
    one second per second over the polls: 0.5 s/day is 6 ppm, 0.1 ms over 20 s). All meters
    are polled at the same instants, each in its own session, each bracketed on its own.
    A meter is polled at an instant only where its roll-over can lie (`_informative`): a poll
    whose phase falls outside its bracket shows what the bracket already says, so it is not
    sent. The bracket is the one every poll would leave, from a third or less of the reads
    (at 0.02 s: 9 polls of a meter instead of 44, tests/rig/test_meterlink.py), and an
    instant no meter needs is not waited for.

    The meter latches its clock at a fixed point of its answer, the same for every R1 of one
    length: that instant cancels from drifts and switch delays (differences of readings) and
    is taken in the middle of the exchange for the absolute offset, within half an exchange
    (`ClockReading`). Probes that leave no common bracket mean the clock does not advance one
    second per second, or the meter answers at varying instants: an error naming the meter.
    The date is read before and after the polls, so a midnight in between counts the new day.
    `sessions`: the meters' sessions to poll in, open before and still open after (reads of the
    same moment join them: one sign-on a meter); by default sessions of their own.
    """
    found: dict[int, ClockReading] = {}
    if sessions is not None and set(sessions.links) != set(links):
        raise ValueError(f"clock_offsets: sessions of positions {sorted(sessions.links)} "
                         f"for the links of {sorted(links)}")
    held = MeterSessions(links) if sessions is None else contextlib.nullcontext(sessions)
    with held as sessions:
        dates = sessions.read_timed(timebase, "0.9.2")
        cycle = max(p.taken - p.sent for p in dates.values())
        period, count = vernier_period(cycle, resolution_s)
        polls: dict[int, list[Probe]] = {n: [] for n in links}
        start = timebase.now()
        for j in range(count + 1):
            at = start + j * period
            # The margin: a poll sent up to the resolution asked off its planned instant still
            # goes where it may tell. A poll skipped that could have told something would leave
            # the bracket wider, never wrong: it is made of the polls sent alone.
            wanted = [n for n in links if _informative(dates[n], polls[n], at, resolution_s)]
            if not wanted:
                continue
            dwell_until(timebase, at, "clock poll")
            for n, probe in sessions.read_timed(timebase, "0.9.1", wanted).items():
                polls[n].append(probe)
            if j >= 2 and all(_bracket(dates[n], polls[n], None)[1] <= resolution_s
                              for n in links):
                break
        ends = sessions.read_timed(timebase, "0.9.2")
    reference = _time_reference(links)
    for n, link in links.items():
        (lo, hi), width = _bracket(dates[n], polls[n], ends[n])
        if not width > 0:
            raise MeterReadError(
                f"position {link.number}: {len(polls[n])} clock polls over "
                f"{polls[n][-1].sent - polls[n][0].sent:.1f} s leave no common offset: the "
                "clock does not advance one second per second, or the meter answers at "
                "varying instants")
        latch = (dates[n].taken - dates[n].sent) / 2
        found[n] = ClockReading(
            offset_s=(lo + hi) / 2 - latch, half_width_s=width / 2 + latch,
            true_time=(polls[n][0].sent + polls[n][-1].sent) / 2, resolution_s=width,
            latch_s=latch, probes=len(polls[n]), reference=reference)
    return found


def _informative(date: Probe, polls: Sequence[Probe], at: float, margin: float) -> bool:
    """Can a poll sent at about `at` narrow the bracket `polls` leave? Only if the meter's
    seconds may roll over inside it: an integer within (lo + at, hi + at), widened by `margin`
    for the send instant's own spread."""
    if len(polls) < 2:
        return True
    (lo, hi), _ = _bracket(date, polls, None)
    if not hi > lo:
        return True  # already contradictory: every poll tells more of what is wrong
    return math.floor(hi + at + margin) > lo + at - margin


def _time_reference(links: Mapping[int, MeterLink]) -> TimeReference | None:
    """The reference of the polls just made, read once for all the meters (they share it)."""
    for link in links.values():
        if link.time_reference is not None:
            return link.time_reference()
    return None


def _bracket(
    date: Probe, polls: Sequence[Probe], end: Probe | None
) -> tuple[tuple[float, float], float]:
    """The bracket [lo, hi) of meter clock minus send instant the polls leave, and its width
    (<= 0: none). `end`: the date read after the polls (None: assume no midnight)."""
    day = date.reading.raw
    wraps = any(b.reading.raw < a.reading.raw for a, b in itertools.pairwise(polls))
    # Midnight passed between a date read and the polls, which span less than a minute:
    # before the first poll if it shows the small hours, else after the last.
    if (end is not None and end.reading.raw != day and not wraps and polls
            and polls[0].reading.raw < "120000"):
        day = end.reading.raw
    lo, hi = -math.inf, math.inf
    extra = 0.0
    for k, probe in enumerate(polls):
        if k and probe.reading.raw < polls[k - 1].reading.raw:
            extra += 86400.0  # hhmmss went back: the next day
        shown = meter_seconds(day, probe.reading.raw) + extra
        lo, hi = max(lo, shown - probe.sent), min(hi, shown + 1.0 - probe.sent)
    return (lo, hi), hi - lo


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

    def __enter__(self) -> MeterSessions:
        try:
            each({n: self.links[n] for n in self._own_port}, self._start)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.end(list(self.links))

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
        return each(links, lambda link: self._read(link, addresses))

    def read_timed(self, timebase: Timebase, address: str,
                   numbers: Iterable[int] | None = None) -> dict[int, Probe]:
        """R1 of `address` on every meter not yet ended (of `numbers`, if given), each with the
        true time its request went out and its answer was taken (`Probe`): meters in their own
        sessions all at one instant, meters on a shared bus one after the other, each timed on
        its own."""
        chosen = set(self.links) if numbers is None else set(numbers)
        active = [n for n in self.links if n in self._active and n in chosen]
        own = {n: self.links[n] for n in active if n in self._open}
        out: dict[int, Probe] = {}
        if own:
            sent = timebase.now()
            got = each(own, lambda link: self._read(link, (address,)))
            taken = timebase.now()
            out.update({n: Probe(sent, taken, r[address]) for n, r in got.items()})
        for n in active:
            if n not in own:
                sent = timebase.now()
                reading = self._read(self.links[n], (address,))[address]
                out[n] = Probe(sent, timebase.now(), reading)
        return {n: out[n] for n in active}

    def end(self, numbers: Iterable[int]) -> None:
        """Done with `numbers`: no more reads, their sessions signed off now."""
        numbers = list(numbers)
        self._active.difference_update(numbers)
        links = {n: self.links[n] for n in numbers if n in self._open}
        each(links, lambda link: self._open.pop(link.number)[0].close())
