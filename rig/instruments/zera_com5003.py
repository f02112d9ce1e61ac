"""ZERA COM5003 / MT310s2 reference standard with its error calculators (SCPI, TCP 6320).

Primary source: ZERA's firmware, GitHub ZeraGmbH/zera-classes @618fe79f ("zc:" below), and the
device service configs in ZeraGmbH/zenux-services ("zs:"). Every command here is one the firmware
declares; its reply forms are those of the recorded SCPI dump
zc:modules/scpimodule/tests/test-data/scpi-dumps/dumped-all-queries-in-one-transaction ("the dump").
docs/dialects.md 3 lists each with its source, confirmed or assumed [L].

- Set commands end in `;`; errors are read with `SYSTEM:ERROR?` (`+0,No error`, the dump).
- Measurements answer `MODULE:LABEL:[unit]:value;` items (the dump).
- Error calculators: module `EC01` (sec1module), one instance per session module, addressed by its
  4-digit module number: `CALCULATE:EC01:0001:...`, `CALCULATE:EC01:0002:...`
  (zc:modules/sec1module/lib/sec1modulemeasprogram.cpp generateVeinInterface: "%1:DUTSOURCE" with
  modNr = 4-digit module number). A COM5003 session has two (zc:modulemanager/sessions/
  com5003-meas-session.json: com5003-sec1module.xml, com5003-sec1module-energy-comparison.xml),
  an MT310s2 one (mt310s2-meas-session.json). Each takes the DUT inputs of its config XML by
  their aliases (zs:com5003d/configs/com5003d.xml: sh0 = SC1, hk0 = HK1, fi0..fi3 = Fin1..Fin4).
- STATUS? is a bit field: ARMED 1, STARTED 2, READY 4, ABORT 8, WAIT 2^30
  (ZeraGmbH/zenux-services secinterface.h ECALCSTATUS); READY stays set while a continuous
  measurement runs on (6 = READY|STARTED, sec1modulemeasprogram.cpp setECResultAndResetInt).
- PULSES? is the DUT pulse count ("Pulse count of the DUT", ACT_DutPulses); the reference count
  of a gate is TARGET / (1 + RESULT/100), from RESULT = (TARGET - counted) * 100 / counted
  (sec1modulemeasprogram.cpp setECResult).
- Energy module EM01 (sem1module): MODE 1 (the default, the dump) stops after MTIME s (120 s by
  default, the dump); the register tests set MODE 0 (start/stop by hand).
- Several queries in one write are answered in query order only by firmware from 2026-07 on
  (zc: a51157753 2026-06-24 "Revamp ScpiCmdResponseSorter", test_scpi_module_sorted_responses);
  older firmware gets one query per exchange. `options: {pipeline: true|false}` in the bench file
  overrides the choice the firmware release in *IDN? makes.

Traffic per position is kept lean, as on a real bench where a round trip costs milliseconds:
`state()` polls with the one query `STATUS?`; `result()` (`RESULT?`, `TARGET?`) reads a gate polled
ready; settings the connection already holds are not sent again (dropped on reconnect and on any
instrument error; the driver must be the only writer of its ECs' settings). Every write that IS
sent is followed by its own `SYSTEM:ERROR?`, so a refusal names its command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from rig.instruments.base import Channel, ScpiInstrument, error_code
from rig.instruments.descriptors import Setting, compact_number, in_range, int_range, one_of
from rig.instruments.errors import InstrumentError
from rig.instruments.roles import (
    ECResult,
    ECState,
    ECStatus,
    PhaseReading,
    Quantity,
    Readings,
    Wiring,
)

#: Measuring mode per wiring of POW1 (active), POW2 (reactive), POW3 (apparent); the catalogs:
#: zc:modules/power1module/configs/com5003-power1module{,2,3}.xml and mt310s2-power1module{,2,3}.xml
#: (POW1 4LW;3LW;2LW, POW2 4LB;3LB;2LB (+4LBK on the COM5003), POW3 per model below).
ACTIVE_MODES = {"3P4W": "4LW", "3P3W": "3LW"}
REACTIVE_MODES = {"3P4W": "4LB", "3P3W": "3LB"}
#: Reference source of an EC / EM by quantity: the power type of the frequency output it counts
#: (sec1modulemeasprogram.cpp readREFInputAlias: "we will read the powertype ... as our alias";
#: the dump: `REFSOURCE?` -> `P`). POW1 drives fo0 (P), POW2 fo1 (Q), POW3 fo2 (S) on the COM5003.
REF_SOURCES = {Quantity.ACTIVE: "P", Quantity.REACTIVE: "Q"}
#: The POW module whose frequency output the reference source counts, by quantity.
REF_MODULES = {Quantity.ACTIVE: "POW1", Quantity.REACTIVE: "POW2"}
#: DUT constant units by quantity (sec1modulemeasprogram.cpp getDutConstUnitValidator: P: I/kWh,
#: Wh/I; Q: I/kVarh, Varh/I).
DC_UNITS = {Quantity.ACTIVE: "I/kWh", Quantity.REACTIVE: "I/kVarh"}
#: EM energy units by quantity (sem1modulemeasprogram.cpp PAR_TXUNIT: kWh / kVarh).
TX_UNITS = {Quantity.ACTIVE: "kWh", Quantity.REACTIVE: "kVarh"}
# STATUS bits (zenux-services secinterface.h ECALCSTATUS).
ARMED, STARTED, READY, ABORT, WAIT = 1, 2, 4, 8, 1 << 30
MAX_PULSES = 2**32 - 1  # MRATE validator cIntValidator(1, 4294967295) (sec1modulemeasprogram.cpp)
MAX_DUT_CONSTANT = 1.0e20  # DUTCONSTANT validator cDoubleValidator(1e-6, 1e20)
#: Firmware releases from this (year, month) on answer a message's queries in query order.
ORDERED_REPLIES_SINCE = (2026, 7)
T = TypeVar("T")
#: What `status()` reads, STATUS first, and the kinds of the rest.
STATUS_PARAMS = ("STATUS", "PROGRESS", "RESULT", "TARGET", "ENERGY", "REFCONSTANT", "MEASNUM")
STATUS_KINDS = (float, float, int, float, float, int)
#: The queries of the result of a gate polled READY.
RESULT_PARAMS = ("RESULT", "TARGET")
#: The queries of one reference reading, in the order they are sent (the dump's reply forms).
READ_QUERIES = (
    "MEASURE:RMS1?",
    "MEASURE:DFT1?",
    "MEASURE:POW1?",
    "MEASURE:POW2?",
    "MEASURE:POW3?",
    "MEASURE:LAM1?",
    "MEASURE:RNG1:F?",
)


def parse_items(reply: str) -> dict[str, tuple[str, str]]:
    """Split `MOD:LABEL:[unit]:value;...` into {LABEL (upper case): (unit, value)}."""
    items: dict[str, tuple[str, str]] = {}
    for item in reply.strip().split(";"):
        if not item:
            continue
        parts = item.split(":")
        if len(parts) < 4:
            raise ValueError(f"item {item!r} is not MODULE:LABEL:[unit]:value")
        label, unit, value = parts[1], parts[2], ":".join(parts[3:])
        items[label.upper()] = (unit.strip("[]"), value)
    return items


def ec_state(code: int) -> ECState:
    """The state a STATUS bit field stands for: an abort wins, then a measurement still going
    (armed, started, or waiting between repeats), then a result; none of them is idle."""
    if code & ABORT:
        return ECState.ABORTED
    if code & STARTED or code & WAIT:
        return ECState.RUNNING
    if code & ARMED:
        return ECState.WAITING
    if code & READY:
        return ECState.READY
    return ECState.IDLE


def release_date(idn: str) -> tuple[int, int] | None:
    """(year, month) of the firmware release named in an *IDN? reply's last field, if it names
    one ("ZERA GmbH Koenigswinter, MT310s2, <serial>, <release>"; the dump). [L: the release
    naming of real units]"""
    fields = [f.strip() for f in idn.split(",")]
    m = re.search(r"(20\d\d)[-_.]?(0[1-9]|1[0-2])", fields[-1]) if len(fields) >= 4 else None
    return (int(m.group(1)), int(m.group(2))) if m else None


class RememberedSetting(Setting):
    """A write-only Setting that is not re-sent while its last accepted value still holds.

    The owner must offer `write_setting(command)` (ZeraCom5003 keeps the memory per connection).
    """

    def __set__(self, obj: Any, value: Any) -> None:
        obj.write_setting(self.command(obj, value))


class ZeraErrorCalculator(Channel):
    """One error calculator (EC01 instance `0001`, `0002`) on one DUT input (ErrorCalculator)."""

    parent: ZeraCom5003

    meter_input = RememberedSetting(
        "CALCULATE:EC01:{ch}:DUTSOURCE {};",
        "Set the DUT pulse input by its alias (SC1, HK1, Fin1..Fin4).",
        validator=lambda v, n: str(v),
    )
    reference_input = RememberedSetting(
        "CALCULATE:EC01:{ch}:REFSOURCE {};",
        "Set the reference frequency output by its power type (P, Q, S).",
        validator=one_of(("P", "Q", "S")),
    )
    meter_constant = RememberedSetting(
        "CALCULATE:EC01:{ch}:DUTCONSTANT {};",
        "Set the meter constant (imp/kWh or imp/kvarh).",
        validator=in_range(1e-6, MAX_DUT_CONSTANT),
        to_text=compact_number,
    )
    constant_unit = RememberedSetting(
        "CALCULATE:EC01:{ch}:DCUNIT {};",
        "Set the unit of the meter constant.",
        validator=one_of(tuple(DC_UNITS.values())),
    )
    pulses = RememberedSetting(
        "CALCULATE:EC01:{ch}:MRATE {:d};",
        "Set the number of meter pulses to measure.",
        validator=int_range(1, MAX_PULSES),
    )
    continuous = RememberedSetting(
        "CALCULATE:EC01:{ch}:CONTINUOUS {:d};",
        "Set continuous (1) or single (0) measurement.",
        validator=one_of((0, 1)),
    )

    def __init__(self, parent: ZeraCom5003, position: int, unit: int, pulse_input: str) -> None:
        super().__init__(parent, f"{unit:04d}")
        self.position = position
        self.unit = unit
        self.pulse_input = pulse_input
        self._commands: tuple[tuple[Any, ...], tuple[str, ...]] | None = None

    @property
    def chains_repetitions(self) -> bool:
        """In continuous mode the next gate opens on the closing edge (rig.measure): the
        module sets each result and runs on without a restart, except on an HK input, where a
        continuous measurement is restarted as a multiple one (zc:modules/sec1module/lib/
        sec1modulemeasprogram.cpp checkForRestart)."""
        return ZeraCom5003.chains_repetitions_on(self.pulse_input)

    def write_setting(self, command: str) -> None:
        """Write a setting of this EC unless the connection already holds it (see module doc)."""
        self.parent.write_setting(command)

    def setting_commands(
        self, meter_constant: float, pulses: int, quantity: Quantity, continuous: bool = False
    ) -> list[str]:
        """The validated commands that set input, reference, constant, unit, pulses and mode
        (nothing is sent). REFSOURCE goes before DCUNIT: a new reference source resets the unit
        to the first its power type allows (sec1modulemeasprogram.cpp newRefInput)."""
        q = Quantity(quantity)
        key = (meter_constant, pulses, q, bool(continuous))
        if self._commands is None or self._commands[0] != key:
            cls = type(self)
            commands = (
                cls.meter_input.command(self, self.pulse_input),
                cls.reference_input.command(self, REF_SOURCES[q]),
                cls.meter_constant.command(self, meter_constant),
                cls.constant_unit.command(self, DC_UNITS[q]),
                cls.pulses.command(self, pulses),
                cls.continuous.command(self, int(continuous)),
            )
            self._commands = (key, commands)
        return list(self._commands[1])

    def configure(
        self, meter_constant: float, pulses: int, quantity: Quantity, continuous: bool = False
    ) -> None:
        """Set input, reference, constant and unit, pulse count and run mode; only the settings
        that differ from what this connection last wrote are sent."""
        self.parent.configure_many([self], meter_constant, pulses, quantity, continuous)

    def start(self) -> None:
        """Arm the measurement (it starts on the next meter pulse)."""
        self.write(self.start_command(True), idempotent=False)

    def abort(self) -> None:
        """Stop the measurement."""
        self.write(self.start_command(False))

    def start_command(self, on: bool) -> str:
        return f"CALCULATE:EC01:{self.ch}:START {int(on)};"

    def param_query(self, param: str) -> str:
        """The query of one of this EC's parameters ("CALCULATE:EC01:0002:STATUS?")."""
        return f"CALCULATE:EC01:{self.ch}:{param}?"

    def reference_constant(self) -> float:
        """The reference constant the EC counts with (imp/kWh or imp/kvarh)."""
        query = self.param_query("REFCONSTANT")
        return _number(self.parent, query, self.query(query).strip(), float)

    def state_query(self) -> str:
        return self.param_query("STATUS")

    def status_queries(self) -> list[str]:
        """The queries of `status()`, in the order `parse_status` takes their replies."""
        return [self.param_query(param) for param in STATUS_PARAMS]

    def result_queries(self) -> list[str]:
        """The queries of `result()`, in the order `parse_result` takes their replies."""
        return [self.param_query(param) for param in RESULT_PARAMS]

    def parse_state(self, reply: str) -> ECState:
        return ec_state(_number(self.parent, self.state_query(), reply.strip(), int))

    def parse_status(self, replies: Sequence[str]) -> ECStatus:
        state = self.parse_state(replies[0])
        values = {
            param: _number(self.parent, self.param_query(param), reply.strip(), kind)
            for param, kind, reply in zip(STATUS_PARAMS[1:], STATUS_KINDS, replies[1:], strict=True)
        }
        has_result = values["MEASNUM"] > 0 or state is ECState.READY
        # ENERGY is the reference count of the gate over the reference constant (setECResult).
        counts = round(values["ENERGY"] * values["REFCONSTANT"])
        return ECStatus(
            state,
            values["PROGRESS"],
            values["RESULT"] if has_result else None,
            values["TARGET"],
            counts,
            values["MEASNUM"],
        )

    def parse_result(self, replies: Sequence[str]) -> ECResult:
        error_query, target_query = self.result_queries()
        error = _number(self.parent, error_query, replies[0].strip(), float)
        target = _number(self.parent, target_query, replies[1].strip(), int)
        if not math.isfinite(error):  # no reference pulse counted (setECResult: NaN)
            raise InstrumentError(self.name, error_query, f"no result: {replies[0].strip()!r}")
        return ECResult(error, round(target / (1 + error / 100)))

    def state(self) -> ECState:
        """The measurement state alone: one `STATUS?` query (cheap enough to poll)."""
        return self.parse_state(self.query(self.state_query()))

    def status(self) -> ECStatus:
        """State, progress, error, target and counts of the current/last measurement."""
        return self.parent.statuses_of([self])[0]

    def result(self) -> ECResult:
        """Error and reference counts of a gate polled READY: two queries."""
        return self.parent.results_of([self])[0]


