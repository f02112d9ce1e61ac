"""The `meter-test-rig` console command (installed with the package).

    meter-test-rig typetest [PYTEST ARGS]    the type test: pytest on the installed plans
    meter-test-rig report build RUN|latest   build a run's report (python -m reports)
    meter-test-rig report list               the runs in the store
    meter-test-rig meter serve ...           serve one software A1000 (python -m meter)
    meter-test-rig sim serve ...             serve a simulated bench (python -m rig.sim)
    meter-test-rig check-bench FILE.yaml     validate a bench file and its calibrations
    meter-test-rig benches [--store URL]     the lab benches reserved: who holds each, since when
    meter-test-rig paths                     where the installed plans and bench files are

Every command but `check-bench` and `paths` hands its arguments to the module named, so each
takes the options that module documents (`meter-test-rig report build --help`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from rig.plan import PLANS_DIR
from rig.session import SIM_BENCH_FILE

TESTPLANS_DIR = PLANS_DIR.parent
BENCHES_DIR = SIM_BENCH_FILE.parent
PROG = "meter-test-rig"


def typetest(args: list[str]) -> int:
    """pytest on the installed plans in this process (the rig's plugin is an entry point).
    pytest's cache stays off: the plans may sit in a read-only site-packages."""
    import pytest

    return int(pytest.main([str(TESTPLANS_DIR), "-p", "no:cacheprovider", *args]))


def check_bench(args: list[str]) -> int:
    """Validate a bench file; print its instruments and calibration state. Exit 0 when the
    file is valid and in date (or --allow-overdue), 1 otherwise."""
    from rig.bench.config import BenchFileError, load_bench_file
    from rig.calibration import CalibrationOverdue, check_calibration

    parser = argparse.ArgumentParser(prog=f"{PROG} check-bench", description=check_bench.__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("--allow-overdue", action="store_true",
                        help="overdue calibrations are reported but do not fail the check")
    parser.add_argument("--on", type=dt.date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                        help="check the calibrations as of this date (default today)")
    opts = parser.parse_args(args)
    today = opts.on or dt.date.today()
    try:
        config = load_bench_file(opts.file)
        notes = check_calibration(config, today, allow_overdue=opts.allow_overdue)
    except (BenchFileError, CalibrationOverdue) as exc:
        print(f"{PROG} check-bench: {exc}", file=sys.stderr)
        return 1
    print(f"{opts.file}: valid bench file, lab {config.lab!r}, "
          f"{len(config.positions)} position(s)")
    for role, inst in config.roles():
        due = inst.calibration_due.isoformat() if inst.calibration_due else "no due date"
        u = str(inst.uncertainty) if inst.uncertainty else "no stated uncertainty"
        print(f"  {role}: {inst.driver} {inst.resource}; calibration due {due}; U {u}")
    for note in notes:
        print(f"  warning: {note}")
    return 0


def benches(args: list[str]) -> int:
    """List the reserved lab benches: from the lab's shared store (--store URL or
    METER_TEST_RIG_STORE) when it is a PostgreSQL database, else this machine's bench locks."""
    from reports.store import StoreError, store_location
    from rig.benchlease import database_benches, file_benches
    from rig.benchlock import DEFAULT_LOCK_DIR

    parser = argparse.ArgumentParser(prog=f"{PROG} benches", description=benches.__doc__)
    parser.add_argument("--store", default=None, metavar="URL",
                        help="the lab's store (default: $METER_TEST_RIG_STORE)")
    parser.add_argument("--lock-dir", type=Path, default=DEFAULT_LOCK_DIR,
                        help="where this machine's bench lock files live")
    opts = parser.parse_args(args)
    try:
        location = store_location(opts.store, Path("runs"))
        if isinstance(location, str):
            states, where = database_benches(location), "the lab's store"
        else:
            states, where = file_benches(opts.lock_dir), f"bench locks in {opts.lock_dir}"
    except StoreError as exc:
        print(f"{PROG} benches: {exc}", file=sys.stderr)
        return 2
    if not states:
        print(f"no bench is reserved ({where})")
    for b in states:  # the holder names user, host, process and since when
        run = f", run {b.run_id}" if b.run_id else ""
        state = "held by" if b.held else "free: its holder is gone (crashed), was"
        print(f"{b.bench}\n  {state} {b.holder}{run}")
    return 0


def paths(args: list[str]) -> int:
    print(f"plans:   {TESTPLANS_DIR}")
    print(f"benches: {BENCHES_DIR}")
    return 0


def _delegate(module: str):
    def run(args: list[str]) -> int:
        import importlib

        return int(importlib.import_module(module).main(args) or 0)

    return run


COMMANDS = {
    "typetest": typetest,
    "report": _delegate("reports.__main__"),
    "meter": _delegate("meter.__main__"),
    "sim": _delegate("rig.sim.__main__"),
    "check-bench": check_bench,
    "benches": benches,
    "paths": paths,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        print(__doc__.strip())
        if argv and argv[0] not in {"-h", "--help"}:
            print(f"\n{PROG}: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0 if argv else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
