"""One rig session: the bench (simulated or real), its timebase, the results store and the run.

The pytest plugin builds a `RigSession` once per pytest session and closes it at the end; the
test plans reach everything through its fixtures. The session owns the order of start and
stop: results store first (a `--resume` is checked against it before anything starts),
simulator next, bench (a safety context) inside it, the run recorded from the first measurement
to the last. SIGINT/SIGTERM are stop requests for the whole session (rig.safety.StopRequest):
the stop watcher de-energises the bench and verifies it off at once (rig.stopwatch), then the
run is closed as `aborted`, its log lines at the times things happened.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from meter.iec62056_21 import Client, ProtocolError
from meter.iec62056_21.timing import Timing
from reports.benchinfo import BENCH_CONFIG_EVENT, BENCH_JSON
from reports.records import DecisionRule, MeasurementKey, PositionRecord, RunInfo, RunStatus
from reports.store import ResultsStore, StoreError, store_location
from rig.bench import Bench
from rig.bench.bench import open_instrument, open_visa_library
from rig.bench.calculators import assign
from rig.bench.config import BenchConfig, BenchFileError, Position, load_bench_file
from rig.bench.outputs import check_output, sees
from rig.benchlock import BenchBusy, Holder, lab_bench_lock
from rig.calibration import CalibrationOverdue, check_calibration
from rig.environment import EnvironmentLog, EnvironmentReading
from rig.hands import Hands, HandsError, OperatorHands, SimulatorHands, positions_text
from rig.instruments.errors import InstrumentError
from rig.meterlink import SIMULATED_LINE_TIMING, MeterLink, each
from rig.plan import DEFAULT_PLAN, Plan, load_plan
from rig.runlog import RunLogFile
from rig.safety import SafetyError, StopRequest
from rig.schedule import LoadLog
from rig.tariffs import TARIFF_LEFT, ForcedCalendar, TariffCarry, left_forced, write_back
from rig.timebase import Timebase, VirtualTimebase, WallTimebase
from rig.timeref import TimeReference, host_clock, virtual_clock

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SIM_BENCH_FILE = ROOT / "benches" / "sim.yaml"
SIM_PROCESS_CHOICES = ("auto", "yes", "no")
#: `--sim-process auto` serves the simulated bench in a child process from this many positions
#: on (None: never), when a core is free for it (`spare_core`). Measured side by side (README
#: "The simulated bench in a process of its own", benchmarks/bench_sim_process.py) once the
#: rig talks to its meters from one thread (rig.meterhub) and the simulator serves every line
#: from one (rig.sim.meterport): on the idle 2-core machine the child took 0.92x the wall time
#: at 1 position and 0.71x at 12; under load 10-20 it was slower (each exchange waits for the
#: other process to be scheduled), hence the free-core condition.
SIM_PROCESS_AUTO_POSITIONS: int | None = 1
#: What `--sim-process auto` means when this environment variable says `yes` or `no` (the test
#: suite pins `no`, so a test's plan run does not change with the machine's load).
SIM_PROCESS_ENV = "METER_TEST_RIG_SIM_PROCESS"


def idle_cores(sample_s: float = 0.1) -> float | None:
    """How many cores were idle over the next `sample_s` (the aggregate `cpu` line of
    /proc/stat, proc(5): idle + iowait jiffies against all); None where there is no /proc/stat.
    A measure of now: the load average trails a run that has just ended by minutes."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        return ticks[3] + ticks[4], sum(ticks)

    try:
        idle0, total0 = sample()
        time.sleep(sample_s)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return (idle1 - idle0) / (total1 - total0) * (os.cpu_count() or 1)