class ZeraEnergyRegister:
    """EM01 instance 0001 (sem1module): reference energy between start and stop (EnergyRegister)."""

    prefix = "CALCULATE:EM01:0001:"

    def __init__(self, parent: ZeraCom5003) -> None:
        self.parent = parent

    def start(self) -> None:
        """Start accumulating energy, stopped by hand: MODE 0 ("0: Start/Stop (stop manually)",
        sem1modulemeasprogram.cpp PAR_Targeted; the default MODE 1 stops after MTIME, 120 s),
        counting the frequency output of the reference's quantity, in kWh or kvarh."""
        q = self.parent.quantity
        self.parent.write_setting(self.prefix + "MODE 0;")
        self.parent.write_setting(f"{self.prefix}REFSOURCE {REF_SOURCES[q]};")
        self.parent.write_setting(f"{self.prefix}TXUNIT {TX_UNITS[q]};")
        self.parent.write(self.prefix + "START 1;", idempotent=False)

    def stop(self) -> None:
        """Stop accumulating; the energy stays readable."""
        self.parent.write(self.prefix + "START 0;")

    def running(self) -> bool:
        """True while accumulating (STATUS armed or started)."""
        query = self.prefix + "STATUS?"
        code = _number(self.parent, query, self.parent.query(query).strip(), int)
        return ec_state(code) in (ECState.WAITING, ECState.RUNNING)

    def energy(self) -> float:
        """Energy in kWh (kvarh for reactive), total of the three phases, in TXUNIT."""
        query = self.prefix + "ENERGY?"
        return _number(self.parent, query, self.parent.query(query).strip(), float)


