"""Checks of what the operator gave (options, bench file, results store) before anything starts.

Each problem is one line naming the option, file, key or resource and the reason. The pytest
plugin turns them into one usage error before collection, so a mistake is reported once, not
in the setup of every test, and nothing is opened or energised. What can only be found by
opening an instrument or a port (a VISA resource that refuses or stays silent) is found at
session start and reported in one line by `start_failure`.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

from meter.iec62056_21 import ProtocolError
from reports.store import ResultsStore, StoreError, store_path
from rig.bench.config import BenchConfig, BenchFileError, load_bench_file
from rig.importpath import import_object
from rig.instruments.errors import InstrumentError
from rig.plan import PlanError
from rig.served import ServedBenchError
from rig.session import (
    SessionError,
    SessionOptions,
    parse_defect,
    simulator_only_problem,
    store_of,
)

_DEFECT_INDEX = re.compile(r"^defect 1(?: \([^)]*\))?: ")
MAX_POSITIONS = 99  # bench-file position ids are 1..99 (rig.bench.config.Position)


class PreflightError(ValueError):
    """What the operator gave cannot be used; one line per problem."""


def check_options(opts: SessionOptions) -> None:
    """Raise PreflightError naming every option mistake, and the bench file's problems."""
    problems: list[str] = []
    if opts.simulated:
        problems += _simulator_options(opts)
    else:
        misplaced = simulator_only_problem(opts)
        if misplaced:
            problems.append(misplaced)
        problems += check_lab_bench(Path(opts.bench))
    try:
        location = store_of(opts)
    except StoreError as exc:
        problems.append(f"--store: {exc}")
        location = store_path(opts.runs_dir)
    if opts.runs_dir.exists() and not opts.runs_dir.is_dir():
        problems.append(f"--runs-dir {opts.runs_dir}: not a directory")
    elif isinstance(location, str):
        problems += _database(location, opts.resume)
    elif opts.resume is not None:
        problems += _resume(location, opts.resume)
    elif location.exists():
        problems += _store_readable(location)
    if problems:
        raise PreflightError("\n".join(problems))


def _simulator_options(opts: SessionOptions) -> list[str]:
    problems = []
    count = opts.positions if opts.positions is not None else 1
    if not 1 <= count <= MAX_POSITIONS:
        problems.append(f"--positions {count}: must be 1..{MAX_POSITIONS}")
    if opts.meter_model:
        try:
            import_object(opts.meter_model, "meter model")
        except ValueError as exc:
            problems.append(f"--meter-model: {exc}")
    for text in opts.defects:
        problems += _defect(text, count, check_name=not opts.meter_model)
    return problems


def _defect(text: str, count: int, *, check_name: bool) -> list[str]:
    """One --defect value: its syntax, its positions on the bench and (for the bundled A1000;
    a plug-in model brings its own defects) its name and parameters."""
    try:
        positions, defect = parse_defect(text)
    except SessionError as exc:
        return [str(exc)]
    problems = []
    outside = [p for p in positions or () if not 1 <= p <= count]
    if outside:
        problems.append(
            f"--defect {text!r}: no position {', '.join(map(str, outside))} on the bench "
            f"(positions 1..{count}; --positions sets how many)"
        )
    if check_name:
        from meter.a1000.defects import DefectError, build_defects

        try:
            build_defects([defect])
        except DefectError as exc:  # "defect 1 (name): " numbers the meter file's list
            problems.append(f"--defect {text!r}: {_DEFECT_INDEX.sub('', str(exc))}")
    return problems


def check_lab_bench(path: Path) -> list[str]:
    """A lab bench file: its schema, limits that make the plan impossible, resource strings
    that cannot be VISA resources and meter ports that do not exist."""
    try:
        config = load_bench_file(path)
    except BenchFileError as exc:
        return str(exc).splitlines()
    return bench_limits(config) + _resources(config) + _meter_ports(config)


def bench_limits(config: BenchConfig) -> list[str]:
    """Safety limits below what every position needs: each test would be refused."""
    where = config.source_file or "bench file"
    return [
        f"{where}: safety.max_voltage: {config.safety.max_voltage:g} V is below Un "
        f"{p.un:g} V of position {p.id}: no test point at Un could be applied"
        for p in config.positions
        if config.safety.max_voltage < p.un
    ]


def _resources(config: BenchConfig) -> list[str]:
    from pyvisa import rname

    where = config.source_file or "bench file"
    problems = []
    for role, inst in config.roles():
        if inst.resource.startswith("sim:"):
            continue
        try:
            rname.parse_resource_name(inst.resource)
        except (rname.InvalidResourceName, ValueError) as exc:
            reason = str(exc).splitlines()[0]
            problems.append(
                f"{where}: instruments.{role}.resource {inst.resource!r}: not a VISA "
                f"resource string ({reason})"
            )
    return problems


def _meter_ports(config: BenchConfig) -> list[str]:
    """Links that name a device file (not a pyserial URL such as socket://): it must exist."""
    where = config.source_file or "bench file"
    return [
        f"{where}: positions[id={p.id}].link {p.link!r}: no such serial port"
        for p in config.positions
        if "://" not in p.link and not p.link.startswith("sim:") and os.sep in p.link
        and not os.path.exists(p.link)
    ]


def _database(url: str, resume: str | None) -> list[str]:
    """A PostgreSQL store must answer (and hold the run to resume) before anything starts."""
    try:
        with ResultsStore(url, create=resume is None) as store:
            if resume is not None:
                store.get_run(resume)
    except StoreError as exc:
        return [f"--resume {resume}: {exc}" if resume else f"--store: {exc}"]
    return []


def _resume(path: Path, run_id: str) -> list[str]:
    if not path.exists():
        return [f"--resume {run_id}: no results store {path} (see --runs-dir)"]
    try:
        _integrity(path)
        with ResultsStore(path, create=False) as store:
            store.get_run(run_id)
    except StoreError as exc:
        return [f"--resume {run_id}: {exc}"]
    except sqlite3.DatabaseError as exc:
        return [f"--resume {run_id}: {path}: damaged results store ({exc})"]
    return []


def _store_readable(path: Path) -> list[str]:
    """An existing store a new run will be added to must be readable through and through."""
    try:
        _integrity(path)
        ResultsStore(path, create=False).close()
    except StoreError as exc:
        return [f"--runs-dir: {exc}"]
    except sqlite3.DatabaseError as exc:
        return [f"--runs-dir: {path}: damaged results store ({exc})"]
    return []


def _integrity(path: Path) -> None:
    """SQLite's own check of every page, read-only (a garbled page is otherwise met mid-run)."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
    finally:
        db.close()
    found = [str(r[0]) for r in rows if r[0] != "ok"]
    if found:
        raise StoreError(f"{path}: damaged results store ({found[0]})")


# Failures at session start that are the operator's input, not a defect of the rig: reported
# in one line (the rig's own tracebacks are for its developers).
START_ERRORS: tuple[type[BaseException], ...] = (
    SessionError,
    BenchFileError,
    InstrumentError,
    PlanError,
    StoreError,
    ProtocolError,
    ServedBenchError,
    OSError,
)


def start_failure(exc: BaseException) -> str:
    """The one line reporting a session that could not start."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"meter-test-rig: the session did not start, nothing was energised: {text}"
