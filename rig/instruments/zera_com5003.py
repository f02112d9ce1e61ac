"""ZERA COM5003 / MT310s2 reference standard with per-position error calculators (SCPI, TCP 6320).

Command set: instruments.md 2.3 (ZeraGmbH/zera-classes measprogram sources and SCPI dumps): set
commands end in `;`, errors in `SYSTEM:ERROR?` (`+0,No error`), measurements as `label:unit:value;`
items; error calculator `CALCULATE:EC<pp>:0001:...` (STATUS 0 idle, 1 waiting, 2 started, 4 ready,
8 aborted); energy module `CALCULATE:EM01:0001:...`. Exact strings: docs/dialects.md 3.

Traffic per position is kept lean, as on a real bench where a round trip costs milliseconds:
- `state()` polls with the one query `STATUS?`; `result()` (`RESULT?`, `PULSES?`) reads a gate
  polled ready; `status()` (six queries) is for progress and the rest.
- The error-calculator settings are remembered per connection: writing the value the driver
  already wrote successfully sends nothing. The memory is dropped on reconnect and on any
  instrument error, so after anything unexpected every setting is written again. It assumes the
  driver is the only writer of its ECs' settings (no second client or front-panel edits).
- Every write that IS sent is still followed by its own `SYSTEM:ERROR?`: one check after a
  batch of settings could not say which of them the instrument refused.
- The error calculators of several positions are driven together (`configure_many`,
  `start_many`, `states_of`, `results_of`, `statuses_of`; the BatchesErrorCalculators role): each
  step is one pipelined `transaction`, one round trip whatever the number of positions
  (docs/dialects.md 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from rig.instruments.base import Channel, ScpiInstrument, error_code
from rig.instruments.descriptors import Setting, compact_number, in_range, int_range, one_of
from rig.instruments.errors import InstrumentError, SettingError
from rig.instruments.registry import register_driver
from rig.instruments.roles import (
    ECResult,
    ECState,
    ECStatus,
    PhaseReading,
    Quantity,
    Readings,
    Wiring,
)

#: POW1 measuring modes (instruments.md 2.3: 4LW, 3LW, ...; B = reactive, S = apparent).
MODES = {
    ("3P4W", Quantity.ACTIVE): "4LW",
    ("3P4W", Quantity.REACTIVE): "4LB",
    ("3P3W", Quantity.ACTIVE): "3LW",
    ("3P3W", Quantity.REACTIVE): "3LB",
}
DC_UNITS = {Quantity.ACTIVE: "I/kWh", Quantity.REACTIVE: "I/kVarh"}
EC_STATES = {
    0: ECState.IDLE,
    1: ECState.WAITING,
    2: ECState.RUNNING,
    4: ECState.READY,
    8: ECState.ABORTED,
}
MAX_PULSES = 2**32 - 1
T = TypeVar("T")
#: What `status()` reads, STATUS first, and the kinds of the rest (instruments.md 2.3).
STATUS_PARAMS = ("STATUS", "PROGRESS", "RESULT", "TARGET", "PULSES", "MEASNUM")
STATUS_KINDS = (float, float, int, int, int)
#: The queries of the result of a gate polled READY.
RESULT_PARAMS = ("RESULT", "PULSES")
#: The queries of one reference reading, in the order they are sent (docs/dialects.md 3).
READ_QUERIES = (
    "MEASURE:RMS1?",
    "MEASURE:DFT1?",
    "MEASURE:POW1?",
    "MEASURE:POW2?",
    "MEASURE:POW3?",
    "MEASURE:LAM1?",
    "MEASURE:RNG1:F?",
)  # MRATE range 1 .. 2^32-1 (instruments.md 2.3)


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


class RememberedSetting(Setting):
    """A write-only Setting that is not re-sent while its last accepted value still holds.

    The owner must offer `write_setting(command)` (ZeraCom5003 keeps the memory per connection).
    """

    def __set__(self, obj: Any, value: Any) -> None:
        obj.write_setting(self.command(obj, value))


class ZeraErrorCalculator(Channel):
    """Error calculator ECpp of one meter position (ErrorCalculator role)."""

    parent: ZeraCom5003

    meter_input = RememberedSetting(
        "CALCULATE:EC{ch}:0001:DUTSOURCE {};",
        "Set the meter pulse input (e.g. fi0, sh0).",
        validator=lambda v, n: _token(v, n),
    )
    reference_input = RememberedSetting(
        "CALCULATE:EC{ch}:0001:REFSOURCE {};",
        "Set the reference pulse input (fo0 = POW1).",
        validator=lambda v, n: _token(v, n),
    )
    meter_constant = RememberedSetting(
        "CALCULATE:EC{ch}:0001:DUTCONSTANT {};",
        "Set the meter constant (imp/kWh or imp/kvarh).",
        validator=in_range(1e-6, 1e12),
        to_text=compact_number,
    )
    constant_unit = RememberedSetting(
        "CALCULATE:EC{ch}:0001:DCUNIT {};",
        "Set the unit of the meter constant.",
        validator=one_of(tuple(DC_UNITS.values())),
    )
    pulses = RememberedSetting(
        "CALCULATE:EC{ch}:0001:MRATE {:d};",
        "Set the number of meter pulses to measure.",
        validator=int_range(1, MAX_PULSES),
    )
    continuous = RememberedSetting(
        "CALCULATE:EC{ch}:0001:CONTINUOUS {:d};",
        "Set continuous (1) or single (0) measurement.",
        validator=one_of((0, 1)),
    )

    def __init__(self, parent: ZeraCom5003, position: int, pulse_input: str | None = None) -> None:
        super().__init__(parent, f"{position:02d}")
        self.position = position
        self.pulse_input = pulse_input or f"fi{position - 1}"
        self._commands: tuple[tuple[Any, ...], tuple[str, ...]] | None = None

    def write_setting(self, command: str) -> None:
        """Write a setting of this EC unless the connection already holds it (see module doc)."""
        self.parent.write_setting(command)

    def setting_commands(
        self, meter_constant: float, pulses: int, quantity: Quantity, continuous: bool = False
    ) -> list[str]:
        """The validated commands that set input, reference, constant, unit, pulses and mode
        (nothing is sent). The last ones are kept: every repetition of a point asks again."""
        key = (self.pulse_input, meter_constant, pulses, Quantity(quantity), bool(continuous))
        if self._commands is None or self._commands[0] != key:
            cls = type(self)
            commands = (
                cls.meter_input.command(self, self.pulse_input),
                cls.reference_input.command(self, "fo0"),
                cls.meter_constant.command(self, meter_constant),
                cls.constant_unit.command(self, DC_UNITS[Quantity(quantity)]),
                cls.pulses.command(self, pulses),
                cls.continuous.command(self, int(continuous)),
            )
            self._commands = (key, commands)
        return list(self._commands[1])

    def configure(
        self, meter_constant: float, pulses: int, quantity: Quantity, continuous: bool = False
    ) -> None:
        """Set input, reference, constant and unit, pulse count and run mode.

        Only the settings that differ from what this connection last wrote are sent, so a
        repeated configure at the same point sends nothing.
        """
        for command in self.setting_commands(meter_constant, pulses, quantity, continuous):
            self.write_setting(command)

    def start(self) -> None:
        """Arm the measurement (it starts on the next meter pulse)."""
        self.write(self.start_command(True), idempotent=False)

    def abort(self) -> None:
        """Stop the measurement."""
        self.write(self.start_command(False))

    def start_command(self, on: bool) -> str:
        return f"CALCULATE:EC{self.ch}:0001:START {int(on)};"

    def param_query(self, param: str) -> str:
        """The query of one of this EC's parameters ("CALCULATE:EC02:0001:STATUS?")."""
        return f"CALCULATE:EC{self.ch}:0001:{param}?"

    def _get(self, param: str) -> str:
        return self.query(self.param_query(param)).strip()

    def reference_constant(self) -> float:
        """The reference constant the EC counts with (imp/kWh)."""
        return _number(self.parent, "REFCONSTANT?", self._get("REFCONSTANT"), float)

    def state_query(self) -> str:
        return self.param_query("STATUS")

    def status_queries(self) -> list[str]:
        """The queries of `status()`, in the order `parse_status` takes their replies."""
        return [self.param_query(param) for param in STATUS_PARAMS]

    def result_queries(self) -> list[str]:
        """The queries of `result()`, in the order `parse_result` takes their replies."""
        return [self.param_query(param) for param in RESULT_PARAMS]

    def parse_state(self, reply: str) -> ECState:
        command = self.state_query()
        code = _number(self.parent, command, reply.strip(), int)
        if code not in EC_STATES:
            self.parent.forget_settings()
            raise InstrumentError(self.name, command, f"unknown status {code}")
        return EC_STATES[code]

    def parse_status(self, replies: Sequence[str]) -> ECStatus:
        state = self.parse_state(replies[0])
        values = {
            param: _number(self.parent, self.param_query(param), reply.strip(), kind)
            for param, kind, reply in zip(
                STATUS_PARAMS[1:], STATUS_KINDS, replies[1:], strict=True
            )
        }
        has_result = values["MEASNUM"] > 0 or state is ECState.READY
        return ECStatus(
            state,
            values["PROGRESS"],
            values["RESULT"] if has_result else None,
            values["TARGET"],
            values["PULSES"],
            values["MEASNUM"],
        )

    def parse_result(self, replies: Sequence[str]) -> ECResult:
        error_query, counts_query = self.result_queries()
        return ECResult(
            _number(self.parent, error_query, replies[0].strip(), float),
            _number(self.parent, counts_query, replies[1].strip(), int),
        )

    def state(self) -> ECState:
        """The measurement state alone: one `STATUS?` query (cheap enough to poll)."""
        return self.parse_state(self.query(self.state_query()))

    def status(self) -> ECStatus:
        """State, progress, error, target and counts of the current/last measurement."""
        first, *rest = self.status_queries()
        state = self.query(first)
        self.parse_state(state)  # an unknown state stops here, before the other queries
        return self.parse_status([state, *(self.query(q) for q in rest)])

    def result(self) -> ECResult:
        """Error and reference counts of a gate polled READY: two queries."""
        return self.parse_result([self.query(q) for q in self.result_queries()])


