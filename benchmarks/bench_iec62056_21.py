"""IEC 62056-21 stack figures (run: `.venv/bin/python benchmarks/bench_iec62056_21.py`).

1. Codec: encode a data readout of 105 data sets, and split + decode it again (sans-IO, no I/O).
2. Round trips through the real wrappers, meter.iec62056_21.MeterServer serving a small bank of
   this script and meter.iec62056_21.Client, over a pty and over TCP on 127.0.0.1:
   - readout: sign-on, identification, option select '0', data readout;
   - programming sign-on + P1: sign-on, identification, option select '1', P0, P1, ACK;
   - R1: one read in programming mode (`1.8.0()` -> data message).
   At the standard timing (reaction time tr 200 ms, standards.md 6.6) and at tr = 2 ms, the
   same value on both sides. Each figure is the median of several runs.

Only the answering side waits tr (standards.md 6.6: end of received message -> start of the
answer): the meter before each answer, the client never. On a pty or TCP the bytes take no
line time, so the floor of each exchange is its meter answers x tr: a readout 2 tr
(identification, readout), a programming sign-on + P1 3 tr (identification, P0, ACK), an R1
in a session 1 tr. Each figure is printed with its ratio to that floor.

   The readout over TCP against the one over a pty is printed at each timing (target 1.2x).
3. Idle ports: the CPU time 48 served ptys with no client take in 2 s of wall time (a
   48-position bench between its meter sessions).
4. Side by side at tr 200 ms, the same exchanges by an outside client against the same served
   bank in the same run: pwitab's `iec62056-21` (a dev extra; tests/meter/iec62056_21/
   pwitab_peer.py). It rests 1.25 x 200 ms after its request and its option select whatever the
   meter's tr, so it is not run at 2 ms.
5. A whole session as the rig makes one per reading (open, sign-on + P1, R1, break, close) at
   tr = 2 ms, over a pty and over TCP: the TCP close was pyserial's, which sleeps 0.3 s
   (meter.iec62056_21.client.SocketPort).
6. Many positions at once: the CPU per R1 round of 48 clients each reading its own served pty
   (the meter-line part of a 48-position type test), with the client's reads waiting in
   select() and, side by side, polled every 20 ms as before.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a plain checkout

from meter.iec62056_21 import (
    Client,
    DataSet,
    Identification,
    MeterServer,
    Readout,
    RegisterError,
    Timing,
    Value,
    decode,
)
from meter.iec62056_21.framing import FrameSplitter
from tests.meter.iec62056_21.pwitab_peer import OutsidePeer

PASSWORD = "00000000"
STANDARD = Timing()  # tr 200 ms (standards.md 6.6)
FAST = Timing(reaction_min=0.002, reaction_min_fast=0.002)
QUANTITIES = range(1, 9)  # +A, -A, +R, -R, Q1..Q4 (OBIS C = 1..8)
TARIFFS = range(0, 5)  # total and T1..T4
FLOOR_TR = {"readout": 2, "sign-on + P1": 3, "R1": 1}  # meter answers of each exchange


def readout_datasets() -> list[DataSet]:
    """105 data sets of a plausible readout: identity and clock (5), energy per quantity and
    tariff (40), the same for the last billing period (40), maximum demand with its time and
    cumulated maximum demand of +A and -A per tariff (20)."""
    sets = [
        DataSet.of("C.1.0", "12345678"),
        DataSet.of("0.0.0", "BENCH0001"),
        DataSet.of("0.9.1", "142530"),
        DataSet.of("0.9.2", "1251125"),
        DataSet.of("F.F", "00000000"),
    ]
    for c in QUANTITIES:
        unit = "kWh" if c in (1, 2) else "kvarh"
        for t in TARIFFS:
            value = Value(f"{1234.567 * c + 10.001 * t:010.3f}", unit)
            sets.append(DataSet.of(f"{c}.8.{t}", value))
    for c in QUANTITIES:
        unit = "kWh" if c in (1, 2) else "kvarh"
        for t in TARIFFS:
            sets.append(
                DataSet.of(f"{c}.8.{t}*11", Value(f"{1100.5 * c + 9.25 * t:010.3f}", unit))
            )
    for c in (1, 2):
        for t in TARIFFS:
            sets.append(
                DataSet.of(f"{c}.6.{t}", Value(f"{1.5 + 0.25 * t:07.4f}", "kW"), "2511241415")
            )
            sets.append(DataSet.of(f"{c}.2.{t}", Value(f"{18.25 + t:08.4f}", "kW")))
    assert len(sets) == 105, len(sets)
    return sets


class BenchBank:
    """A RegisterBank (docs/conventions.md 3) with fixed contents: the readout above, R1 of any of
    its addresses, P1 password check."""

    read_requires_password = False

    def __init__(self) -> None:
        self.sets = readout_datasets()
        self.by_address = {ds.address: ds for ds in self.sets}

    def identification(self) -> Identification:
        # Upper-case 3rd letter: the configured reaction_min applies (not the 20 ms one);
        # baud '6' = mode C up to 19200 Bd.
        return Identification("BNC", "6", "BENCH105")

    def device_address(self) -> str:
        return ""

    def readout(self) -> list[DataSet]:
        return self.sets

    def read(self, address: str, args: tuple[str, ...]) -> list[DataSet]:
        if address not in self.by_address:
            raise RegisterError("NO DATA")
        return [self.by_address[address]]

    def write(self, address: str, values: tuple[str, ...]) -> None:
        raise RegisterError("READ ONLY")

    def execute(self, address: str, values: tuple[str, ...]) -> list[DataSet]:
        raise RegisterError("NO FUNCTION")

    def check_password(self, level: str, password: str) -> bool:
        return level == "P1" and password == PASSWORD


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def median_of(runs: int, fn: Callable[[], object]) -> float:
    return statistics.median(timed(fn) for _ in range(runs))


def codec(runs: int, reps: int) -> None:
    sets = readout_datasets()
    message = Readout.of(sets)
    frame = message.encode()

    def encode() -> None:
        for _ in range(reps):
            Readout.of(sets).encode()

    def decode_frame() -> None:
        for _ in range(reps):
            splitter = FrameSplitter()
            splitter.feed(frame)
            got = decode(splitter.next_frame())  # type: ignore[arg-type]
        assert got == message

    enc = median_of(runs, encode) / reps
    dec = median_of(runs, decode_frame) / reps
    print(f"codec, readout of {len(sets)} data sets ({len(frame)} bytes), median of {runs} runs"
          f" x {reps}:")
    print(f"  encode {enc * 1e6:8.1f} us   split + decode {dec * 1e6:8.1f} us   "
          f"together {(enc + dec) * 1e6:8.1f} us")


def round_trips(transport: str, timing: Timing, runs: int) -> dict[str, float]:
    bank = BenchBank()
    with MeterServer(bank, transport=transport, timing=timing) as server, \
            Client(server.url, timing=timing) as client:
        rest = timing.reaction_min  # let the last answer's reaction time pass, untimed

        def readout() -> None:
            readings = client.readout()
            assert len(readings) == len(bank.sets), len(readings)

        def sign_on() -> None:
            client.program(PASSWORD)

        def r1() -> None:
            (reading,) = client.read("1.8.0")
            assert reading.address == "1.8.0"

        results: dict[str, list[float]] = {"readout": [], "sign-on + P1": [], "R1": []}
        for _ in range(runs):
            time.sleep(rest)
            results["readout"].append(timed(readout))
            time.sleep(rest)
            results["sign-on + P1"].append(timed(sign_on))
            # R1s follow each other in the session.
            results["R1"].extend(timed(r1) for _ in range(3))
            client.sign_off()
    return {name: statistics.median(times) for name, times in results.items()}


def whole_sessions(transport: str, timing: Timing, runs: int) -> float:
    """Median wall seconds of a whole session as the rig makes one per reading: open the port,
    sign on + P1, one R1, break, close. Over TCP the close was pyserial's, which sleeps 0.3 s
    (meter.iec62056_21.client.SocketPort)."""
    bank = BenchBank()
    with MeterServer(bank, transport=transport, timing=timing) as server:

        def session() -> None:
            with Client(server.url, timing=timing) as client:
                client.program(PASSWORD)
                (reading,) = client.read("1.8.0")
                assert reading.address == "1.8.0"

        times = []
        for _ in range(runs):
            time.sleep(timing.reaction_min)
            times.append(timed(session))
    return statistics.median(times)


def outside_round_trips(transport: str, runs: int) -> dict[str, float]:
    """The same exchanges by pwitab's client at the standard timing, one session each."""
    bank = BenchBank()
    results: dict[str, list[float]] = {"readout": [], "sign-on + P1": [], "R1": []}
    with MeterServer(bank, transport=transport, timing=STANDARD) as server:
        for _ in range(runs):
            time.sleep(STANDARD.reaction_min)
            with OutsidePeer(server.url) as peer:
                t = time.perf_counter()
                sets = peer.readout()
                results["readout"].append(time.perf_counter() - t)
            assert sets[0].address == "C.1.0", sets[0]
            time.sleep(STANDARD.reaction_min)
            with OutsidePeer(server.url) as peer:
                t = time.perf_counter()
                assert peer.program(PASSWORD) == "\x06"
                results["sign-on + P1"].append(time.perf_counter() - t)
                for _ in range(3):
                    t = time.perf_counter()
                    assert peer.read("1.8.0").address == "1.8.0"
                    results["R1"].append(time.perf_counter() - t)
    return {name: statistics.median(times) for name, times in results.items()}


