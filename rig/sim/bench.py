"""The simulated bench as a whole: the world, an instrument server per instrument of the bench
file, an IEC 62056-21 port per meter position (or one RS485 bus), the control endpoint and the
source watchdog. `SimBench` is the in-process API (a context manager); `python -m rig.sim serve`
runs the same thing standalone.

Bench-file placeholders (docs/dialects.md "Bench-file placeholders"): every `resource: "sim:<name>"`
and `link: "sim:<name>"` is served and replaced by the real address, e.g.
`{"sim:source": "TCPIP::127.0.0.1::40123::SOCKET", "sim:meter1": "/dev/pts/7"}`.
"""

from __future__ import annotations

import copy
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from meter.control import CurrentBank, meter_action, with_defects
from meter.iec62056_21.server import MeterServer
from meter.iec62056_21.timing import Timing
from rig.bench.config import BenchConfig, BenchFileError, validate_bench
from rig.bench.outputs import check_output
from rig.sim.control import ControlApi, ControlError, ControlServer, SimControl
from rig.sim.dialects import Dialect, dialect_for, simulated_drivers
from rig.sim.line import LineClock, LineSettings
from rig.sim.lineserver import PtyLineServer, TcpLineServer
from rig.sim.meterport import MeterPort
from rig.sim.meters import build_meter
from rig.sim.positions import Position
from rig.sim.reference import ReferenceSpec
from rig.sim.serving import ServingLoop
from rig.sim.source import SourceSpec
from rig.sim.world import World, WorldConfig
from rig.textfile import not_utf8

PLACEHOLDER = "sim:"
MAX_POSITIONS = 99  # position ids 1..99 (rig.bench.config.Position)
#: The keys of a bench file's `sim:` section (control and realtime: where a served bench is
#: driven, written into the resolved file by `SimBench.resolved`).
SIM_KEYS = frozenset({
    "start_time", "source", "reference", "meter", "positions", "bus", "line",
    "meter_reaction_s", "control", "realtime", "link",
})
WATCHDOG_POLL_S = 0.05  # longest sleep of the watchdog thread (it wakes at the deadline)


class SimBenchError(ValueError):
    """The bench file (or sim options) cannot be simulated; names the key and the reason."""


@dataclass
class Instrument:
    name: str  # placeholder name ("source" for "sim:source")
    driver: str
    roles: tuple[str, ...]  # bench roles it plays (source, reference, ...)
    dialect: Dialect
    server: TcpLineServer | PtyLineServer


class PositionBank(CurrentBank):
    """The IEC 62056-21 bank of a position: always the position's current meter (a meter can be
    swapped, e.g. to inject a defect), answering at its line's answer instant
    (rig.sim.line.LineClock.answer_time), or at the world's current time on a line that takes
    no virtual time."""

    def __init__(self, position: Position, world: World, line: LineClock | None = None) -> None:
        now = line.answer_time if line is not None else (lambda: world.t)
        super().__init__(lambda: position.meter, now, world.lock)


