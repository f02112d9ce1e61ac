"""One rig session: the bench (simulated or real), its timebase, the results store and the run.

The pytest plugin builds a `RigSession` once per pytest session and closes it at the end; the
test plans reach everything through its fixtures. The session owns the order of start and
stop: results store first (a `--resume` is checked against it before anything starts),
simulator next, bench (a safety context) inside it, the run recorded from the first measurement
to the last. SIGINT/SIGTERM are stop requests for the whole session (rig.safety.StopRequest):
the bench is de-energised and verified off, then the run is closed as `aborted`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import logging
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from meter.iec62056_21 import Client, ProtocolError
from meter.iec62056_21.timing import Timing
from reports.records import DecisionRule, MeasurementKey, PositionRecord, RunInfo, RunStatus
from reports.store import ResultsStore, StoreError, store_location
from rig.bench import Bench
from rig.bench.config import BenchConfig, BenchFileError, Position, load_bench_file
from rig.benchlock import BenchBusy, Holder, lab_bench_lock
from rig.calibration import CalibrationOverdue, check_calibration
from rig.meterlink import MeterLink, each
from rig.plan import DEFAULT_PLAN, Plan, load_plan
from rig.runlog import RunLogFile
from rig.safety import SafetyError, StopRequest
from rig.timebase import Timebase, VirtualTimebase, WallTimebase

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SIM_BENCH_FILE = ROOT / "benches" / "sim.yaml"


class SessionError(RuntimeError):
    """The rig session cannot start (bad option, bench or store); the message says why."""


@dataclass(frozen=True)
class SessionOptions:
    """The plugin's command-line options, validated."""

    bench: str = "sim"
    plan: str = DEFAULT_PLAN
    positions: int | None = None
    meter_model: str | None = None
    visa_library: str | None = None  # None: the bench file's visa_library ('@py' by default)
    runs_dir: Path = Path("runs")
    resume: str | None = None
    operator: str = field(default_factory=getpass.getuser)
    decision_rule: str = DecisionRule.SIMPLE.value
    defects: tuple[str, ...] = ()
    password: str = "00000000"
    report: bool = True
    #: Run on a bench with overdue calibrations (stated with the run).
    allow_overdue: bool = False
    #: Where lab-bench lock files live (None: rig.benchlock.DEFAULT_LOCK_DIR).
    lock_dir: Path | None = None
    #: --store: a PostgreSQL URL or a SQLite file (None: the bench file's `store`, then
    #: METER_TEST_RIG_STORE, then runs_dir's SQLite file; see store_of).
    store: str | None = None

    @property
    def simulated(self) -> bool:
        return self.bench == "sim"


def software_version() -> str:
    try:
        return metadata.version("meter-test-rig")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass
class MeterPosition:
    """A meter under test: its bench-file entry and its IEC 62056-21 link."""

    config: Position
    timing: Timing

    @property
    def number(self) -> int:
        return self.config.id

    def client(self) -> Client:
        """A new client on the position's link (use as a context manager)."""
        return Client(self.config.link, device_address=self.config.address, timing=self.timing)


def store_of(opts: SessionOptions, config: BenchConfig | None = None) -> str | Path:
    """Where the run's results go: --store, the lab bench file's `store`, the environment
    variable METER_TEST_RIG_STORE, or the SQLite file of the runs directory (in that order)."""
    chosen = opts.store
    if chosen is None and not opts.simulated:
        if config is None:
            try:
                config = load_bench_file(opts.bench)
            except BenchFileError:
                config = None  # named by the bench file's own check
        chosen = config.store if config is not None else None
    return store_location(chosen, opts.runs_dir)


def simulator_only_problem(opts: SessionOptions) -> str:
    """The options given for a lab bench that apply to the simulated bench only ('' if none)."""
    given = [
        name
        for name, value in (
            ("--positions", opts.positions is not None),
            ("--meter-model", opts.meter_model),
            ("--defect", opts.defects),
        )
        if value
    ]
    if not given:
        return ""
    return (
        f"{', '.join(given)}: for the simulated bench only; the lab bench "
        f"{opts.bench} takes its positions and meters from the bench file"
    )


