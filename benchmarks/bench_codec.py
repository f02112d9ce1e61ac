"""CPU per IEC 62056-21 exchange, each side (run: `.venv/bin/python benchmarks/bench_codec.py`).

A type test makes about 5000 exchanges per position (rig side: meter.iec62056_21.Client; meter
side: the server's LineSession), so the CPU of one exchange, times 5000, is a share of what
each added position costs. Figures, CPU microseconds per exchange (medians):

1. sans-IO, the protocol objects alone (no I/O, no threads):
   - client R1: `Connection.send(R1)`, the answer's bytes in, `next_event`, `Reading.of`,
     every answer a different value (as a meter's register counts on);
   - meter R1: the same request's bytes into a LineSession of a MeterServer (tr 0), again and
     again (as a plan asks for the same registers), its answer out;
   - client / meter readout of 105 data sets: sign-on, identification, option select, readout.
2. Real stack: a Client in this process reading R1 over a pty from a MeterServer (tr 0) served
   by its own thread in a child process, every answer a different value; each side's process
   CPU, per R1.

The banks are benchmarks/bench_iec62056_21.BenchBank (fixed data sets) and a counting variant,
so the figures are the codec's, not a meter model's. `--compare DIR` runs the same figures with
the package imported from DIR (a checkout of another commit) in a second process, side by side.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

# The package, and the bank of bench_iec62056_21, from this checkout or (the --compare run)
# from the one named by --root.
ROOT = (Path(sys.argv[sys.argv.index("--root") + 1]) if "--root" in sys.argv
        else Path(__file__).resolve().parents[1])
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_iec62056_21 import BenchBank, readout_datasets  # noqa: E402
from machine import loadavg  # noqa: E402

from meter.iec62056_21 import (  # noqa: E402
    Client,
    Command,
    Connection,
    DataMessage,
    DataSet,
    Identification,
    MeterServer,
    OptionSelect,
    Reading,
    Readout,
    Request,
    Role,
    State,
    Timing,
    Value,
)
from meter.iec62056_21.bank import args_dataset  # noqa: E402
from meter.iec62056_21.session import LineSession  # noqa: E402

# tr 0: no wall pause, so the real-stack figure is CPU, not waiting.
INSTANT = Timing(reaction_min=0.0, reaction_min_fast=0.0)
ADDRESS = "1.8.1"
IDENT = Identification("BNC", "6", "BENCH105")


def cpu_per_call(make: Callable[[int], Callable[[], None]], n: int, runs: int) -> float:
    """Median over `runs` of the process CPU seconds per call: `make(n)` sets up (untimed) and
    gives what makes the `n` calls."""
    times = []
    for _ in range(runs):
        run = make(n)
        t = time.process_time()
        run()
        times.append((time.process_time() - t) / n)
    return statistics.median(times)


# ---- sans-IO -----------------------------------------------------------------------------

def _client_in_programming() -> Connection:
    conn = Connection(Role.CLIENT, INSTANT)
    conn.send(Request())
    conn.receive_data(IDENT.encode())
    conn.next_event()
    conn.send(OptionSelect.for_rate(19200, OptionSelect.PROGRAMMING))
    conn.receive_data(Command("P", "0", args_dataset("", ())).encode())
    conn.next_event()
    assert conn.state is State.PROG, conn.state
    return conn


def _answers(n: int) -> list[bytes]:
    """`n` different R1 answers (an energy register that counts on): the codec's cache of
    short frames must not make the figure, as a meter's values change from read to read."""
    return [DataMessage.of([DataSet.of(ADDRESS, Value(f"{i / 1000:010.3f}", "kWh"))]).encode()
            for i in range(n)]


def client_r1(n: int) -> Callable[[], None]:
    answers = _answers(n)
    conn = _client_in_programming()

    def run() -> None:
        for answer in answers:
            conn.send(Command("R", "1", args_dataset(ADDRESS, ())))
            conn.receive_data(answer)
            event = conn.next_event()
            [Reading.of(ds) for ds in event.datasets]  # type: ignore[union-attr]

    return run


def client_readout(n: int) -> Callable[[], None]:
    frame = Readout.of(readout_datasets()).encode()

    def run() -> None:
        for _ in range(n):
            conn = Connection(Role.CLIENT, INSTANT)
            conn.send(Request())
            conn.receive_data(IDENT.encode())
            conn.next_event()
            conn.send(OptionSelect.for_rate(19200, OptionSelect.READOUT))
            conn.receive_data(frame)
            event = conn.next_event()
            readings = [Reading.of(ds) for ds in event.datasets]  # type: ignore[union-attr]
        assert len(readings) == 105, len(readings)

    return run


def _feed(session: LineSession, data: bytes) -> bytes:
    """`data` in; the answer out (a wait of 0 s, the reaction time, ends with nothing come)."""
    session.receive(data)
    while session.wait == 0:
        session.time_out()
    return session.data_to_send()