def _placeholder(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(PLACEHOLDER) and len(value) > len(PLACEHOLDER):
        return value
    return None


def expand_positions(bench: dict[str, Any], count: int) -> dict[str, Any]:
    """A copy of `bench` with `count` positions, each like the first, links sim:meter<k>. The
    first keeps its error calculator; every other position gets a separate one, a simulated ZERA
    MAD `sim:mad<k>` (a reference standard has one or two: docs/dialects.md 3)."""
    if count < 1:
        raise SimBenchError(f"--positions must be >= 1, got {count}")
    if count > MAX_POSITIONS:
        raise SimBenchError(f"--positions must be <= {MAX_POSITIONS}, got {count}")
    template = bench["positions"][0]
    out = copy.deepcopy(bench)
    out["positions"] = []
    calculators = dict((out.get("instruments") or {}).get("error_calculators") or {})
    for k in range(1, count + 1):
        p = copy.deepcopy(template)
        p["id"] = k
        p["link"] = f"{PLACEHOLDER}meter{k}"
        if p.get("address"):
            p["address"] = str(k)
        if k > 1:
            p["error_calculator"] = f"mad{k}"
            p["pulse_input"] = "src-intern-1"
            p.pop("pulse_wiring", None)  # the first one's inputs: the MAD's head on the LEDs
            calculators[f"mad{k}"] = {"driver": "zera_mad", "resource": f"{PLACEHOLDER}mad{k}"}
        out["positions"].append(p)
    if calculators:
        out.setdefault("instruments", {})["error_calculators"] = calculators
    return out


def _spec(cls: type, values: dict[str, Any] | None, where: str) -> Any:
    try:
        return cls(**(values or {}))
    except TypeError as e:
        raise SimBenchError(f"{where}: {e}") from None


class Simulator:
    """Everything running for one simulated bench. Build, `start()`, then `close()`."""

    def __init__(
        self,
        config: BenchConfig,
        options: dict[str, Any] | None = None,
        *,
        state_dir: Path | None = None,
        realtime: bool = False,
    ) -> None:
        # The validated bench configuration (rig.bench.config), as the rig reads it too.
        self.config = config
        unknown = sorted(set(config.sim or {}) - SIM_KEYS)
        if unknown:
            raise SimBenchError(
                f"sim: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(SIM_KEYS))})"
            )
        opts = dict(config.sim or {})
        opts.update(options or {})
        self.options = opts
        src_opts = dict(opts.get("source") or {})
        watchdog = src_opts.pop("watchdog_s", None)
        if watchdog is None:
            watchdog = config.safety.watchdog_s or 0.0
        # Realtime serving starts at the wall clock's true time unless told otherwise.
        default_start = time.time() if realtime else WorldConfig.start_time
        world_cfg = WorldConfig(
            start_time=float(opts.get("start_time", default_start)),
            source=_spec(SourceSpec, src_opts, "sim.source"),
            reference=_spec(ReferenceSpec, opts.get("reference"), "sim.reference"),
            watchdog_s=float(watchdog),
            # Meters keeping their memory in files save it every interval of virtual time:
            # time must pass through them. In RAM they catch up when looked at.
            step_meters=state_dir is not None,
        )
        meter_defaults = dict(opts.get("meter") or {})
        per_position = {int(k): v for k, v in (opts.get("positions") or {}).items()}
        positions = []
        for pos in config.positions:
            number = pos.id
            meter_opts = {**meter_defaults, **(per_position.get(number) or {})}
            pdir = None
            if state_dir is not None:
                pdir = state_dir / f"meter{number}"
                pdir.mkdir(parents=True, exist_ok=True)
            meter = build_meter(pos.model_dump(by_alias=True), meter_opts,
                                start_time=world_cfg.start_time, state_dir=pdir)
            positions.append(Position(number, pos.wiring, meter, address=pos.address))
        self.world = World(world_cfg, positions)
        if realtime:
            self.world.set_realtime(True)
        self.instruments: dict[str, Instrument] = {}
        self.meter_ports: list[MeterPort] = []  # a MeterServer each, served in `loop`
        self.substitutions: dict[str, str] = {}
        self.control: ControlServer | None = None
        # One thread serves every instrument and the control endpoint (rig.sim.serving).
        self.loop = ServingLoop()
        self._stop = threading.Event()
        self._watchdog_thread: threading.Thread | None = None

    def _calculator(self, number: int) -> Dialect | None:
        """The simulated instrument whose error calculator measures position `number` (the
        bench file's `error_calculator`); None when it is not simulated or has none."""
        name = self.config.position(number).error_calculator
        role = "reference" if name == "reference" else f"error_calculators.{name}"
        for inst in self.instruments.values():
            if role in inst.roles and hasattr(inst.dialect, "wire"):
                return inst.dialect
        return None

    def _wire_positions(self) -> None:
        """Cable each position's meter to the inputs of the error calculator the bench file
        names for it (`error_calculator`, `pulse_input`, `pulse_wiring`)."""
        for n, pos in enumerate(self.config.positions):
            dialect = self._calculator(pos.id)
            if dialect is None:
                continue  # not a simulated instrument with error calculators
            key = f"positions.{n}.pulse_input"
            try:
                counted = dialect.wire(pos.id, pos.pulse_input)  # type: ignore[attr-defined]
                for pulse_input, output in pos.pulse_wiring.items():
                    key = f"positions.{n}.pulse_wiring.{pulse_input}"
                    if pulse_input == counted:
                        dialect.cabling.connect(counted, output)  # type: ignore[attr-defined]
                    else:
                        dialect.wire(pos.id, pulse_input, output)  # type: ignore[attr-defined]
            except ValueError as e:
                raise SimBenchError(f"{key}: {e}") from None

    def connect(self, number: int, pulse_input: str, output: str) -> None:
        """Move the cable on `pulse_input` of position `number`'s calculator to meter output
        `output` (what the operator does on a real bench, rig.hands)."""
        dialect = self._calculator(number)
        if dialect is None:
            raise SimBenchError(f"position {number}: no simulated error calculator")
        cabling = dialect.cabling  # type: ignore[attr-defined]
        if cabling.wired.get(pulse_input) != number:
            raise SimBenchError(f"position {number}: input {pulse_input} of its error "
                                "calculator is not cabled to its meter")
        cabling.connect(pulse_input, check_output(output))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Simulator:
        try:
            self.loop.start()
            self._start_instruments()
            self._wire_positions()
            self._start_meter_ports()
            self.control = ControlServer(ControlApi(self), self.loop)
            self.control.start()
            self._watchdog_thread = threading.Thread(
                target=self._watch, daemon=True, name="sim-source-watchdog"
            )
            self._watchdog_thread.start()
        except BaseException:
            self.close()
            raise
        return self

    def _start_instruments(self) -> None:
        by_name: dict[str, Instrument] = {}
        for role, inst in self.config.roles():
            ph = _placeholder(inst.resource)
            if ph is None:
                continue
            name = ph[len(PLACEHOLDER) :]
            if name in by_name:  # one instrument in two roles (e.g. ZERA EC + energy)
                by_name[name].roles += (role,)
                continue
            driver = inst.driver
            try:
                cls = dialect_for(driver)
            except ValueError as exc:  # declared, but its module cannot be imported
                raise SimBenchError(f"instruments.{role}.driver: {exc}") from exc
            if cls is None:
                raise SimBenchError(
                    f"instruments.{role}.driver: {driver!r} has no simulator "
                    f"(simulated: {', '.join(simulated_drivers())})"
                )
            dialect = cls(self.world)
            transport = self.options.get(f"{driver.split('_')[0]}_transport", cls.transport)
            server_cls = PtyLineServer if transport == "pty" else TcpLineServer
            server = server_cls(dialect.handle_lines, cls.terminator, name, self.loop)
            server.reply_terminator = getattr(cls, "reply_terminator", cls.terminator).encode()
            server.start()
            by_name[name] = Instrument(name, driver, (role,), dialect, server)
            self.substitutions[ph] = server.address
        self.instruments = by_name

    def _start_meter_ports(self) -> None:
        transport = self.options.get("link", "pty")
        if transport not in ("pty", "tcp"):
            raise SimBenchError(f"sim.link: {transport!r} is not pty or tcp")
        links: dict[str, list[Position]] = {}
        for pos in self.config.positions:
            ph = _placeholder(pos.link)
            if ph is not None:
                links.setdefault(ph, []).append(self.world.position(pos.id))
        if self.options.get("bus"):
            # RS485 multi-drop: every meter on one port, each answering its own address.
            allpos = [p for group in links.values() for p in group]
            addresses = [p.address for p in allpos]
            if any(not a for a in addresses) or len(set(addresses)) != len(addresses):
                raise SimBenchError(
                    f"sim.bus: every position needs its own non-empty address (got {addresses})"
                )
            links = {ph: allpos for ph in links}
        servers: dict[tuple[int, ...], MeterServer] = {}
        for ph, group in links.items():
            key = tuple(p.number for p in group)
            server = servers.get(key)
            if server is None:
                line = self._line_clock()
                server = MeterServer(
                    [PositionBank(p, self.world, line) for p in group],
                    transport=transport,
                    timing=self._meter_timing(),
                    call_in_owner=self._call_in_world,
                    line=line,
                    clock=line,
                )
                # Served by the simulator's one loop thread, not a thread of its own.
                port = MeterPort(server, self.loop)
                self.meter_ports.append(port)
                port.start()
                servers[key] = server
            for p in group:
                p.link = server.url
            self.substitutions[ph] = server.url

    @property
    def meter_servers(self) -> list[MeterServer]:
        """The meter ports' servers (their counters and settings), in position order."""
        return [port.server for port in self.meter_ports]

    def _line_clock(self) -> LineClock | None:
        """The virtual time of one meter line (rig.sim.line), unless the bench file turns it
        off (`sim.line.enabled: false`) or virtual time is the wall clock (realtime)."""
        try:
            settings = LineSettings.of(self.options.get("line"))
        except (TypeError, ValueError) as e:
            raise SimBenchError(str(e)) from None
        if not settings.enabled or self.world.realtime:
            return None
        return LineClock(self.world, settings)

    def _meter_timing(self) -> Timing:
        """The meters' IEC 62056-21 timing: the standard's 200 ms minimum reaction time unless
        `sim.meter_reaction_s` asks for faster answers (a simulated bench need not wait)."""
        reaction = self.options.get("meter_reaction_s")
        if reaction is None:
            return Timing()
        try:
            value = float(reaction)
            return Timing(reaction_min=value, reaction_min_fast=min(value, 0.020))
        except (TypeError, ValueError) as e:
            raise SimBenchError(f"sim.meter_reaction_s: {e}") from None

    def _call_in_world(self, fn: Any) -> Any:
        # A controller reading its meters is alive: the source's watchdog (wall time, there
        # for a controller that died) must not trip while a long stretch of meter sessions
        # takes the wall time a loaded machine gives it (it did, in tou.priority at 12
        # positions: the meters lost their voltage and left their programming state).
        self.world.feed_watchdog()
        with self.world.access(line=True):
            self.world.flush_inputs()  # the meter answers with the source's latest inputs
            return fn()

    def _watch(self) -> None:
        """Trip the source watchdog on time: sleep until its deadline (or a short poll)."""
        while True:
            with self.world.lock:
                on = self.world.source.state.output_on
                deadline = self.world.source.watchdog.deadline() if on else None
            wait = WATCHDOG_POLL_S
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - self.world.wall()))
            if self._stop.wait(wait):
                return
            self.world.check_watchdog()

    def close(self) -> None:
        self._stop.set()
        if self._watchdog_thread is not None:
            self._watchdog_thread.join(timeout=2)
        if self.control is not None:
            self.control.close()
        for inst in self.instruments.values():
            inst.server.close()
        for port in self.meter_ports:
            port.close()  # in the loop's thread while it runs
        self.loop.stop()
        with self.world.access():
            for number in self.world.positions:
                pos = self.world.position(number)  # up to now first: its last state is now's
                close = getattr(pos.meter, "close", None)
                if close is not None:
                    close()

    # -- control helpers ---------------------------------------------------------------------
    def instrument(self, name: str) -> Instrument:
        """By placeholder name ('source') or by bench role ('reference')."""
        if name in self.instruments:
            return self.instruments[name]
        for inst in self.instruments.values():
            if name in inst.roles:
                return inst
        raise ControlError(
            f"no simulated instrument {name!r} (have: {', '.join(self.instruments)})"
        )

    def meter_action(self, number: int, action: str, **kw: Any) -> Any:
        """Buttons and conditions of a meter, at the world's current time. An action that
        takes time (holding the reset button) moves the whole world on by that time."""
        return self.meters_action([number], action, **kw)[0]

    def meters_action(self, numbers: list[int], action: str, **kw: Any) -> list[Any]:
        """`meter_action` on several meters at the same instant: all act at the world's
        current time (hands on every meter at once), then the world catches up once."""
        with self.world.access():
            results = [self._meter_action(n, action, **kw) for n in numbers]
            latest = max(self.world.position(n).meter.now for n in numbers)
            if latest > self.world.t:
                self.world.catch_up(latest)
            return results

    def _meter_action(self, number: int, action: str, **kw: Any) -> Any:
        pos = self.world.position(number)
        meter, t = pos.meter, self.world.t
        if action == "defect":
            new = with_defects(meter, self.world.t, kw.get("defects") or [])
            pos.replace_meter(new, self.world.t)
            return list(new.defects.names)
        return meter_action(meter, t, action, **kw)  # the meter's own operations (meter.control)