def parse_defect(text: str) -> tuple[list[int] | None, dict[str, Any]]:
    """`NAME`, `NAME:key=value,key=value` or `2,3=NAME:...` (positions before '=')."""
    positions: list[int] | None = None
    spec = text
    head, sep, rest = text.partition("=")
    if sep and head.replace(",", "").isdigit():
        positions = [int(p) for p in head.split(",")]
        spec = rest
    name, _, params_text = spec.partition(":")
    params: dict[str, Any] = {}
    for pair in filter(None, params_text.split(",")):
        key, eq, value = pair.partition("=")
        if not eq:
            raise SessionError(f"--defect {text!r}: parameter {pair!r} is not key=value")
        try:
            params[key] = float(value)
        except ValueError:
            params[key] = value
    if not name:
        raise SessionError(f"--defect {text!r}: no defect name")
    return positions, {"name": name, **params}


class RigSession:
    """Start with `start()`, stop with `close(status)`; everything in between is a run."""

    def __init__(self, options: SessionOptions) -> None:
        self.options = options
        self.plan: Plan = load_plan(options.plan)
        self._stack = ExitStack()
        self.sim: Any = None
        self.bench: Bench | None = None
        self.timebase: Timebase | None = None
        self.store: ResultsStore | None = None
        self.store_location: str | Path | None = None
        # The bench's reservation in a shared database store (lab benches only).
        self.lease: Any = None
        self.run: RunInfo | None = None
        self.positions: list[MeterPosition] = []
        self.bench_path: Path | None = None
        # Measurements a resumed run completed before: not taken again.
        self.completed: set[MeasurementKey] = set()
        # Set by the pytest plugin: shows a line and waits for Enter (lab benches only).
        self.operator_prompt: Callable[[str], None] | None = None
        # SIGINT/SIGTERM while the session is up: seen by every wait and meter exchange.
        self.stop = StopRequest()
        # Overdue calibrations the operator allowed (--allow-overdue), stated with the run.
        self.calibration_notes: list[str] = []
        self.run_log: RunLogFile | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> RigSession:
        """Start everything; on any failure what was started is closed again (the bench
        de-energised, a run already created closed as aborted or failed)."""
        self.stop.install()
        try:
            self._start()
        except BaseException:
            stopped = self.stop.requested
            try:
                self.close(RunStatus.ABORTED if stopped else RunStatus.FAILED)
            finally:
                self.stop.uninstall()
            raise
        return self

    def _start(self) -> None:
        opts = self.options
        bench_path = SIM_BENCH_FILE if opts.simulated else Path(opts.bench)
        try:
            bench_text = bench_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SessionError(f"--bench {bench_path}: cannot read the bench file: {exc}") from exc
        self.store_location = store_of(opts)
        self.store = self._stack.enter_context(ResultsStore(self.store_location))
        if opts.resume:
            self._check_resume(opts.resume, bench_path, bench_text)
        if opts.simulated:
            from rig.sim.bench import SimBench

            sim_options: dict[str, Any] = {}
            if opts.meter_model:
                sim_options["meter"] = {"model": opts.meter_model}
            sim_options["positions"] = self._defect_options()
            self.sim = self._stack.enter_context(
                SimBench(SIM_BENCH_FILE, positions=opts.positions, sim_options=sim_options)
            )
            bench_file = self.sim.bench_file
            self.bench_path = SIM_BENCH_FILE
        else:
            misplaced = simulator_only_problem(opts)
            if misplaced:
                raise SessionError(misplaced)
            bench_file = bench_path
            self.bench_path = bench_file
        config = load_bench_file(bench_file)
        self._admit(config)
        bench = Bench.open(config, visa_library=opts.visa_library, stop=self.stop)
        self.bench = self._stack.enter_context(bench)
        if self.sim is None:  # a bench served by `python -m rig.sim serve` in virtual time
            from rig.served import attach

            self.sim = attach(bench.config, self._stack)
        if self.sim is not None:
            self.timebase = VirtualTimebase(
                self.sim.control, keepalive=bench.keepalive, stop=self.stop
            )
            # The software meter answers fast on the simulated bench (sim.yaml says how fast).
            timing = Timing(reaction_min=0.0, reaction_min_fast=0.0)
        else:
            self.timebase = WallTimebase(keepalive=bench.keepalive, stop=self.stop)
            timing = Timing()
        self.positions = [MeterPosition(p, timing) for p in bench.positions]
        if opts.resume:
            self.run = self.store.resume_run(opts.resume)
            self.completed = self.store.completed_keys(self.run.run_id)
        else:
            self.run = self.store.create_run(
                plan_name=self.plan.plan,
                plan_version=self.plan.version,
                operator=opts.operator,
                software_version=software_version(),
                decision_rule=opts.decision_rule,
                bench_file=bench_text,
                bench_path=str(self.bench_path),
                lab=bench.config.lab,
                environment=self._environment(),
                started_at=time.time(),
            )
        if self.lease is not None:
            self.lease.note_run(self.run.run_id)
        self.run_log = self._stack.enter_context(
            RunLogFile(opts.runs_dir / self.run.run_id / "run.log")
        )
        self.log(
            f"run {'resumed' if opts.resume else 'started'}: plan {self.plan.plan} "
            f"{self.plan.version}, bench {self.bench_path}, {len(self.positions)} position(s), "
            f"operator {opts.operator}"
            + (f", defects {', '.join(opts.defects)}" if opts.defects else "")
        )
        for note in self.calibration_notes:
            self.log(note, level="warning")
        self._record_identities()

    def _check_resume(self, run_id: str, bench_path: Path, bench_text: str) -> None:
        """Refuse to continue a run with another plan, bench file or number of simulated
        positions: its completed measurements would be mixed with others that do not belong."""
        assert self.store is not None
        try:
            run = self.store.get_run(run_id)
        except StoreError as exc:  # RunNotFoundError names the store and the latest runs
            raise SessionError(f"--resume {run_id}: {exc}") from None
        problems = []
        if (run.plan_name, run.plan_version) != (self.plan.plan, self.plan.version):
            problems.append(
                f"it ran plan {run.plan_name} {run.plan_version}, not "
                f"{self.plan.plan} {self.plan.version} (--plan)"
            )
        if run.bench_hash != hashlib.sha256(bench_text.encode()).hexdigest():
            problems.append(
                f"it ran on bench file {run.bench_path or '?'} with other content than "
                f"{bench_path} (--bench)"
            )
        stored = run.environment.get("positions")
        if self.options.simulated and stored is not None:
            wanted = self.options.positions or len(load_bench_file(bench_path).positions)
            if wanted != stored:
                problems.append(f"it had {stored} simulated position(s), not {wanted} "
                                "(--positions)")
        if problems:
            raise SessionError(f"--resume {run_id} refused: " + "; ".join(problems))

    def _admit(self, config: BenchConfig) -> None:
        """Before any instrument is opened: a lab bench is locked for this run (one run per
        bench) and its calibrations are in date (or overdue ones allowed)."""
        try:
            if not self.options.simulated:
                self._stack.enter_context(
                    lab_bench_lock(config, self.options.lock_dir, f"plan {self.plan.plan}")
                )
                if isinstance(self.store_location, str):  # a lab's shared database
                    from rig.benchlease import DatabaseBenchLease, bench_id

                    assert self.bench_path is not None
                    self.lease = self._stack.enter_context(DatabaseBenchLease(
                        self.store_location, bench_id(config, self.bench_path),
                        Holder(what=f"plan {self.plan.plan}"),
                    ))
            self.calibration_notes = check_calibration(
                config, dt.date.today(), allow_overdue=self.options.allow_overdue
            )
        except (BenchBusy, CalibrationOverdue) as exc:
            raise SessionError(str(exc)) from None

    def log(self, message: str, *, level: str = "info", position: int | None = None) -> None:
        """A line of the run log (shown in the report, and in runs/<run_id>/run.log)."""
        if self.store is not None and self.run is not None:
            self.store.log(self.run.run_id, message, level=level, position=position)
        if self.run_log is not None:
            self.run_log.line(message, level=level, position=position)

    def _defect_options(self) -> dict[int, Any]:
        count = self.options.positions or 1
        per_position: dict[int, list[dict[str, Any]]] = {}
        for text in self.options.defects:
            positions, defect = parse_defect(text)
            for number in positions or range(1, count + 1):
                per_position.setdefault(number, []).append(defect)
        return {n: {"defects": d} for n, d in per_position.items()}

    def _environment(self) -> dict[str, Any]:
        assert self.bench is not None
        env = self.bench.config.environment
        return {
            "temperature_c": env.temperature_c,
            "temperature_sensor": env.sensor,
            "host": platform.node(),
            "python": platform.python_version(),
            "simulated": self.options.simulated,
            "positions": len(self.bench.positions),
            **({"calibration_overdue": self.calibration_notes} if self.calibration_notes else {}),
        }

    def _record_identities(self) -> None:
        """Identity read from each meter itself (readout), stored with the run."""
        assert self.store is not None and self.run is not None
        by_number = {pos.number: pos for pos in self.positions}
        links = {pos.number: self.link(pos) for pos in self.positions}
        # Every meter's readout at once (one thread per port, as for every other read).
        identities = each(links, lambda link: _identity(by_number[link.number]))
        for pos in self.positions:
            identity = identities[pos.number]
            if "error" in identity:
                log.warning("position %d: %s", pos.number, identity["error"])
                self.log(identity["error"], level="warning", position=pos.number)
            self.store.add_position(
                PositionRecord(
                    run_id=self.run.run_id,
                    position=pos.number,
                    serial=str(identity.get("C.1.0", identity.get("0.0.0", ""))),
                    manufacturer=str(identity.get("identification", ""))[:3],
                    meter_type=str(identity.get("identification", ""))[3:],
                    firmware=str(identity.get("0.2.0", "")),
                    constants={
                        "active_imp_per_kwh": pos.config.meter_constant,
                        "reactive_imp_per_kvarh": pos.config.reactive_constant,
                        "un_v": pos.config.un,
                        "in_a": pos.config.in_,
                        "imax_a": pos.config.imax,
                        "wiring": pos.config.wiring,
                        "class": pos.config.accuracy_class,
                    },
                    identity=identity,
                )
            )

    # --- the meters ----------------------------------------------------------------------------
    def link(self, position: MeterPosition) -> MeterLink:
        return MeterLink(
            position.number,
            position.client,
            self.options.password,
            position.config.link,
            stop=self.stop,
        )

    def enter_programming(self, *positions: MeterPosition) -> None:
        """Put the meters in their programming state (A1000 manual 2.2.1: seal open, reset
        button held 8 s until "PRG"), all at once. The simulator presses the buttons; on a lab
        bench the operator is asked to, in one prompt for all the meters."""
        numbers = [p.number for p in positions]
        if not numbers:
            return
        self.stop.check()
        if self.sim is not None:
            self.sim.control.meters(numbers, "seal_open", open=True)
            entered = self.sim.control.meters(numbers, "hold_reset", seconds=8.0)
            refused = [n for n, ok in zip(numbers, entered, strict=True) if not ok]
            if refused:
                raise SessionError(f"position(s) {refused}: the meter did not enter PRG")
            return
        self.ask_operator(
            f"{_positions_text(numbers)}: open the seal and hold the reset button for 8 s "
            "until the display shows PRG, then press Enter."
        )

    def leave_programming(self, *positions: MeterPosition) -> None:
        """End the programming state (a press of the reset button, A1000 manual 2.1.1)."""
        numbers = [p.number for p in positions]
        if not numbers:
            return
        if self.sim is not None:
            self.sim.control.meters(numbers, "reset_button")
            self.sim.control.meters(numbers, "seal_open", open=False)
            return
        self.ask_operator(
            f"{_positions_text(numbers)}: press the reset button once (PRG ends) and close "
            "the seal, then press Enter."
        )

    @contextmanager
    def programming(self, *positions: MeterPosition) -> Iterator[None]:
        """The meters in their programming state for the block (left again however it ends),
        so their writes can go out in parallel (`rig.meterlink.each`)."""
        self.enter_programming(*positions)
        try:
            yield
        finally:
            if self.stop.requested:
                # Stopping: no button presses or operator prompts now; the meters leave
                # programming at their own time-out (or when the operator attends to them).
                self.log(
                    f"{_positions_text([p.number for p in positions])}: left in programming "
                    f"mode ({self.stop.reason})",
                    level="warning",
                )
            else:
                self.leave_programming(*positions)

    def ask_operator(self, text: str) -> None:
        """A lab bench step only a person can do; waits for Enter on the terminal."""
        if self.operator_prompt is None:
            raise SessionError(f"operator action needed but no terminal: {text}")
        self.operator_prompt(text)

    def close(self, status: RunStatus = RunStatus.COMPLETED) -> None:
        """De-energise and verify, then log what happened in the order it happened and close
        the run (`aborted` whenever a stop was requested), then everything else. Raises
        SafetyError, after closing the rest, if the source could not be verified off.

        The stop request's signal handlers stay installed (a late Ctrl-C is still recorded, not
        raised); the plugin removes them once the report is built (`stop.uninstall()`)."""
        if self.stop.requested:
            status = RunStatus.ABORTED
        unsafe: SafetyError | None = None
        off = ""
        try:
            if self.bench is not None:
                try:
                    self.bench.de_energise()
                    off = "source off (verified)"
                except SafetyError as exc:
                    unsafe = exc
                    off = f"SOURCE NOT VERIFIED OFF: {exc}"
            if self.store is not None and self.run is not None:
                run_id = self.run.run_id
                # Logged with the times they happened at (the log is ordered by time).
                if self.stop.reason is not None:
                    self.store.log(run_id, f"stop requested: {self.stop.reason}",
                                   level="warning", kind="stop", t=self.stop.at)
                for name, t in self.stop.repeated:
                    self.store.log(
                        run_id,
                        f"{name} received again while stopping: ignored, the de-energising "
                        "and its verification ran to the end",
                        level="warning",
                        t=t,
                    )
                if off:
                    self.log(off, level="error" if unsafe else "info")
                self.log(
                    f"run {RunStatus(status).value}",
                    level="info" if status is RunStatus.COMPLETED else "warning",
                )
                self.store.finish_run(self.run.run_id, status)
        finally:
            self._stack.close()
        if unsafe is not None:
            raise unsafe


# Readout addresses that identify a meter (standards.md 6.8: C.1.0 manufacturer serial,
# 0.0.0 ownership number, 0.2.0 firmware).
IDENTITY_ADDRESSES = ("C.1.0", "0.0.0", "0.0.1", "0.0.2", "0.0.3", "0.2.0", "0.3.0", "0.3.1")


def _identity(pos: MeterPosition) -> dict[str, Any]:
    """What the meter says of itself in its readout, or why it could not be read."""
    try:
        with pos.client() as client:
            readings = client.readout()
            ident = client.identification
    except (ProtocolError, OSError) as exc:
        return {"error": f"identity not read: {exc}"}
    by_address = {r.address: r.raw for r in readings}
    return {
        "identification": f"{ident.manufacturer}{ident.ident}" if ident else "",
        **{a: by_address[a] for a in IDENTITY_ADDRESSES if a in by_address},
    }


def _positions_text(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return f"Position {numbers[0]}"
    return "Positions " + ", ".join(str(n) for n in numbers) + " (each meter)"
