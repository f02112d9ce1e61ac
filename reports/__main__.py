"""Command line: rebuild a run's report from the store, list the stored runs, sign a report.

    python -m reports build RUN [--runs-dir DIR] [--store URL] [--format html,csv,json]
                                [--meta FILE] [--no-pdf]
    python -m reports list [--runs-dir DIR] [--store URL]
    python -m reports keygen FILE                 # Ed25519 key: FILE (private), FILE.pub
    python -m reports sign RUN --key FILE [--runs-dir DIR] [--store URL]
    python -m reports verify RUN [--public-key FILE.pub] [--runs-dir DIR] [--store URL]
    python -m reports history SERIAL [--runs-dir DIR] [--store URL] [--out FILE]
    python -m reports serve [--store URL] [--host H] [--port P] [--token T]   the lab panel
    python -m reports localdb start|stop|url DIR [--port P]   a local PostgreSQL for the lab

RUN is a run id or 'latest'. Exit status: 0 done (a warning on stderr when the report is
incomplete or report.pdf could not be printed), 1 verification failed or no run tested the
meter, 2 the store, the run,
the metadata file, the template folder or the key could not be used.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from reports.backends import STORE_ENV
from reports.build import FORMATS, build_report, load_for_report, resolve_store, runs_folder
from reports.history import write_history
from reports.numbers import fmt_time
from reports.page import TemplateFolderError
from reports.reportmeta import ReportMetaError
from reports.signing import SignatureError, sign, verify, write_key
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
    b.add_argument("--meta", default=None, metavar="FILE",
                   help="report metadata file (customer, item, report number, authoriser); "
                        "kept in the run folder for later rebuilds")
    b.add_argument("--no-pdf", action="store_true", help="do not print report.pdf")
    ls = sub.add_parser("list", help="list the runs in the store")
    ls.add_argument("--runs-dir", default="runs", help="runs directory (default: runs)")
    kg = sub.add_parser("keygen", help="write a new Ed25519 signing key (PEM) and its .pub")
    kg.add_argument("key", help="private key file to create")
    sg = sub.add_parser("sign", help="sign a built report (report.sig)")
    sg.add_argument("run", help="run id, or 'latest'")
    sg.add_argument("--key", required=True, help="Ed25519 private key, PEM")
    sg.add_argument("--runs-dir", default="runs", help="runs directory (default: runs)")
    vf = sub.add_parser("verify", help="check a signed report against its files")
    vf.add_argument("run", help="run id, or 'latest'")
    vf.add_argument("--public-key", default=None,
                    help="the signer's public key, PEM (default: the key recorded in report.sig,"
                         " which shows integrity only)")
    vf.add_argument("--runs-dir", default="runs", help="runs directory (default: runs)")
    hs = sub.add_parser("history", help="every run of one meter, its verdicts and curves")
    hs.add_argument("serial", help="the meter's serial number, as read from the meter")
    hs.add_argument("--runs-dir", default="runs", help="runs directory (default: runs)")
    hs.add_argument("--out", default=None,
                    help="HTML file to write (default: <runs-dir>/history-<serial>.html)")
    for p in (b, ls, sg, vf, hs):
        p.add_argument("--store", default=None, metavar="URL",
                       help="a PostgreSQL URL or store file (default: $METER_TEST_RIG_STORE, "
                       "else the runs directory's store)")
    args = parser.parse_args(argv)
    try:
        if args.command == "history":
            return _history(args)
        if args.command == "keygen":
            for path in write_key(Path(args.key)):
                print(path)
            return 0
        if args.command in ("sign", "verify"):
            return _sign_or_verify(args)
        if args.command == "list":
            path = _store_path(args)
            try:
                store = ResultsStore(path, create=False)
            except SchemaVersionError:
                store = ResultsStore(path, create=False, allow_newer=True)
            with store:
                for run in store.list_runs():
                    print(f"{run.run_id}  {run.status:<9}  {fmt_time(run.started_at)}  "
                          f"{run.plan_name} {run.plan_version}")
            return 0
        result = build_report(args.run, args.runs_dir, args.format, meta=args.meta,
                              pdf=not args.no_pdf, store=_shared(args))
    except (StoreError, ReportMetaError, TemplateFolderError, SignatureError) as exc:
        print(f"python -m reports: {exc}", file=sys.stderr)
        return 2
    for fmt, path in result.files.items():
        print(f"{fmt}: {path}")
    if result.incomplete:
        print(f"warning: the report of run {result.run_id} is marked INCOMPLETE:",
              file=sys.stderr)
        for reason in result.reasons:
            print(f"  - {reason}", file=sys.stderr)
    if result.content_hash:
        print(f"content hash (SHA-256): {result.content_hash}")
    for note in result.notes:
        print(f"warning: {note}", file=sys.stderr)
    return 0


def _shared(args: argparse.Namespace) -> str | Path | None:
    """The store named by --store or the environment (None: the runs directory's own)."""
    shared = args.store or os.environ.get(STORE_ENV) or None
    return None if shared is None else store_location(shared, args.runs_dir)


def _store_path(args: argparse.Namespace) -> str | Path:
    shared = _shared(args)
    return resolve_store(args.runs_dir) if shared is None else shared


def _history(args: argparse.Namespace) -> int:
    path = _store_path(args)
    folder = runs_folder(args.runs_dir, _shared(args))
    out = Path(args.out) if args.out else folder / f"history-{args.serial}.html"
    with ResultsStore(path, create=False) as store:
        h = write_history(store, args.serial, out)
    for r in h.runs:
        print(f"{r.label}  {r.run_id}  {r.plan}  position {r.position}: {r.verdict} "
              f"(run {r.status})")
    if not h.runs:
        print(f"no run tested a meter with serial {args.serial}", file=sys.stderr)
    print(f"html: {out}")
    return 0 if h.runs else 1


def _sign_or_verify(args: argparse.Namespace) -> int:
    data = load_for_report(args.run, args.runs_dir, _shared(args))
    folder = runs_folder(args.runs_dir, _shared(args)) / data.run.run_id
    if args.command == "sign":
        print(f"signed: {sign(folder, Path(args.key))}")
        return 0
    try:
        done = verify(folder, Path(args.public_key) if args.public_key else None)
    except SignatureError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    who = ("by the key given" if args.public_key else
           "by the key recorded in report.sig (give --public-key to check who signed)")
    print(f"OK: {', '.join(done.files)} as signed {who}; key {done.public_key}; content hash "
          f"{done.content_hash}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