class SimBench:
    """In-process simulated bench.

        with SimBench("benches/sim.yaml", positions=3) as sim:
            bench = Bench.from_file(sim.bench_file)      # resolved copy, real addresses
            sim.control.advance(10)

    `bench_file`: a resolved copy of the bench file (placeholders replaced, `sim:` removed,
    positions expanded). `substitutions`: placeholder -> real address. `control`: a connected
    `SimControl`. `world`: direct access for in-process tests (use `world.access()`).
    `state_dir`: where each meter keeps its non-volatile memory as files (`meter<N>/`); without
    it the memory stays in RAM.
    """

    def __init__(
        self,
        bench_file: str | Path | None = None,
        *,
        bench: dict | None = None,
        positions: int | None = None,
        sim_options: dict[str, Any] | None = None,
        realtime: bool = False,
        state_dir: str | Path | None = None,
    ) -> None:
        if (bench_file is None) == (bench is None):
            raise SimBenchError("give exactly one of bench_file or bench")
        if bench_file is not None:
            path = Path(bench_file)
            try:
                bench = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as e:
                raise SimBenchError(f"{path}: {e}") from None
            except UnicodeDecodeError as e:
                raise SimBenchError(f"{path}: {not_utf8(e)}") from None
            if not isinstance(bench, dict):
                raise SimBenchError(f"{path}: expected a mapping at the top level")
        assert bench is not None
        if not bench.get("positions"):
            raise SimBenchError(f"{bench_file or '<bench>'}: positions: at least one is needed")
        if positions is not None:
            bench = expand_positions(bench, positions)
        self.source_file = Path(bench_file) if bench_file is not None else None
        self.bench = bench
        # What the simulator serves is the validated configuration, as the rig reads it.
        try:
            self.config = validate_bench(bench, str(bench_file or "<bench>"))
        except BenchFileError as e:
            raise SimBenchError(str(e)) from None
        self.sim_options = sim_options or {}
        self.realtime = realtime
        self._given_state_dir = Path(state_dir) if state_dir is not None else None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.simulator: Simulator | None = None
        self.control: SimControl | None = None
        self.bench_file: Path | None = None

    def __enter__(self) -> SimBench:
        self._tmp = tempfile.TemporaryDirectory(prefix="rig-sim-")
        workdir = Path(self._tmp.name)
        try:
            # Without a state_dir the meters keep their non-volatile memory in RAM: it outlives
            # every simulated power cut, and nothing outlives the simulator itself. With one,
            # each meter saves it to files (A1000 store: SHA-256, fsync, two generations)
            # every save interval, which costs more than the rest of the meter model.
            self.simulator = Simulator(
                self.config,
                self.sim_options,
                state_dir=self._given_state_dir,
                realtime=self.realtime,
            ).start()
            self.bench_file = workdir / "bench.yaml"
            self.bench_file.write_text(
                yaml.safe_dump(self.resolved(), sort_keys=False), encoding="utf-8"
            )
            assert self.simulator.control is not None
            self.control = SimControl(self.simulator.control.address)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
        if self.simulator is not None:
            self.simulator.close()
            self.simulator = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- views -------------------------------------------------------------------------------
    @property
    def world(self) -> World:
        assert self.simulator is not None, "SimBench is not running"
        return self.simulator.world

    @property
    def substitutions(self) -> dict[str, str]:
        assert self.simulator is not None, "SimBench is not running"
        return dict(self.simulator.substitutions)

    @property
    def control_address(self) -> str:
        assert self.simulator is not None and self.simulator.control is not None
        return self.simulator.control.address

    def resolved(self) -> dict[str, Any]:
        """The validated bench configuration with every served placeholder replaced
        (BenchConfig.resolve) and its `sim:` options replaced by where to drive this simulator
        (`control` address, `realtime`), so the rig run on the file advances its virtual time
        (rig/served.py); as the bench file's mapping (fields at their defaults left out)."""
        sim = {"control": self.control_address, "realtime": self.realtime}
        config = self.config.resolve(self.substitutions).model_copy(update={"sim": sim})
        return config.model_dump(mode="json", by_alias=True, exclude_defaults=True)

    def describe(self) -> list[str]:
        """Human-readable lines: every resource string, meter port and the control endpoint."""
        lines = [f"{k} = {v}" for k, v in self.substitutions.items()]
        lines.append(f"control = {self.control_address}")
        if self.bench_file is not None:
            lines.append(f"bench file = {self.bench_file}")
        return lines