class ZeraEnergyRegister:
    """EM01: reference energy between start and stop (EnergyRegister role)."""

    prefix = "CALCULATE:EM01:0001:"

    def __init__(self, parent: ZeraCom5003) -> None:
        self.parent = parent

    def start(self) -> None:
        """Start accumulating energy."""
        self.parent.write(self.prefix + "START 1;", idempotent=False)

    def stop(self) -> None:
        """Stop accumulating; the energy stays readable."""
        self.parent.write(self.prefix + "START 0;")

    def running(self) -> bool:
        """True while accumulating."""
        reply = self.parent.query(self.prefix + "STATUS?").strip()
        return _number(self.parent, "EM STATUS?", reply, int) == 2

    def energy(self) -> float:
        """Energy in kWh (kvarh in a reactive mode), total of the three phases."""
        reply = self.parent.query(self.prefix + "ENERGY?").strip()
        return _number(self.parent, "EM ENERGY?", reply, float)


def _header(command: str) -> str:
    """A setting's header ("CALCULATE:EC02:0001:MRATE"): what the memory of settings keys by."""
    return command.partition(" ")[0]


def _is_query(line: str) -> bool:
    return line.rstrip().endswith("?")


def _token(value: object, name: str) -> str:
    text = str(value)
    if not text.isalnum():
        raise SettingError(f"{name}: {value!r} must be letters and digits (e.g. fi0)")
    return text