def spare_core(idle: float | None = None, cpus: int | None = None) -> bool:
    """Whether a core is free for a second busy process beside this rig: the machine has two
    or more, and about one was idle just now (`idle_cores`; the rig itself keeps one busy
    while it starts). Unknown (no /proc/stat): not free."""
    if cpus is None:
        cpus = os.cpu_count() or 1
    if idle is None:
        idle = idle_cores()
    return idle is not None and cpus >= 2 and idle >= 0.75


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
    #: --sim-process: serve the simulated bench in a child process ('yes'), in this one
    #: ('no'), or as `SIM_PROCESS_AUTO_POSITIONS` says ('auto').
    sim_process: str = "auto"

    @property
    def simulated(self) -> bool:
        return self.bench == "sim"

    @property
    def sim_in_child(self) -> bool:
        """Whether the simulated bench runs in a process of its own (rig.served.spawn)."""
        if self.sim_process == "auto":
            pinned = os.environ.get(SIM_PROCESS_ENV, "auto")
            if pinned not in SIM_PROCESS_CHOICES:
                raise SessionError(f"{SIM_PROCESS_ENV}={pinned!r}: expected one of "
                                   f"{', '.join(SIM_PROCESS_CHOICES)}")
            if pinned != "auto":
                return pinned == "yes"
            first = SIM_PROCESS_AUTO_POSITIONS
            return first is not None and (self.positions or 1) >= first and spare_core()
        return self.sim_process == "yes"


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
            ("--sim-process", opts.sim_process != "auto"),
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

    def __init__(self, options: SessionOptions, hands: Hands | None = None) -> None:
        self.options = options
        # What a person does at the bench (rig.hands): given, or chosen when the bench is known
        # (the simulator's control, or the operator through `operator_prompt`).
        self.hands = hands
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
        # Set by the pytest plugin: shows a line to the operator and returns the line typed.
        self.operator_prompt: Callable[[str], str] | None = None
        # SIGINT/SIGTERM while the session is up: seen by every wait and meter exchange.
        self.stop = StopRequest()
        # The status the run was stored with by `close` (None before): a stop requested after
        # it (a late Ctrl-C while the report is built) changes nothing of the run.
        self.closed_as: RunStatus | None = None
        # Overdue calibrations the operator allowed (--allow-overdue), stated with the run.
        self.calibration_notes: list[str] = []
        self.run_log: RunLogFile | None = None
        # Ambient temperature and humidity (rig.environment), from the start of the run.
        self.environment: EnvironmentLog | None = None
        # Each position's counted calculator input and the meter output it is cabled to now
        # (the bench file's pulse_wiring until connect_output moves a cable).
        self._counted_inputs: dict[int, str] | None = None
        self._cabled: dict[int, str] | None = None
        # Every load the bench applied, with the plan test applying it (rig.schedule), and the
        # background items open (rig.procedures.clock.BackgroundClock by plan item id).
        self.loads = LoadLog()
        self.background: dict[str, Any] = {}
        # What a tariff test leaves the next (rig.tariffs.TariffCarry), and how many times the
        # meters were put in their programming state (no write reaches a meter outside it).
        self.tariff_carry = TariffCarry()
        self.programming_entries = 0

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
            if opts.sim_in_child:
                from rig.served import spawn

                self.sim, bench_file = spawn(SIM_BENCH_FILE, self._stack,
                                             positions=opts.positions, sim_options=sim_options,
                                             stop=self.stop)
            else:
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
        # From here a stop request switches the source off at once, in its own thread, even
        # while a test is computing (rig.stopwatch); close() logs what it did.
        bench.watch_stop()
        if self.sim is None:  # a bench served by `python -m rig.sim serve` in virtual time
            from rig.served import attach

            self.sim = attach(bench.config, self._stack)
        if self.sim is not None:
            self.timebase = VirtualTimebase(
                self.sim.control, keepalive=self._keepalive, stop=self.stop
            )
            # The line's protocol times are virtual there (rig.meterlink).
            timing = SIMULATED_LINE_TIMING
        else:
            self.timebase = WallTimebase(keepalive=self._keepalive, stop=self.stop)
            timing = Timing()
        self.positions = [MeterPosition(p, timing) for p in bench.positions]
        timebase = self.timebase
        bench.load_listeners.append(lambda point: self.loads.note(timebase.now(), point))
        if self.hands is None:
            self.hands = self._default_hands()
        self.environment = self._environment_log(bench.config)
        try:
            self.environment.read()  # at the start: stored with the run as it is created
        except HandsError as exc:
            raise SessionError(f"environment: {exc}") from None
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
        pid = getattr(self.sim, "pid", None)
        if pid is not None:
            self.log(f"simulated bench served by process {pid} (--sim-process "
                     f"{opts.sim_process})",
                     kind="sim_process", data={"pid": pid})
        for note in self.calibration_notes:
            self.log(note, level="warning")
        self._store_bench_config(bench.config)
        self._record_environment(self.environment.readings[0])
        self._record_identities()
        if opts.resume:
            self._tariff_left_before()

    def _store_bench_config(self, config: BenchConfig) -> None:
        """The validated bench configuration, as the run used it (resolved addresses), stored
        with the run: `runs/<run_id>/bench.json` and the store's `bench_config` event. The
        report reads it (reports/benchinfo.py), not the bench file's raw text."""
        assert self.store is not None and self.run is not None
        path = self.options.runs_dir / self.run.run_id / BENCH_JSON
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config.model_dump_json(by_alias=True, indent=2), encoding="utf-8")
        self.log(f"bench configuration validated, stored in {path}", kind=BENCH_CONFIG_EVENT,
                 data=config.model_dump(mode="json", by_alias=True))

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

    def log(self, message: str, *, level: str = "info", position: int | None = None,
            kind: str = "log", at: float | None = None,
            data: dict[str, Any] | None = None) -> None:
        """A line of the run log (shown in the report, and in runs/<run_id>/run.log); `kind`:
        the store's event kind; `at`: when it happened (time.time), if not now; `data`: facts
        kept with it in the store. Main thread only (the store's connection is the main
        thread's)."""
        if self.store is not None and self.run is not None:
            self.store.log(self.run.run_id, message, level=level, position=position, kind=kind,
                           t=at, data=data)
        if self.run_log is not None:
            self.run_log.line(message, level=level, position=position, at=at)

    def _defect_options(self) -> dict[int, Any]:
        count = self.options.positions or 1
        per_position: dict[int, list[dict[str, Any]]] = {}
        for text in self.options.defects:
            positions, defect = parse_defect(text)
            for number in positions or range(1, count + 1):
                per_position.setdefault(number, []).append(defect)
        return {n: {"defects": d} for n, d in per_position.items()}

    def _environment_log(self, config: BenchConfig) -> EnvironmentLog:
        """How the room is read: fixed values, the environment sensor (opened here on the bench
        file's VISA library, closed with the session), or the operator through the hands."""
        sensor = None
        inst = config.instruments.environment
        if inst is not None:
            library = open_visa_library(self.options.visa_library or config.visa_library, config)
            sensor = open_instrument(library, "environment", inst)
            self._stack.callback(sensor.close)
        assert self.timebase is not None
        return EnvironmentLog(config.environment, self.timebase.now, self._record_environment,
                              sensor=sensor, sensor_name=inst.driver if inst else "",
                              hands=self.hands)

    def _record_environment(self, reading: EnvironmentReading) -> None:
        """A reading with the run: a run-log line and an `environment` event (its data: the
        reading's fields, with its time). Before the run exists, the run's own environment
        record holds the first one."""
        self.log(f"environment: {reading}", kind="environment", data=reading.as_dict())

    def _keepalive(self) -> None:
        """At every wait: the instruments' watchdogs fed; a sensor reading when one is due (the
        operator is asked between plan items only, `environment_check`)."""
        assert self.bench is not None
        self.bench.keepalive()
        env = self.environment
        if env is not None and env.config.read_by == "sensor":
            self.environment_check()

    def environment_check(self) -> None:
        """A reading of the room if one is due (the plugin calls it before each plan item). A
        reading that fails is logged as a warning; the run goes on with the last one."""
        if self.environment is None:
            return
        try:
            self.environment.check()
        except (InstrumentError, HandsError) as exc:
            self.log(f"environment not read: {exc}", level="warning", kind="environment")

    def _environment(self) -> dict[str, Any]:
        assert self.bench is not None and self.environment is not None
        env = self.bench.config.environment
        first = self.environment.readings[0]
        return {
            "temperature_c": first.temperature_c,
            "humidity_pct": first.humidity_pct,
            "environment_source": first.source,
            "environment_interval_min": env.interval_min if env.read_by else None,
            "time_reference": str(self._read_time_reference()),
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
        # Every meter's readout at once (one task per port, as for every other read).
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
            time_reference=self.time_reference,
        )

    def _read_time_reference(self) -> TimeReference:
        if isinstance(self.timebase, VirtualTimebase):
            return virtual_clock(self.timebase.now())
        return host_clock()

    def time_reference(self) -> TimeReference:
        """True time's source now, and its uncertainty (rig.timeref): the simulator's virtual
        time, or the host clock with its synchronisation state. Recorded with the run as a
        `time_reference` event (its data: TimeReference fields) each time a clock is read."""
        reference = self._read_time_reference()
        self.log(f"time reference: {reference}",
                 level="info" if reference.synchronised else "warning",
                 kind="time_reference", data=reference.as_dict())
        return reference

    def _default_hands(self) -> Hands:
        """The simulator's control on a simulated (or served) bench, else the operator."""
        if self.sim is not None:
            return SimulatorHands(self.sim.control)
        return OperatorHands(self.operator_prompt)

    def _hands(self) -> Hands:
        return self.hands if self.hands is not None else self._default_hands()

    def enter_programming(self, *positions: MeterPosition) -> None:
        """Put the meters in their programming state (A1000 manual 2.2.1: seal open, reset
        button held 8 s until "PRG"), all at once, by the session's hands (rig.hands)."""
        numbers = [p.number for p in positions]
        if not numbers:
            return
        self.stop.check()
        self.programming_entries += 1
        self._hands().enter_programming(numbers)

    def leave_programming(self, *positions: MeterPosition) -> None:
        """End the programming state (a press of the reset button, A1000 manual 2.1.1)."""
        numbers = [p.number for p in positions]
        if numbers:
            self._hands().leave_programming(numbers)

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
                    f"{positions_text([p.number for p in positions])}: left in programming "
                    f"mode ({self.stop.reason})",
                    level="warning",
                )
            else:
                self.leave_programming(*positions)

    def ask_operator(self, text: str) -> None:
        """A bench step only a person can do, confirmed when done (rig.hands)."""
        self._hands().act(text)

    def connect_output(self, positions: Sequence[MeterPosition], output: str) -> dict[int, str]:
        """Each position's counted error-calculator input (rig.bench.calculators) cabled to
        meter output `output` (rig.bench.outputs): where it is cabled to another, the session's
        hands move it (the operator on a lab bench, the simulator's control on a simulated
        one), logged with the run. Returns each position's counted input."""
        check_output(output)
        counted, cabled = self._wiring()
        inputs = {p.number: counted[p.number] for p in positions}
        move = {n: i for n, i in inputs.items() if not sees(cabled[n], output)}
        if move:
            self.stop.check()
            self._hands().connect(move, output)
            cabled.update(dict.fromkeys(move, output))
            self.log(f"{positions_text(list(move))}: error-calculator input cabled to {output}",
                     kind="pulse_wiring", data={"output": output,
                                                "inputs": {str(n): i for n, i in move.items()}})
        return inputs

    @contextmanager
    def cabled_to(self, positions: Sequence[MeterPosition],
                  output: str) -> Iterator[dict[int, str]]:
        """Each position's counted input on meter output `output` for the block
        (`connect_output`), cabled back as it was afterwards; yields the inputs. When the run
        is stopping, nobody is asked to move a cable: the log says where each was left."""
        before = {p.number: self.cabled_output(p.number) for p in positions}
        inputs = self.connect_output(positions, output)
        try:
            yield inputs
        finally:
            if self.stop.requested:
                self.log(f"{positions_text(list(before))}: error-calculator input left cabled to "
                         f"{output} ({self.stop.reason})", level="warning")
            else:
                for was in dict.fromkeys(before.values()):
                    self.connect_output([p for p in positions if before[p.number] == was], was)

    def cabled_output(self, number: int) -> str:
        """What position `number`'s counted input is cabled to now (the bench file's wiring
        until `connect_output` moved it)."""
        return self._wiring()[1][number]

    def _wiring(self) -> tuple[dict[int, str], dict[int, str]]:
        """(counted input, output it is cabled to) by position, from the bench file at first."""
        if self._counted_inputs is None or self._cabled is None:
            assert self.bench is not None, "the session has not started"
            config = self.bench.config
            self._counted_inputs = {a.position: a.pulse_input for a in assign(config)}
            self._cabled = {n: config.position(n).wired_output(i)
                            for n, i in self._counted_inputs.items()}
        return self._counted_inputs, self._cabled

    def _calendars_back(self) -> None:
        """Each meter's own calendar written back where the session ends after a series of
        tariff tests (rig.tariffs.write_back), before the source goes off. After a stop request
        nothing is sent to a meter: the run log says which tariff is left in force where, as
        it does when the write back fails (the source goes off all the same)."""
        forced = self.tariff_carry.forced
        if forced is None or self.bench is None:
            return
        left = left_forced(self)
        # Each meter's own tables with the line, to write back by hand (or by a later run).
        own = {"tariff": forced.tariff,
               "calendars": {str(n): tables for n, tables in forced.saved.items()}}
        if self.stop.requested:
            self.log(f"{left}: {self.stop.reason}", level="warning", kind=TARIFF_LEFT, data=own)
            return
        try:
            write_back(self)
        except Exception as exc:  # the source goes off whatever failed here
            self.log(f"{left}: {exc}", level="error", kind=TARIFF_LEFT, data=own)

    def _tariff_left_before(self) -> None:
        """A resumed run whose session before ended with a tariff left in force (its
        `TARIFF_LEFT` line, `_calendars_back`): each meter's own calendar, logged with that
        line, written back now, before any test reads it as the meter's own."""
        assert self.store is not None and self.run is not None
        left = self.store.events(self.run.run_id, kinds=(TARIFF_LEFT,))
        if not left or not left[-1].data.get("calendars"):
            return
        data = left[-1].data
        by_number = {p.number: p for p in self.positions}
        saved = {int(n): tables for n, tables in data["calendars"].items()
                 if int(n) in by_number}
        if not saved:
            return
        positions = tuple(by_number[n] for n in saved)
        self.tariff_carry.forced = ForcedCalendar(
            positions, {n: self.link(by_number[n]) for n in saved}, int(data["tariff"]), saved)
        write_back(self)
        self.log(f"{positions_text(list(saved))}: each meter's own calendar written back "
                 f"(tariff {data['tariff']} was left in force when the run stopped)",
                 kind=TARIFF_LEFT, data={"tariff": None, "calendars": {}})

    @property
    def stopped(self) -> bool:
        """A stop was requested and the run was not stored as completed before it: the run
        is (or will be, at `close`) aborted by the request."""
        return self.stop.requested and self.closed_as is not RunStatus.COMPLETED

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
        off_at: float | None = None  # when the source was verified off (None: now)
        watched = None
        try:
            self._calendars_back()
            if self.bench is not None:
                # The run's loads end here (the log would ask a timebase that may be closing).
                self.bench.load_listeners.clear()
                # The stop watcher's switch-off first (it may still be verifying): then the
                # main thread's own, which verifies again whatever the watcher found.
                watched = self.bench.stop_outcome()
                try:
                    self.bench.de_energise()
                    off = "source off (verified)"
                    if watched is not None and watched.verified_off:
                        off_at = watched.ended_at
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
                if watched is not None and not watched.verified_off:
                    self.log(f"switching off on the stop request failed: {watched.error}",
                             level="error", at=watched.ended_at)
                if off:
                    # When the stop watcher began and ended its switch-off (time.time): the
                    # split of a stop's time between waking and the instrument exchanges.
                    facts = ({"watcher_started": watched.started_at,
                              "watcher_ended": watched.ended_at} if watched else None)
                    self.log(off, level="error" if unsafe else "info", at=off_at, data=facts)
                self.log(
                    f"run {RunStatus(status).value}",
                    level="info" if status is RunStatus.COMPLETED else "warning",
                )
                self.store.finish_run(self.run.run_id, status)
                self.closed_as = status
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
