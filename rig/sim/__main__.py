"""`python -m rig.sim serve --bench benches/sim.yaml [--positions N] [--realtime]`

Runs a simulated bench on 127.0.0.1 until interrupted, printing every resource string, meter
port and the control endpoint, so plans and drivers can be developed with no hardware.
`--options JSON` adds simulator options as a bench file's `sim:` section gives them (the meter
model, each position's defects); `--stdin-lifeline` ends it when its standard input closes,
which is how a rig session that started it (rig.served.spawn) makes sure it never outlives the
rig, even one killed with SIGKILL (the kernel closes a dead process's pipes).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from rig.bench.config import BenchFileError, load_bench_file
from rig.collector import settled_heap
from rig.sim.bench import SimBench, SimBenchError
from rig.sim.meters import MeterBuildError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rig.sim", description="Simulated meter-test bench on loopback."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a simulated bench until interrupted")
    serve.add_argument("--bench", required=True, type=Path, help="bench YAML file")
    serve.add_argument(
        "--positions",
        type=int,
        default=None,
        help="number of positions (copies of the file's first position)",
    )
    serve.add_argument(
        "--realtime",
        action="store_true",
        help="virtual time follows the wall clock (default: it moves only "
        "through the control endpoint)",
    )
    serve.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep each meter's non-volatile memory in files here (meter<N>/), so it "
        "survives a restart of the simulator (default: in memory)",
    )
    serve.add_argument(
        "--options",
        type=_options,
        default=None,
        metavar="JSON",
        help="simulator options, as the bench file's `sim:` section takes them, e.g. "
        '\'{"meter": {"model": "module:Class"}, "positions": {"2": {"defects": '
        '[{"name": "..."}]}}}\'',
    )
    serve.add_argument(
        "--stdin-lifeline",
        action="store_true",
        help="stop when standard input reaches its end (the process that started it and "
        "holds the pipe's other end has ended)",
    )
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if args.stdin_lifeline:
        threading.Thread(target=_until_eof, args=(stop,), daemon=True,
                         name="sim-stdin-lifeline").start()
    try:
        # The rig's own schema (wrong or misspelt keys, bad values): the simulator must not
        # say "ready" for a file the rig then refuses.
        load_bench_file(args.bench)
        with SimBench(
            args.bench,
            positions=args.positions,
            realtime=args.realtime,
            state_dir=args.state_dir,
            sim_options=args.options,
        ) as sim:
            for line in sim.describe():
                print(line)
            print(f"time = {'wall clock' if args.realtime else 'virtual (advance via control)'}")
            print("ready", flush=True)
            with settled_heap():  # the bench and its meters live to the end (rig.collector)
                stop.wait()
    except (SimBenchError, MeterBuildError, BenchFileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _options(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _until_eof(stop: threading.Event) -> None:
    """Read standard input to its end (nothing is expected on it), then stop the bench. On
    the raw file descriptor: a daemon thread blocked in sys.stdin's buffered reader holds its
    lock, and the interpreter aborts at exit when it cannot take it."""
    try:
        while os.read(sys.stdin.fileno(), 4096):
            pass
    finally:
        stop.set()


if __name__ == "__main__":
    sys.exit(main())