def _meter(serve: Callable[[LineSession], None]) -> Callable[[], None]:
    """`serve` run on a LineSession of a MeterServer (not started: no thread)."""
    def run() -> None:
        server = MeterServer(BenchBank(), transport="tcp", timing=INSTANT)
        try:
            serve(server.open_session(is_socket=False))
        finally:
            server.close()

    return run


def meter_r1(n: int) -> Callable[[], None]:
    """The same R1 again and again, as a plan asks a meter the same registers (the codec's
    cache of short frames takes the repeats)."""
    def serve(session: LineSession) -> None:
        _feed(session, Request().encode())
        _feed(session, OptionSelect.for_rate(19200, OptionSelect.PROGRAMMING).encode())
        request = Command("R", "1", args_dataset(ADDRESS, ())).encode()
        for _ in range(n):
            out = _feed(session, request)
        assert out.startswith(b"\x02" + ADDRESS.encode()), out

    return _meter(serve)


def meter_readout(n: int) -> Callable[[], None]:
    def serve(session: LineSession) -> None:
        request = Request().encode()
        option = OptionSelect.for_rate(19200, OptionSelect.READOUT).encode()
        for _ in range(n):
            _feed(session, request)
            out = _feed(session, option)
        assert out.endswith(b"!\r\n\x03" + out[-1:]), out[-8:]

    return _meter(serve)


# ---- real stack --------------------------------------------------------------------------

class CountingBank(BenchBank):
    """BenchBank whose R1 answers count on, as an energy register does (no two alike)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read(self, address: str, args: tuple[str, ...]) -> list[DataSet]:
        self.reads += 1
        return [DataSet.of(address, Value(f"{self.reads / 1000:010.3f}", "kWh"))]


def _serve(pipe: Pipe) -> None:
    """Child: serve a CountingBank on a pty; answer "cpu" with this process's CPU seconds."""
    with MeterServer(CountingBank(), transport="pty", timing=INSTANT) as server:
        pipe.send(server.url)
        while (command := pipe.recv()) != "quit":
            pipe.send(time.process_time() if command == "cpu" else None)


def real_r1(n: int, runs: int) -> tuple[float, float]:
    """(client, meter) CPU seconds per R1 over a pty, medians of `runs` runs of `n` R1s."""
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    child = multiprocessing.get_context("fork").Process(target=_serve, args=(theirs,))
    child.start()
    try:
        url = ours.recv()
        client_cpu, meter_cpu = [], []
        with Client(url, timing=INSTANT) as client:
            client.program()
            for _ in range(runs):
                ours.send("cpu")
                meter_t, t = ours.recv(), time.process_time()
                for _ in range(n):
                    client.read(ADDRESS)
                client_cpu.append((time.process_time() - t) / n)
                ours.send("cpu")
                meter_cpu.append((ours.recv() - meter_t) / n)
        return statistics.median(client_cpu), statistics.median(meter_cpu)
    finally:
        ours.send("quit")
        child.join(timeout=10)


def figures(reps: int, runs: int) -> dict[str, float]:
    out = {
        "sans-IO client R1": cpu_per_call(client_r1, reps, runs),
        "sans-IO meter R1": cpu_per_call(meter_r1, reps, runs),
        "sans-IO client readout (105 sets)": cpu_per_call(client_readout, reps // 20, runs),
        "sans-IO meter readout (105 sets)": cpu_per_call(meter_readout, reps // 20, runs),
    }
    client, meter = real_r1(reps, runs)
    out["pty client R1 (process CPU)"] = client
    out["pty meter R1 (process CPU)"] = meter
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000, help="R1s per run (readouts: 1/20)")
    ap.add_argument("--runs", type=int, default=5, help="runs; the median is printed")
    ap.add_argument("--compare", metavar="DIR",
                    help="also run with the package of DIR (a checkout), side by side")
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--raw", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.reps < 20 or args.runs < 1:
        ap.error("--reps must be >= 20 and --runs >= 1")
    if args.raw:  # the --compare child: figures as name=value lines
        print(f"package={Path(sys.modules['meter'].__file__ or '').parent}")
        for name, value in figures(args.reps, args.runs).items():
            print(f"{name}={value}")
        return 0
    print(f"package: {Path(sys.modules['meter'].__file__ or '').parent}")
    print(f"CPU per exchange, us (median of {args.runs} runs of {args.reps} R1s / "
          f"{args.reps // 20} readouts); load {loadavg()}")
    here = figures(args.reps, args.runs)
    there: dict[str, float] = {}
    if args.compare:
        done = subprocess.run(
            [sys.executable, __file__, "--raw", "--root", str(Path(args.compare).resolve()),
             "--reps", str(args.reps), "--runs", str(args.runs)],
            check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
        lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        print(f"compared with package: {lines.pop('package')}")
        there = {k: float(v) for k, v in lines.items()}
        print(f"  {'':36s} {'this':>9s} {Path(args.compare).name:>9s} {'ratio':>6s}")
    for name, value in here.items():
        line = f"  {name:36s} {value * 1e6:9.1f}"
        if name in there:
            line += f" {there[name] * 1e6:9.1f} {value / there[name]:6.2f}"
        print(line)
    print(f"load after: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