def _number(inst: ZeraCom5003, command: str, reply: str, kind):
    try:
        return kind(float(reply)) if kind is int else kind(reply)
    except ValueError:
        inst.forget_settings()  # a reply out of step: trust nothing remembered
        raise InstrumentError(inst.name, command, f"unexpected reply {reply!r}") from None


@register_driver("zera_com5003", "zera_mt310s2")
class ZeraCom5003(ScpiInstrument):
    """ZERA COM5003/MT310s2: ReferenceMeter role, plus error calculators and the energy register."""

    model = "ZERA COM5003"
    write_termination = "\n"
    read_termination = "\n"
    error_query = "SYSTEM:ERROR?"

    mode = Setting(
        "CONFIGURATION:POW1:MMODE {};",
        "Control the POW1 measuring mode (4LW, 4LB, 3LW, 3LB).",
        validator=one_of(tuple(MODES.values())),
        get_cmd="CONFIGURATION:POW1:MMODE?",
        parse=str.strip,
    )
    reactive_mode = Setting(
        "CONFIGURATION:POW2:MMODE {};",
        "Set the POW2 (reactive) measuring mode.",
        validator=one_of(("4LB", "3LB")),
    )
    apparent_mode = Setting(
        "CONFIGURATION:POW3:MMODE {};",
        "Set the POW3 (apparent) measuring mode.",
        validator=one_of(("4LS", "3LS")),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Setting header (e.g. "CALCULATE:EC02:0001:MRATE") -> the exact command the instrument
        # accepted on this connection (error queue read back empty).
        self._accepted: dict[str, str] = {}

    def write_setting(self, command: str) -> None:
        """Write a remembered setting unless this connection already holds exactly `command`."""
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
        """Send `commands` together and return the replies of the queries among them, in order.

        ZERA's SCPI server takes many commands in one transaction (zera-classes scpimodule test
        "all queries in one transaction", instruments.md 2.3), so they go out in one write and
        the replies are read after it: one round trip instead of one per command. That the
        replies come back in the order of the queries is our reading [L] (the simulator does);
        `options: {pipeline: false}` in the bench file sends one command per exchange instead.
        Each set command is followed by its own `SYSTEM:ERROR?`, so a refusal names its command;
        all replies are read before raising, so the connection stays in step.
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
        """Check the instrument answers and its error queue is empty."""
        self.identify()
        leftover = self.errors()
        if leftover:
            self.forget_settings()
            self._log.info("cleared old errors: %s", leftover)

    def set_mode(self, wiring: Wiring, quantity: Quantity) -> None:
        """Set 4-wire/3-wire and active/reactive; POW2/POW3 follow the wiring."""
        key = (wiring, Quantity(quantity))
        if key not in MODES:
            raise InstrumentError(self.name, "set_mode", f"unsupported mode {key}")
        self.mode = MODES[key]
        self.reactive_mode = "4LB" if wiring == "3P4W" else "3LB"
        self.apparent_mode = "4LS" if wiring == "3P4W" else "3LS"

    def reference_constant(self) -> float:
        """Constant of the frequency output fo0 (imp/kWh, or imp/kvarh in a reactive mode)."""
        reply = self.query("CONFIGURATION:POW1:M0CONSTANT?").strip()
        return _number(self, "CONFIGURATION:POW1:M0CONSTANT?", reply, float)

    def _items(self, command: str) -> dict[str, tuple[str, str]]:
        reply = self.query(command)
        try:
            return parse_items(reply)
        except ValueError as exc:
            raise InstrumentError(self.name, command, str(exc)) from None

    def read(self) -> Readings:
        """Read U, I, angles, P, Q, S, PF per phase and total, and the frequency."""
        replies = {command: self._items(command) for command in READ_QUERIES}
        # P comes from POW1 in an active mode; in a reactive mode POW1 holds Q, so P = S * lambda.
        active = replies["MEASURE:POW1?"].get("PS", ("", ""))[0].upper() == "W"

        def value(command: str, label: str) -> str:
            if label not in replies[command]:
                raise InstrumentError(self.name, command, f"no {label} in reply")
            return replies[command][label][1]

        def num(command: str, label: str) -> float:
            return _number(self, command, value(command, label), float)

        def angle(label: str) -> float:
            text = value("MEASURE:DFT1?", label).split(",")[-1]  # "amplitude,angle"
            return _number(self, "MEASURE:DFT1?", text, float)

        def power(label: str, s: float, pf: float) -> float:
            return num("MEASURE:POW1?", label) if active else s * pf

        phases = []
        for n in ("1", "2", "3"):
            s = num("MEASURE:POW3?", f"P{n}")
            pf = num("MEASURE:LAM1?", f"LAMBDA{n}")
            phases.append(
                PhaseReading(
                    voltage=num("MEASURE:RMS1?", f"UL{n}"),
                    current=num("MEASURE:RMS1?", f"IL{n}"),
                    voltage_angle=angle(f"UL{n}"),
                    current_angle=angle(f"IL{n}"),
                    p=power(f"P{n}", s, pf),
                    q=num("MEASURE:POW2?", f"P{n}"),
                    s=s,
                    pf=pf,
                )
            )
        s_total = num("MEASURE:POW3?", "PS")
        pf_total = num("MEASURE:LAM1?", "LAMBDAS")
        readings = Readings(
            phases=(phases[0], phases[1], phases[2]),
            p=power("PS", s_total, pf_total),
            q=num("MEASURE:POW2?", "PS"),
            s=s_total,
            pf=pf_total,
            frequency=num("MEASURE:RNG1:F?", "F"),
        )
        if not all(math.isfinite(v) for v in (readings.p, readings.q, readings.s, readings.pf)):
            raise InstrumentError(self.name, "read", f"non-finite reading {readings}")
        return readings

    def error_calculator(
        self, position: int, pulse_input: str | None = None
    ) -> ZeraErrorCalculator:
        """The error calculator of meter position `position` (1..99)."""
        int_range(1, 99)(position, f"{self.name}.error_calculator position")
        return ZeraErrorCalculator(self, position, pulse_input)

    def energy_register(self) -> ZeraEnergyRegister:
        """The EM01 energy module."""
        return ZeraEnergyRegister(self)
