"""Command line: rebuild a run's report from the store, or list the stored runs.

    python -m reports build RUN [--runs-dir DIR] [--store URL] [--format html,csv,json]
    python -m reports list [--runs-dir DIR] [--store URL]
    python -m reports serve [--store URL] [--host H] [--port P] [--token T]   the lab panel
    python -m reports localdb start|stop|url DIR [--port P]   a local PostgreSQL for the lab

RUN is a run id or 'latest'. Exit status: 0 report built (a warning on stderr when it is
incomplete), 2 the store or the run could not be read.
"""

from __future__ import annotations

import argparse
import os
import sys

from reports.backends import STORE_ENV
from reports.build import FORMATS, build_report, resolve_store
from reports.numbers import fmt_time
from reports.store import ResultsStore, SchemaVersionError, StoreError, store_location


def _formats(text: str) -> list[str]:
    items = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise argparse.ArgumentTypeError(
            f"unknown format(s) {', '.join(bad) or '(none)'}; choose from {','.join(FORMATS)}")
    return items


def main(argv: list[str] | None = None) -> int:
    args_given = sys.argv[1:] if argv is None else argv
    if args_given[:1] == ["serve"]:  # the lab panel has its own options (reports.panel)
        from reports.panel import main as serve

        return serve(args_given[1:])
    if args_given[:1] == ["localdb"]:  # a PostgreSQL server for the lab (reports.localdb)
        from reports.localdb import main as localdb

        return localdb(args_given[1:])
    parser = argparse.ArgumentParser(prog="python -m reports",
                                     description="Accuracy reports from the results store.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the report files of a run")
    b.add_argument("run", help="run id, or 'latest'")
    b.add_argument("--runs-dir", default="runs", help="runs directory (default: runs)")
    b.add_argument("--format", type=_formats, default=list(FORMATS),
                   help="comma-separated: html,csv,json (default: all)")
    ls = sub.add_parser("list", help="list the runs in the store")
    ls.add_argument("--runs-dir", default="runs", help="runs directory (default: runs)")
    for p in (b, ls):
        p.add_argument("--store", default=None, metavar="URL",
                       help="a PostgreSQL URL or store file (default: $METER_TEST_RIG_STORE, "
                       "else the runs directory's store)")
    args = parser.parse_args(argv)
    try:
        shared = args.store or os.environ.get(STORE_ENV) or None
        if args.command == "list":
            path = (resolve_store(args.runs_dir) if shared is None
                    else store_location(shared, args.runs_dir))
            try:
                store = ResultsStore(path, create=False)
            except SchemaVersionError:
                store = ResultsStore(path, create=False, allow_newer=True)
            with store:
                for run in store.list_runs():
                    print(f"{run.run_id}  {run.status:<9}  {fmt_time(run.started_at)}  "
                          f"{run.plan_name} {run.plan_version}")
            return 0
        result = build_report(args.run, args.runs_dir, args.format,
                              store=None if shared is None
                              else store_location(shared, args.runs_dir))
    except StoreError as exc:
        print(f"python -m reports: {exc}", file=sys.stderr)
        return 2
    for fmt, path in result.files.items():
        print(f"{fmt}: {path}")
    if result.incomplete:
        print(f"warning: the report of run {result.run_id} is marked INCOMPLETE:",
              file=sys.stderr)
        for reason in result.reasons:
            print(f"  - {reason}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
