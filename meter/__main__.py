"""Command line of the software meter.

    python -m meter serve [--config FILE] (--pty | --tcp HOST:PORT) --state DIR

Runs one A1000 in wall-clock time with the load of its configuration (``load:``), serving
IEC 62056-21 on a pty or a TCP port. The first line on stdout is the address it listens on
(the pty device path, or HOST:PORT; ``--tcp 127.0.0.1:0`` takes a free port). Without
``--config`` the A1000 defaults (``meter/a1000/default.yaml``: modest balanced load, P1
password 00000000). Ctrl-C / SIGTERM: save the state and exit cleanly (status 0).

    python -m meter obis-table [--core]   the OBIS map as a markdown table
    python -m meter defects-table   the defect registry as a markdown table
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from meter.a1000.config import ConfigError, default_config, load_config
from meter.a1000.meter import A1000
from meter.iec62056_21.server import MeterServer

TICK_S = 1.0  # the wall-clock loop advances the model (and saves when due) this often


def _parse_tcp(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"--tcp wants HOST:PORT, got {text!r}")
    return host, int(port)


def serve(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config) if args.config else default_config()
    except ConfigError as e:
        print(f"meter serve: {e}", file=sys.stderr)
        return 2
    start = time.time()
    meter = A1000(config, start_time=start, state_dir=Path(args.state))
    if meter.load_report:
        print(f"meter serve: state: {meter.load_report}", file=sys.stderr)
    meter.set_inputs(start, config.load_inputs())
    bank = meter.register_bank(time.time)
    if args.tcp:
        host, port = args.tcp
        server = MeterServer(bank, transport="tcp", host=host, port=port, lock=bank.lock)
    else:
        server = MeterServer(bank, transport="pty", lock=bank.lock)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    print(server.address, flush=True)
    try:
        while not stop.wait(TICK_S):
            with bank.lock:
                bank.sync()  # advances to wall time; saves every save_interval_s
    finally:
        server.close()
        with bank.lock:
            bank.sync()
            meter.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meter", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve one software A1000 in wall-clock time")
    s.add_argument("--config", help="meter YAML file (default: the A1000 defaults)")
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal")
    where.add_argument("--tcp", type=_parse_tcp, metavar="HOST:PORT", help="serve on TCP")
    s.add_argument("--state", required=True, help="directory of the non-volatile state")
    o = sub.add_parser("obis-table", help="print the OBIS map as markdown")
    o.add_argument("--core", action="store_true", help="only the core (part 1) rows")
    sub.add_parser("defects-table", help="print the defect registry as markdown")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "obis-table":
        from meter.a1000.obis_map import obis_table_markdown

        print(obis_table_markdown(core_only=args.core))
        return 0
    from meter.a1000.defects import defect_table_markdown

    print(defect_table_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