def print_row(label: str, transport: str, timing: Timing, runs: int, r: dict[str, float]) -> None:
    cells = [
        f"{r[name] * 1000:8.1f} ({r[name] / (n * timing.reaction_min):4.2f}x)"
        for name, n in FLOOR_TR.items()
    ]
    print(f"  {label:7s} {transport:9s} {timing.reaction_min * 1000:4.0f}ms {runs:4d} "
          + " ".join(f"{c:>16s}" for c in cells))


def idle_ports(count: int, seconds: float) -> float:
    """CPU seconds of this process while `count` pty servers wait for a client."""
    servers = [MeterServer(BenchBank(), transport="pty").start() for _ in range(count)]
    try:
        time.sleep(0.2)  # the threads are up and waiting
        cpu = time.process_time()
        time.sleep(seconds)
        return time.process_time() - cpu
    finally:
        for server in servers:
            server.close()


def many_positions(count: int, reads: int, polled: bool = False) -> tuple[float, float]:
    """(CPU ms, wall ms) of this process per R1 round while `count` clients, each on its own
    served pty, read at once at the standard timing (a `count`-position bench polling its
    meters: rig.meterlink.each). `polled`: the client's reads poll every 20 ms, as before they
    waited in select() (the A/B of that change, side by side)."""
    servers = [MeterServer(BenchBank(), transport="pty", timing=STANDARD).start()
               for _ in range(count)]
    clients = [Client(server.url, timing=STANDARD) for server in servers]
    if polled:
        for client in clients:
            client._descriptor = lambda port: None  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(lambda c: c.open().program(), clients))
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(reads):
                list(pool.map(lambda c: c.read("1.8.0"), clients))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        for client in clients:
            client.close()
        for server in servers:
            server.close()
    return cpu * 1000 / reads, wall * 1000 / reads


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="runs at 200 ms (default 5)")
    ap.add_argument("--fast-runs", type=int, default=21, help="runs at 2 ms (default 21)")
    ap.add_argument("--positions", type=int, default=48, help="clients read at once (48)")
    ap.add_argument("--position-reads", type=int, default=10, help="R1 rounds of those (10)")
    args = ap.parse_args()
    if args.runs < 1 or args.fast_runs < 1:
        ap.error("--runs and --fast-runs must be >= 1")

    started = time.perf_counter()
    codec(runs=7, reps=200)
    cpu = idle_ports(48, 2.0)
    print(f"48 idle pty ports, 2 s wall: {cpu * 1000:.1f} ms CPU")
    print("round trips, a client <-> MeterServer (median; ms wall); ours = meter.iec62056_21."
          "Client, pwitab = iec62056-21 0.0.2:")
    print(f"  {'client':7s} {'transport':9s} {'tr':>6s} {'runs':>4s} {'readout':>16s}"
          f" {'sign-on+P1':>16s} {'R1':>16s}   (x floor)")
    readouts: dict[tuple[float, str], float] = {}
    for timing, runs in ((STANDARD, args.runs), (FAST, args.fast_runs)):
        for transport in ("pty", "tcp"):
            ours = round_trips(transport, timing, runs)
            readouts[timing.reaction_min, transport] = ours["readout"]
            print_row("ours", transport, timing, runs, ours)
            if timing is STANDARD:
                print_row("pwitab", transport, timing, runs,
                          outside_round_trips(transport, runs))
    for timing in (STANDARD, FAST):
        tr = timing.reaction_min
        print(f"readout over TCP / over a pty at tr {tr * 1000:.0f} ms: "
              f"{readouts[tr, 'tcp'] / readouts[tr, 'pty']:.2f}x (target <= 1.2x)")
    whole = {transport: whole_sessions(transport, FAST, args.fast_runs)
             for transport in ("pty", "tcp")}
    print(f"a whole session (open, sign-on + P1, R1, break, close) at tr "
          f"{FAST.reaction_min * 1000:.0f} ms, median of {args.fast_runs}: pty "
          f"{whole['pty'] * 1000:.1f} ms, TCP {whole['tcp'] * 1000:.1f} ms = "
          f"{whole['tcp'] / whole['pty']:.2f}x")
    print(f"{args.positions} positions read at once (tr 200 ms, {args.position_reads} R1 rounds;"
          " this process, per round):")
    for polled in (False, True):
        cpu_ms, wall_ms = many_positions(args.positions, args.position_reads, polled)
        label = "reads polled every 20 ms (before)" if polled else "reads wait in select()"
        print(f"  {label:34s} CPU {cpu_ms:7.1f} ms   wall {wall_ms:7.1f} ms")
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
