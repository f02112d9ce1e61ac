"""Command line of the software meter.

    python -m meter serve [--config FILE] (--pty | --tcp HOST:PORT) --state DIR
                          [--control HOST:PORT] [--programming] [--speed N]

Runs one A1000 in wall-clock time (``--speed N``: N times faster) with the load of its
configuration (``load:``), serving IEC 62056-21 on a pty or a TCP port (meter.standalone). The
first line on stdout is the address it listens on (the pty device path, or HOST:PORT; port 0
takes a free port); with ``--control`` the second is ``control HOST:PORT``. Without
``--config`` the A1000 defaults (``meter/a1000/default.yaml``: modest balanced load, P1
password 00000000). ``--programming``: seal open and programming state entered at start.
Ctrl-C / SIGTERM: save the state and exit cleanly (status 0).

    python -m meter control ADDR press reset --hold 8    (seal, inputs, condition, defect,
                                                          display, pulses, register, state)

    python -m meter obis-table [--core]   the OBIS map as a markdown table
    python -m meter defects-table   the defect registry as a markdown table
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from meter.a1000.config import ConfigError, default_config, load_config
from meter.a1000.meter import HARDWARE_CONDITIONS
from meter.control import ControlError, ControlServer, MeterControl
from meter.iec62056_21.server import MeterServer
from meter.standalone import StandaloneMeter


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
    try:
        standalone = StandaloneMeter(config, Path(args.state), speed=args.speed,
                                     programming=args.programming)
    except ValueError as e:
        print(f"meter serve: {e}", file=sys.stderr)
        return 2
    if standalone.meter.load_report:
        print(f"meter serve: state: {standalone.meter.load_report}", file=sys.stderr)
    bank = standalone.bank
    if args.tcp:
        host, port = args.tcp
        server = MeterServer(bank, transport="tcp", host=host, port=port, lock=standalone.lock)
    else:
        server = MeterServer(bank, transport="pty", lock=standalone.lock)
    control = None
    if args.control:
        host, port = args.control
        control = ControlServer(standalone.call, host, port)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    print(server.address, flush=True)
    if control is not None:
        control.start()
        print(f"control {control.address}", flush=True)
    try:
        standalone.run(stop)
    finally:
        if control is not None:
            control.close()
        server.close()
        standalone.close()
    return 0


def control(args: argparse.Namespace) -> int:
    """`python -m meter control ADDR ...`: one control request, its result printed."""
    try:
        with MeterControl(args.address) as c:
            result = _control_request(c, args)
    except (ControlError, ValueError, OSError) as e:
        print(f"meter control: {e}", file=sys.stderr)
        return 1
    if isinstance(result, str):
        print(result)
    elif result is not None:
        print(json.dumps(result, indent=1))
    return 0


def _control_request(c: MeterControl, args: argparse.Namespace) -> Any:
    what = args.what
    if what == "press":
        return c.press(args.button, args.hold)
    if what == "seal":
        return c.seal(args.state == "open")
    if what == "inputs":
        values = {k: getattr(args, k) for k in ("u", "i", "u_angle", "i_angle", "frequency")}
        return c.inputs(args.phase, **{k: v for k, v in values.items() if v is not None})
    if what == "condition":
        return c.condition(args.name, not args.off)
    if what == "defect":
        return c.defects([json.loads(d) if d.startswith("{") else d for d in args.defects])
    if what == "display":
        return c.display()
    if what == "pulses":
        return c.pulses()
    if what == "register":
        return c.meter("register", quantity=args.quantity, tariff=args.tariff)
    if what == "state":
        return {"time": c.time(), "in_programming": c.meter("in_programming"),
                "powered": c.meter("powered"), "error_register": c.meter("error_register")}
    return c.time()


def _control_parser(sub: Any) -> None:
    c = sub.add_parser("control", help="drive a served meter's control endpoint")
    c.add_argument("address", metavar="ADDR", help="HOST:PORT printed by serve --control")
    w = c.add_subparsers(dest="what", required=True)
    p = w.add_parser("press", help="press a button; --hold S holds the reset button")
    p.add_argument("button", choices=("reset", "display"))
    p.add_argument("--hold", type=float, metavar="S", help="hold it S seconds (8: PRG)")
    s = w.add_parser("seal", help="open or close the seal lid")
    s.add_argument("state", choices=("open", "close"))
    i = w.add_parser("inputs", help="set voltage, current, angles, frequency")
    i.add_argument("--phase", type=int, choices=(1, 2, 3), help="one phase (default: all)")
    for name, what in (("u", "voltage V rms"), ("i", "current A rms"),
                       ("u-angle", "voltage angle deg"), ("i-angle", "current angle deg"),
                       ("frequency", "Hz")):
        i.add_argument(f"--{name}", type=float, help=what)
    k = w.add_parser("condition", help="inject an ERR 2 hardware condition")
    k.add_argument("name", choices=sorted(HARDWARE_CONDITIONS))
    k.add_argument("--off", action="store_true", help="the condition clears")
    d = w.add_parser("defect", help="replace the meter by one with these defects")
    d.add_argument("defects", nargs="*", help='names, or JSON like {"name": ..., "percent": 2}')
    w.add_parser("display", help="print the LCD text")
    w.add_parser("pulses", help="print the pulse counts of every output and LED")
    r = w.add_parser("register", help="print a register's full value")
    r.add_argument("quantity", help="import, export, q1..q4, s_import, s_export")
    r.add_argument("--tariff", type=int, default=0)
    w.add_parser("state", help="time, programming state, power, error register")
    w.add_parser("time", help="the meter's true time (seconds since 1970)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meter", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve one software A1000 in wall-clock time")
    s.add_argument("--config", help="meter YAML file (default: the A1000 defaults)")
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal")
    where.add_argument("--tcp", type=_parse_tcp, metavar="HOST:PORT", help="serve on TCP")
    s.add_argument("--state", required=True, help="directory of the non-volatile state")
    s.add_argument("--control", type=_parse_tcp, metavar="HOST:PORT",
                   help="serve the control endpoint (buttons, seal, inputs, ...) here")
    s.add_argument("--programming", action="store_true",
                   help="start with the seal open and the programming state entered")
    s.add_argument("--speed", type=float, default=1.0, metavar="N",
                   help="run the meter's clock N times the wall clock (protocol timing real)")
    _control_parser(sub)
    o = sub.add_parser("obis-table", help="print the OBIS map as markdown")
    o.add_argument("--core", action="store_true", help="only the core (part 1) rows")
    sub.add_parser("defects-table", help="print the defect registry as markdown")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "control":
        return control(args)
    if args.command == "obis-table":
        from meter.a1000.obis_doc import obis_table_markdown

        print(obis_table_markdown(core_only=args.core))
        return 0
    from meter.a1000.defects import defect_table_markdown

    print(defect_table_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