def _header(command: str) -> str:
    """A setting's header ("CALCULATE:EC01:0002:MRATE"): what the memory of settings keys by."""
    return command.partition(" ")[0]


def _is_query(line: str) -> bool:
    return line.rstrip().endswith("?")


def _number(inst: ZeraCom5003, command: str, reply: str, kind):
    try:
        return kind(float(reply)) if kind is int else kind(reply)
    except ValueError:
        inst.forget_settings()  # a reply out of step: trust nothing remembered
        raise InstrumentError(inst.name, command, f"unexpected reply {reply!r}") from None


class ZeraCom5003(ScpiInstrument):
    """ZERA COM5003: ReferenceMeter role, its two error calculators and the energy register."""

    model = "ZERA COM5003"
    # VISA interfaces: SCPI on TCP port 6320, or serial 9600 8N1 (zera-classes scpi-doc
    # dev-connection.html; instruments.md "ZERA GmbH").
    interfaces: ClassVar[tuple[str, ...]] = ("TCPIP", "ASRL")
    write_termination = "\n"
    read_termination = "\n"
    error_query = "SYSTEM:ERROR?"
    #: The DUT inputs of each error calculator (EC01 instance 0001, 0002, ...): the aliases of
    #: the config XMLs' dutinput lists (zc:modules/sec1module/configs/com5003-sec1module.xml:
    #: sh0, hk0; com5003-sec1module-energy-comparison.xml: fi0..fi3; aliases zs:com5003d.xml).
    error_calculator_inputs: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("SC1", "HK1"),
        ("Fin1", "Fin2", "Fin3", "Fin4"),
    )
    #: POW3 (apparent) mode per wiring (zc:com5003-power1module3.xml: 4LS;4LSg;3LS;3LSg;2LS;2LSg).
    apparent_modes: ClassVar[dict[str, str]] = {"3P4W": "4LS", "3P3W": "3LS"}

    mode = Setting(
        "CONFIGURATION:POW1:MMODE {};",
        "Control the POW1 (active power) measuring mode (catalog 4LW;3LW;2LW).",
        validator=one_of(("4LW", "3LW", "2LW")),
        get_cmd="CONFIGURATION:POW1:MMODE?",
        parse=str.strip,
    )
    reactive_mode = Setting(
        "CONFIGURATION:POW2:MMODE {};",
        "Set the POW2 (reactive power) measuring mode.",
        validator=one_of(("4LB", "3LB", "2LB")),
    )
    apparent_mode = Setting(
        "CONFIGURATION:POW3:MMODE {};",
        "Set the POW3 (apparent power) measuring mode.",
        validator=one_of(("4LS", "3LS", "2LS")),
    )

    def __init__(
        self,
        adapter: Any,
        name: str | None = None,
        retries: int = 2,
        pipeline: bool | None = None,
    ) -> None:
        # None: follow the firmware release (initialise); True/False: the bench file's choice.
        super().__init__(adapter, name, retries, bool(pipeline))
        self.pipeline_option = pipeline
        self.quantity = Quantity.ACTIVE  # what set_mode last chose: the ECs' and EM's source
        # Setting header (e.g. "CALCULATE:EC01:0002:MRATE") -> the exact command the instrument
        # accepted on this connection (error queue read back empty).
        self._accepted: dict[str, str] = {}
        self._units_taken: dict[int, int] = {}  # EC unit -> position

    def write_setting(self, command: str) -> None:
        """Write a remembered setting unless this connection already holds exactly `command`."""
        with self.lock:
            self._write_setting(command)

    def _write_setting(self, command: str) -> None:
        if self._holds(command):
            self._log.debug("= %s (unchanged, not re-sent)", command)
            return
        self._accepted.pop(_header(command), None)
        self.write(command)  # raises (and forgets everything) if refused
        self._accepted[_header(command)] = command

    def _holds(self, command: str) -> bool:
        """Did this connection already write exactly `command`, accepted?"""
        return self._accepted.get(_header(command)) == command

    def forget_settings(self) -> None:
        """Drop the remembered settings: the next writes are all sent."""
        self._accepted.clear()

    def write(self, command: str, *, idempotent: bool = True) -> None:
        """Send a command and check the error queue; any failure forgets the remembered settings."""
        try:
            super().write(command, idempotent=idempotent)
        except BaseException:
            self.forget_settings()
            raise

    def query(self, command: str, *, idempotent: bool = True) -> str:
        """Send a query, return its reply; any failure forgets the remembered settings."""
        try:
            return super().query(command, idempotent=idempotent)
        except BaseException:
            self.forget_settings()
            raise

    def _reset_transport(self) -> None:
        # A new connection may be a restarted instrument: what was written before is unknown.
        self.forget_settings()
        super()._reset_transport()

    def transaction(self, commands: Sequence[str], *, idempotent: bool = True) -> list[str]:
        """Send `commands` and return the replies of the queries among them, in order.

        With `pipeline` (firmware from 2026-07, or the bench file's choice) they go out in one
        write and the replies are read after it: one round trip. Otherwise one command per
        exchange (older firmware does not answer a message's queries in query order). Each set
        command is followed by its own `SYSTEM:ERROR?`, so a refusal names its command; all
        replies are read before raising, so the connection stays in step.
        """
        # (line, the set command it checks, or None for a query the caller asked for)
        lines: list[tuple[str, str | None]] = []
        for command in commands:
            if _is_query(command):
                lines.append((command, None))
            else:
                lines += [(command, None), (self.error_query, command)]
        queries = [(line, checks) for line, checks in lines if _is_query(line)]
        if not lines:
            return []
        with self.lock:
            return self._transaction(lines, queries, idempotent)

    def _transaction(
        self,
        lines: list[tuple[str, str | None]],
        queries: list[tuple[str, str | None]],
        idempotent: bool,
    ) -> list[str]:
        try:
            if self.pipeline:
                text = "\n".join(line for line, _ in lines)
                replies = self._exchange(text, len(queries), idempotent=idempotent)
            else:
                replies = []
                for line, _ in lines:
                    replies += self._exchange(line, int(_is_query(line)), idempotent=idempotent)
        except BaseException:
            self.forget_settings()
            raise
        out: list[str] = []
        refused: list[str] = []
        for (_line, checks), reply in zip(queries, replies, strict=True):
            if checks is None:
                out.append(reply)
            elif error_code(reply.strip()) != 0:
                refused.append(f"{checks} -> {reply.strip()}")
        if refused:
            self.forget_settings()
            leftover = self.errors()  # a refusal may queue more than one entry
            detail = "; ".join(refused + ([f"also queued: {leftover}"] if leftover else []))
            raise InstrumentError(self.name, refused[0].split(" -> ")[0], f"refused: {detail}")
        return out

    # -- several error calculators at once (BatchesErrorCalculators) ---------------------------
    def configure_many(
        self,
        ecs: Sequence[ZeraErrorCalculator],
        meter_constant: float,
        pulses: int,
        quantity: Quantity,
        continuous: bool = False,
    ) -> None:
        """`configure` of every EC in one transaction; only settings not already held are sent."""
        with self.lock:
            self._configure_many(ecs, meter_constant, pulses, quantity, continuous)

    def _configure_many(
        self,
        ecs: Sequence[ZeraErrorCalculator],
        meter_constant: float,
        pulses: int,
        quantity: Quantity,
        continuous: bool,
    ) -> None:
        commands = [
            c
            for ec in ecs
            for c in ec.setting_commands(meter_constant, pulses, quantity, continuous)
            if not self._holds(c)
        ]
        for c in commands:
            self._accepted.pop(_header(c), None)
        self.transaction(commands)  # raises (and forgets everything) if any was refused
        self._accepted.update((_header(c), c) for c in commands)

    def start_many(self, ecs: Sequence[ZeraErrorCalculator]) -> None:
        """Arm every EC in one transaction."""
        self.transaction([ec.start_command(True) for ec in ecs], idempotent=False)

    def abort_many(self, ecs: Sequence[ZeraErrorCalculator]) -> None:
        """Stop every EC in one transaction."""
        self.transaction([ec.start_command(False) for ec in ecs])

    def states_of(self, ecs: Sequence[ZeraErrorCalculator]) -> list[ECState]:
        """Every EC's state, one `STATUS?` each, in one transaction."""
        replies = self.transaction([ec.state_query() for ec in ecs])
        return [ec.parse_state(r) for ec, r in zip(ecs, replies, strict=True)]

    def statuses_of(self, ecs: Sequence[ZeraErrorCalculator]) -> list[ECStatus]:
        """Every EC's full status in one transaction."""
        return self._read_each(ecs, STATUS_PARAMS, ZeraErrorCalculator.parse_status)

    def results_of(self, ecs: Sequence[ZeraErrorCalculator]) -> list[ECResult]:
        """The result of every EC (each polled READY) in one transaction."""
        return self._read_each(ecs, RESULT_PARAMS, ZeraErrorCalculator.parse_result)

    def _read_each(
        self,
        ecs: Sequence[ZeraErrorCalculator],
        params: Sequence[str],
        parse: Callable[[ZeraErrorCalculator, Sequence[str]], T],
    ) -> list[T]:
        """`params` of every EC in one transaction, each EC's replies parsed by `parse`."""
        replies = self.transaction([ec.param_query(p) for ec in ecs for p in params])
        k = len(params)
        return [parse(ec, replies[i * k : (i + 1) * k]) for i, ec in enumerate(ecs)]

    def identify(self) -> str:
        """Return the *IDN? reply."""
        return self.query("*IDN?")

    def initialise(self) -> None:
        """Check the instrument answers, choose how to send several queries (module doc) and
        clear its error queue."""
        idn = self.identify()
        released = release_date(idn)
        ordered = released is not None and released >= ORDERED_REPLIES_SINCE
        if self.pipeline_option is None:
            self.pipeline = ordered
        elif self.pipeline_option and released is not None and not ordered:
            raise InstrumentError(
                self.name,
                "*IDN?",
                f"options.pipeline is true, but firmware {idn.split(',')[-1].strip()!r} "
                "(before 2026-07) does not answer several queries in query order: "
                "remove the option or set it false",
            )
        else:
            self.pipeline = bool(self.pipeline_option)
        per_exchange = "several queries" if self.pipeline else "one query"
        self._log.info("%s: %s per exchange", idn.strip(), per_exchange)
        leftover = self.errors()
        if leftover:
            self.forget_settings()
            self._log.info("cleared old errors: %s", leftover)

    def set_mode(self, wiring: Wiring, quantity: Quantity) -> None:
        """Set the wiring of POW1/POW2/POW3 and which of them the ECs and EM count: POW1 is
        active power only; reactive comes from POW2's frequency output (reference source Q)."""
        if wiring not in ACTIVE_MODES:
            raise InstrumentError(self.name, "set_mode", f"unsupported wiring {wiring!r}")
        self.mode = ACTIVE_MODES[wiring]
        self.reactive_mode = REACTIVE_MODES[wiring]
        self.apparent_mode = self.apparent_modes[wiring]
        self.quantity = Quantity(quantity)

    def reference_constant(self) -> float:
        """Constant of the frequency output the ECs count (POW1 for active, POW2 for reactive),
        imp/kWh or imp/kvarh (`M0CONSTANT?`, the dump)."""
        query = f"CONFIGURATION:{REF_MODULES[self.quantity]}:M0CONSTANT?"
        return _number(self, query, self.query(query).strip(), float)

    def read(self) -> Readings:
        """Read U, I, angles, P, Q, S, PF per phase and total, and the frequency (one
        transaction of READ_QUERIES)."""
        replies = {}
        for command, reply in zip(READ_QUERIES, self.transaction(READ_QUERIES), strict=True):
            try:
                replies[command] = parse_items(reply)
            except ValueError as exc:
                raise InstrumentError(self.name, command, str(exc)) from None

        def num(command: str, label: str) -> float:
            if label not in replies[command]:
                raise InstrumentError(self.name, command, f"no {label} in reply")
            return _number(self, command, replies[command][label][1], float)

        def angle(label: str) -> float:
            # `Un`/`In` answer amplitude, radians, degrees (the dump: DFT1:U2 ...,2.0943951,120);
            # ZERA's positive sequence puts U2 at +120 deg, ours (docs/conventions.md 1) at -120:
            # the angle changes sign.
            reply = replies["MEASURE:DFT1?"].get(label)
            if reply is None:
                raise InstrumentError(self.name, "MEASURE:DFT1?", f"no {label} in reply")
            parts = reply[1].split(",")
            if len(parts) != 3:
                raise InstrumentError(self.name, "MEASURE:DFT1?", f"{label} is not polar: {reply}")
            deg = -_number(self, "MEASURE:DFT1?", parts[2], float)
            return deg - 360.0 * math.floor((deg + 180.0) / 360.0)  # to [-180, 180)

        phases = []
        for n in ("1", "2", "3"):
            phases.append(
                PhaseReading(
                    voltage=num("MEASURE:RMS1?", f"UL{n}"),
                    current=num("MEASURE:RMS1?", f"IL{n}"),
                    voltage_angle=angle(f"U{n}"),
                    current_angle=angle(f"I{n}"),
                    p=num("MEASURE:POW1?", f"P{n}"),
                    q=num("MEASURE:POW2?", f"Q{n}"),
                    s=num("MEASURE:POW3?", f"S{n}"),
                    pf=num("MEASURE:LAM1?", f"LAMBDA{n}"),
                )
            )
        readings = Readings(
            phases=(phases[0], phases[1], phases[2]),
            p=num("MEASURE:POW1?", "PS"),
            q=num("MEASURE:POW2?", "QS"),
            s=num("MEASURE:POW3?", "SS"),
            pf=num("MEASURE:LAM1?", "LAMBDA4"),  # Lambda4: all phases (lambdamodule config)
            frequency=num("MEASURE:RNG1:F?", "F"),
        )
        if not all(math.isfinite(v) for v in (readings.p, readings.q, readings.s, readings.pf)):
            raise InstrumentError(self.name, "read", f"non-finite reading {readings}")
        return readings

    @staticmethod
    def chains_repetitions_on(pulse_input: str) -> bool:
        """Whether a calculator counting `pulse_input` runs on in continuous mode: every input
        but HK (ZeraErrorCalculator.chains_repetitions); read before any instrument is opened,
        for the plan's estimate."""
        return not pulse_input.upper().startswith("HK")

    def error_calculator(self, position: int, pulse_input: str, unit: int) -> ZeraErrorCalculator:
        """Error calculator `unit` (1 = EC01:0001, ...) on DUT input `pulse_input`, for meter
        position `position`; each calculator serves one position."""
        if not 1 <= unit <= len(self.error_calculator_inputs):
            raise InstrumentError(
                self.name,
                "error_calculator",
                f"{self.model} has {len(self.error_calculator_inputs)} error calculator(s), "
                f"not {unit}",
            )
        inputs = self.error_calculator_inputs[unit - 1]
        if pulse_input not in inputs:
            raise InstrumentError(
                self.name,
                "error_calculator",
                f"EC01:{unit:04d} has no input {pulse_input!r} (inputs: {', '.join(inputs)})",
            )
        taken = self._units_taken.setdefault(unit, position)
        if taken != position:
            raise InstrumentError(
                self.name, "error_calculator", f"EC01:{unit:04d} already serves position {taken}"
            )
        return ZeraErrorCalculator(self, position, unit, pulse_input)

    def energy_register(self) -> ZeraEnergyRegister:
        """The EM01 energy module."""
        return ZeraEnergyRegister(self)


class ZeraMt310s2(ZeraCom5003):
    """ZERA MT310s2: as the COM5003 with one error calculator and no 3-wire apparent mode."""

    model = "ZERA MT310s2"
    #: zc:modules/sec1module/configs/mt310s2-sec1module.xml: dutinput sh0, hk0 (one sec1module in
    #: mt310s2-meas-session.json).
    error_calculator_inputs: ClassVar[tuple[tuple[str, ...], ...]] = (("SC1", "HK1"),)
    #: zc:mt310s2-power1module3.xml: 4LS;4LSg;2LS;2LSg, no 3LS: a 3-wire S comes from 4LS [L].
    apparent_modes: ClassVar[dict[str, str]] = {"3P4W": "4LS", "3P3W": "4LS"}
