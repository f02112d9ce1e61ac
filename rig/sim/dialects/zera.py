"""ZERA COM5003 / MT310s2 reference standard, its error calculators (EC01) and energy module (EM01),
SCPI over TCP: an implementation of its own from ZERA's firmware (ZeraGmbH/zera-classes @618fe79f,
"zc:"; device configs ZeraGmbH/zenux-services, "zs:"), sharing nothing with the rig's driver.
docs/dialects.md 3 lists each behaviour with its source.

- Errors: an unknown header queues `-100,Command error` (zc:modules/scpimodule/lib/clients/
  scpiclient.cpp: executeCmd fails -> CommandError); a value a parameter's validator refuses
  queues `-120,Numeric data error` (same file: ZSCPI::errval -> NumericDataError); the texts:
  zc:.../scpi-model-ieee-488-2/ieee488-2.cpp.
- Catalogs: POW1 4LW;3LW;2LW, POW2 4LB;3LB;2LB (COM5003 also 4LBK), POW3 per model
  (zc:modules/power1module/configs/*-power1module{,2,3}.xml; the dump
  zc:modules/scpimodule/tests/test-data/scpi-dumps/dumped-all-queries-in-one-transaction).
- Error calculators: `CALCULATE:EC01:<4-digit instance>:...`; COM5003 0001 on SC1/HK1 and 0002 on
  Fin1..Fin4, MT310s2 0001 on SC1/HK1 (zc:modules/sec1module/configs/*.xml, the sessions in
  zc:modulemanager/sessions, aliases zs:com5003d/configs/com5003d.xml). STATUS is a bit field
  (zenux-services secinterface.h ECALCSTATUS), PULSES the DUT pulse count, REFSOURCE the power type
  P/Q/S of the frequency output counted (zc:modules/sec1module/lib/sec1modulemeasprogram.cpp).
  The DUT input counts the meter output the bench cabled to it (the bench file's `pulse_wiring`,
  base.Cabling): a scanning head on the LEDs reads the LED of the REFSOURCE's energy.
- EM01 stops by itself after MTIME s in MODE 1, the default (zc:modules/sem1module).
- Firmware before 2026-07 does not answer a message's queries in query order (zc: a51157753
  "Revamp ScpiCmdResponseSorter", 2026-06-24); this simulator answers them sorted by header then
  [L: the real order depends on which module answers first].
Numbers are written with 8 significant digits, as the dump's values (`325.26913`, `5e+08`) [L].
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import ClassVar

from rig.sim.dialects.base import ON_LEDS, Cabling, CommandError, Dialect
from rig.sim.reference import EcStatus
from rig.sim.world import WorldError

COMMAND_ERROR = (-100, "Command error")
NUMERIC_DATA_ERROR = (-120, "Numeric data error")
EXECUTION_ERROR = (-200, "Execution error")
# STATUS bits (secinterface.h ECALCSTATUS).
ARMED, STARTED, READY, ABORT = 1, 2, 4, 8
#: Measuring mode -> (wiring of the simulated world, power type): 4L four-wire, 3L three-wire,
#: 2L [L: a single system; simulated as four-wire], W active, B reactive, S apparent, g geometric.
MODE_WIRING = {"4": "3P4W", "3": "3P3W", "2": "3P4W"}
POWER_TYPES = {"W": "P", "B": "Q", "S": "S"}
#: DUT constant units allowed per power type, first the default (getDutConstUnitValidator);
#: the energy-per-impulse ones are inverted to imp/kxh.
DC_UNITS = {
    "P": ("I/kWh", "Wh/I"),
    "Q": ("I/kVarh", "Varh/I"),
    "S": ("I/kVAh", "VAh/I"),
}
#: EM01 energy units and their factor to kxh (sem1modulemeasprogram.cpp mEnergyUnitFactorHash).
TX_UNITS = {
    "P": {"MWh": 1000.0, "kWh": 1.0, "Wh": 0.001},
    "Q": {"MVarh": 1000.0, "kVarh": 1.0, "Varh": 0.001},
    "S": {"MVAh": 1000.0, "kVAh": 1.0, "VAh": 0.001},
}
MEASURE_UNITS = {"P": "W", "Q": "Var", "S": "VA"}  # POW1 [W], POW2 [Var], POW3 [VA] (the dump)
#: EM01 MTIME validator 1 .. maxSecCounterInitVal/1000 s (sem1modulemeasprogram.cpp) [L: the
#: counter's maximum, taken as 2^32-1 ms].
MTIME_MAX = (2**32 - 1) // 1000

_LONG = {
    "CONF": "CONFIGURATION",
    "MEAS": "MEASURE",
    "CALC": "CALCULATE",
    "SYST": "SYSTEM",
    "ERR": "ERROR",
    "STAT": "STATUS",
    "CAT": "CATALOG",
}
_EC = re.compile(r"CALCULATE:EC01:(\d{4}):(\w+)(\??)")
_EM = re.compile(r"CALCULATE:EM01:0001:(\w+)(\??)")
_POW_CONF = re.compile(r"CONFIGURATION:(POW[123]):(MMODE|MMODE:CATALOG|M0CONSTANT)(\??)")
_MEASURE = re.compile(r"(?:MEASURE|READ|FETCH):(\w+?\d)(?::([\w-]+))?\?")


def _fmt(v: float) -> str:
    return "nan" if math.isnan(v) else f"{v:.8g}"


@functools.lru_cache(maxsize=4096)
def _long_header(header: str) -> str:
    """Upper case, the long form of the abbreviated nodes, no trailing ";"."""
    return ":".join(_LONG.get(n, n) for n in header.upper().rstrip(";").split(":"))


def _release_month(release: str) -> tuple[int, int]:
    m = re.search(r"(20\d\d)-(\d\d)", release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


@dataclass
class EcUnit:
    """One sec1module instance: its parameters as the firmware keeps them."""

    inputs: tuple[str, ...]
    dut_source: str
    ref_source: str = "P"
    dut_constant: float = 10000.0  # the config XML defaults (com5003-sec1module.xml)
    dc_unit: str = "I/kWh"
    mrate: int = 10
    continuous: int = 0
    position: int | None = None  # the world error calculator measuring since START 1
    started: bool = False
    results_at_start: int = 0


@dataclass
class EmModule:
    """EM01 (sem1module): MODE 1 with MTIME 120 s, reference P, kWh by default (the dump)."""

    mode: int = 1
    mtime: int = 120
    ref_source: str = "P"
    tx_unit: str = "kWh"
    started: bool = False
    aborted: bool = False


@dataclass
class Catalogs:
    """The measuring modes a model's POW1..POW3 accept."""

    pow1: tuple[str, ...] = ("4LW", "3LW", "2LW")
    pow2: tuple[str, ...] = ("4LB", "4LBK", "3LB", "2LB")
    pow3: tuple[str, ...] = ("4LS", "4LSg", "3LS", "3LSg", "2LS", "2LSg")
    modes: dict[str, str] = field(default_factory=dict)


def _number(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise CommandError(*NUMERIC_DATA_ERROR) from None
    if not math.isfinite(v):
        raise CommandError(*NUMERIC_DATA_ERROR)
    return v


def _integer(text: str, low: int, high: int) -> int:
    v = _number(text)
    if v != int(v) or not low <= v <= high:
        raise CommandError(*NUMERIC_DATA_ERROR)
    return int(v)


def _choice(text: str, allowed: tuple[str, ...] | dict) -> str:
    if text not in allowed:  # the firmware's string validators compare exactly
        raise CommandError(*NUMERIC_DATA_ERROR)
    return text


class ZeraCom5003(Dialect):
    terminator = "\n"
    roles = ("reference",)
    transport = "tcp"
    model: ClassVar[str] = "COM5003"
    #: DUT inputs per EC01 instance (com5003-sec1module.xml: sh0, hk0;
    #: com5003-sec1module-energy-comparison.xml: fi0..fi3; aliases zs:com5003d.xml).
    ec_inputs: ClassVar[tuple[tuple[str, ...], ...]] = (
        ("SC1", "HK1"),
        ("Fin1", "Fin2", "Fin3", "Fin4"),
    )
    catalogs: ClassVar[Catalogs] = Catalogs()

    def __init__(
        self, world, serial: str = "050000001", release: str = "release-2026-07-28"
    ) -> None:
        super().__init__(world)
        self.serial = serial
        self.release = release
        self.ordered_replies = _release_month(release) >= (2026, 7)
        self.units = [EcUnit(inputs, inputs[0]) for inputs in self.ec_inputs]
        # Input alias -> the position whose meter it sees, and on which output.
        self.cabling = Cabling(self.model)
        self.modes = {"POW1": "4LW", "POW2": "4LB", "POW3": "4LS"}
        self.em = EmModule()
        self._outputs_changed()

    # -- the bench's cabling -------------------------------------------------------------------
    def wire(self, position: int, pulse_input: str | None, output: str = ON_LEDS) -> str:
        """Cable meter output `output` of `position` (default: a scanning head on its LEDs) to
        input `pulse_input` (default: the first input of the first calculator not yet cabled);
        return the input. ValueError if there is none."""
        wired = self.cabling.wired
        if pulse_input is None:
            free = [u.inputs[0] for u in self.units if not set(u.inputs) & set(wired)]
            if not free:
                raise ValueError(f"{self.model}: every error calculator is cabled already")
            pulse_input = free[0]
        if not any(pulse_input in u.inputs for u in self.units):
            raise ValueError(f"{self.model} has no input {pulse_input!r}")
        self.cabling.plug(pulse_input, position, output)
        return pulse_input

    # -- lines ---------------------------------------------------------------------------------
    def handle_lines(self, lines: list[str]) -> list[str]:
        if self.ordered_replies or sum(1 for x in lines if x.strip().endswith("?")) < 2:
            return super().handle_lines(lines)
        with self.world.access():
            answered = [(x.strip().upper(), Dialect.handle_lines(self, [x])) for x in lines]
        return [r for _, rs in sorted(answered, key=lambda a: a[0]) for r in rs]

    def dispatch(self, line: str) -> list[str]:
        replies: list[str] = []
        for command in line.strip().split("|"):  # `|` chains commands (zc: scpiclient.cpp)
            if command.strip():
                replies += self._one(command.strip())
        return replies

    def _one(self, command: str) -> list[str]:
        header, _, args = command.partition(" ")
        header = _long_header(header)
        args = args.strip().rstrip(";").strip()
        try:
            if not header.endswith("?") and self.take_injected_error():
                raise CommandError(*EXECUTION_ERROR)
            reply = self._command(header, args)
        except CommandError as e:
            self.errors.append((e.code, e.text))
            return []
        except (WorldError, ValueError):
            self.errors.append(EXECUTION_ERROR)
            return []
        return [] if reply is None else [reply]

    def _command(self, h: str, args: str) -> str | None:
        if h == "*IDN?":
            return f"ZERA GmbH Koenigswinter, {self.model}, {self.serial}, {self.release}"
        if h == "*CLS":
            self.errors.clear()
            return None
        if h in ("*OPC?", "*STB?"):
            return "+1" if h == "*OPC?" else "+0"
        if h == "SYSTEM:ERROR?":
            if self.errors:
                code, text = self.errors.popleft()
                return f"{code:+d},{text}"
            return "+0,No error"
        if h == "SYSTEM:ERROR:COUNT?":
            return str(len(self.errors))
        m = _EC.fullmatch(h)
        if m:
            return self._ec(int(m.group(1)), m.group(2), bool(m.group(3)), args)
        m = _MEASURE.fullmatch(h)
        if m:
            return self._measure(m.group(1), m.group(2))
        m = _POW_CONF.fullmatch(h)
        if m:
            return self._pow_conf(m.group(1), m.group(2), bool(m.group(3)), args)
        m = _EM.fullmatch(h)
        if m:
            return self._em(m.group(1), bool(m.group(2)), args)
        raise CommandError(*COMMAND_ERROR)

    # -- power modules -------------------------------------------------------------------------
    def _catalog(self, module: str) -> tuple[str, ...]:
        c = self.catalogs
        return {"POW1": c.pow1, "POW2": c.pow2, "POW3": c.pow3}[module]

    def _pow_conf(self, module: str, node: str, query: bool, args: str) -> str | None:
        if node == "MMODE:CATALOG":
            if not query:
                raise CommandError(*COMMAND_ERROR)
            return ";".join(self._catalog(module))
        if node == "M0CONSTANT":
            if not query:
                raise CommandError(*COMMAND_ERROR)
            return _fmt(self.world.reference.constant)
        if query:
            return self.modes[module]
        self.modes[module] = _choice(args, self._catalog(module))
        self._outputs_changed()
        return None

    def _outputs_changed(self) -> None:
        """The frequency outputs follow the POW modes (fo0 POW1, fo1 POW2, fo2 POW3)."""
        self.world.reference.set_outputs({p: self._output_key(p) for p in ("P", "Q", "S")})

    def _output_key(self, power_type: str) -> tuple[str, str]:
        module = {"P": "POW1", "Q": "POW2", "S": "POW3"}[power_type]
        mode = self.modes[module]
        return MODE_WIRING[mode[0]], POWER_TYPES[mode[2]]

    # -- actual values -------------------------------------------------------------------------
    def _measure(self, module: str, item: str | None) -> str:
        items = self._items(module)
        if items is None:
            raise CommandError(*COMMAND_ERROR)
        if item is not None:
            items = [x for x in items if x[0].upper() == item]
            if not items:
                raise CommandError(*COMMAND_ERROR)
        return "".join(f"{module}:{label}:[{unit}]:{value};" for label, unit, value in items)

    def _items(self, module: str) -> list[tuple[str, str, str]] | None:
        ref = self.world.reference
        rd = ref.reading()
        if module == "RMS1":
            return [(f"UL{k + 1}", "V", _fmt(rd.u[k])) for k in range(3)] + [
                (f"IL{k + 1}", "A", _fmt(rd.i[k])) for k in range(3)
            ]
        if module == "DFT1":
            # ULn/ILn: re,im of the fundamental's amplitude; Un/In: amplitude, rad, deg in
            # [0, 360); ZERA's positive sequence has U2 at +120 deg (the dump), so the angle is
            # the world's (mathematical, L2 at -120) with its sign changed. Amplitude = rms*sqrt2
            # (the dump: 230 V rms -> 325.26913) [L].
            out = []
            for name, unit, rms, angle in (
                ("U", "V", rd.u_fundamental, rd.u_angle),
                ("I", "A", rd.i_fundamental, rd.i_angle),
            ):
                for k in range(3):
                    amp = rms[k] * math.sqrt(2)
                    deg = (-angle[k]) % 360.0
                    rad = math.radians(deg)
                    re_, im = amp * math.cos(rad), amp * math.sin(rad)
                    out.append((f"{name}L{k + 1}", unit, f"{_fmt(re_)},{_fmt(im)}"))
                    out.append((f"{name}{k + 1}", unit, f"{_fmt(amp)},{_fmt(rad)},{_fmt(deg)}"))
            return out
        if module in ("POW1", "POW2", "POW3"):
            wiring, power = MODE_WIRING[self.modes[module][0]], POWER_TYPES[self.modes[module][2]]
            per = {"P": rd.p, "Q": rd.q, "S": rd.s}[power]
            label, unit = {"P": "P", "Q": "Q", "S": "S"}[power], MEASURE_UNITS[power]
            return [(f"{label}{k + 1}", unit, _fmt(per[k])) for k in range(3)] + [
                (f"{label}S", unit, _fmt(ref.total(wiring, power)))
            ]
        if module == "LAM1":
            # Lambda4 (all phases) comes first (the dump).
            wiring = MODE_WIRING[self.modes["POW1"][0]]
            p, s = ref.total(wiring, "P"), ref.total(wiring, "S")
            total = [("Lambda4", "", _fmt(p / s if s > 0 else 1.0))]
            return total + [(f"Lambda{k + 1}", "", _fmt(rd.pf[k])) for k in range(3)]
        if module == "RNG1":
            return [("F", "Hz", _fmt(rd.frequency))]
        return None

    # -- error calculators ---------------------------------------------------------------------
    def _unit(self, instance: int) -> EcUnit:
        if not 1 <= instance <= len(self.units):
            raise CommandError(*COMMAND_ERROR)  # no such module instance: an unknown header
        return self.units[instance - 1]

    def _ec(self, instance: int, param: str, query: bool, args: str) -> str | None:
        u = self._unit(instance)
        if not query:
            self._ec_set(u, param, args)
            return None
        w = self.world
        engine = w.ec(u.position) if u.position is not None else None
        last = (
            engine.last if engine is not None and len(engine.results) > u.results_at_start else None
        )
        ref_constant = w.reference.constant
        if param == "STATUS":
            return str(self._status_bits(u))
        if param == "PROGRESS":
            return _fmt(engine.progress_pct if engine is not None and u.started else 0.0)
        if param == "RESULT":
            return _fmt(last.error_pct) if last is not None else "0"
        if param == "TARGET":
            return str(self._target(u))
        if param == "PULSES":
            if engine is None:
                return "0"
            return str(
                engine.pulses_seen
                if engine.status is EcStatus.RUNNING
                else (last.dut_pulses if last else 0)
            )
        if param in ("ENERGY", "ENFINAL"):
            if engine is None:
                return "0"
            counts = (
                w.ec_reference_pulses(u.position)
                if param == "ENERGY"
                else (last.ref_counts if last else 0)
            )
            return _fmt(counts / ref_constant)
        if param == "MEASNUM":
            return str(len(engine.results) - u.results_at_start if engine is not None else 0)
        if param == "REFCONSTANT":
            return _fmt(ref_constant)
        simple = {
            "DUTSOURCE": u.dut_source,
            "REFSOURCE": u.ref_source,
            "DUTCONSTANT": _fmt(u.dut_constant),
            "DCUNIT": u.dc_unit,
            "MRATE": str(u.mrate),
            "CONTINUOUS": str(u.continuous),
            "START": str(int(u.started and self._status_bits(u) & (ARMED | STARTED) != 0)),
            "RESULTUNIT": "%",
        }
        if param in simple:
            return simple[param]
        raise CommandError(*COMMAND_ERROR)

    def _ec_set(self, u: EcUnit, param: str, args: str) -> None:
        if param == "DUTSOURCE":
            u.dut_source = _choice(args, u.inputs)
        elif param == "REFSOURCE":
            u.ref_source = _choice(args, ("P", "Q", "S"))
            if u.dc_unit not in DC_UNITS[u.ref_source]:  # newRefInput -> initDutConstantUnit
                u.dc_unit = DC_UNITS[u.ref_source][0]
        elif param == "DUTCONSTANT":
            v = _number(args)
            if not 1e-6 <= v <= 1e20:  # cDoubleValidator(1e-6, 1e20)
                raise CommandError(*NUMERIC_DATA_ERROR)
            u.dut_constant = v
        elif param == "DCUNIT":
            u.dc_unit = _choice(args, DC_UNITS[u.ref_source])
        elif param == "MRATE":
            u.mrate = _integer(args, 1, 4294967295)  # cIntValidator(1, 4294967295)
        elif param == "CONTINUOUS":
            u.continuous = _integer(args, 0, 1)
        elif param == "START":
            if _integer(args, 0, 1):
                self._start(u)
            else:
                self._stop(u)
        else:
            raise CommandError(*COMMAND_ERROR)

    def _imp_per_kxh(self, u: EcUnit) -> float:
        # "xxx/I" units are energy per impulse: 1000 / c imp per kxh (computeDependencies).
        return 1000.0 / u.dut_constant if u.dc_unit.endswith("/I") else u.dut_constant

    def _target(self, u: EcUnit) -> int:
        return math.floor(u.mrate * self.world.reference.constant / self._imp_per_kxh(u))

    def _start(self, u: EcUnit) -> None:
        w = self.world
        self._stop(u)
        u.position = self.cabling.wired.get(u.dut_source)
        u.started = True
        if u.position is None:
            return  # nothing cabled to the input: armed, waiting for a first pulse for ever
        engine = w.ec(u.position)
        engine.input_position = u.position
        engine.configure(
            dut_constant=self._imp_per_kxh(u),
            mrate=u.mrate,
            output=self.cabling.counted(u.dut_source, u.ref_source),
            continuous=bool(u.continuous),
        )
        u.results_at_start = len(engine.results)
        w.start_ec(u.position, w.reference.output(u.ref_source), w.reference.constant)

    def _stop(self, u: EcUnit) -> None:
        if u.started and u.position is not None:
            self.world.abort_ec(u.position)

    def _status_bits(self, u: EcUnit) -> int:
        if not u.started:
            return 0
        if u.position is None:
            return ARMED
        engine = self.world.ec(u.position)
        st = engine.status
        has_result = len(engine.results) > u.results_at_start
        if st is EcStatus.ABORTED:
            return ABORT
        if st is EcStatus.WAITING:
            return ARMED | (READY if has_result else 0)
        if st is EcStatus.RUNNING:
            return STARTED | (READY if has_result else 0)  # continuous: 6 (setECResultAndResetInt)
        if st is EcStatus.READY:
            return READY
        return 0

    # -- energy module -------------------------------------------------------------------------
    def _em(self, param: str, query: bool, args: str) -> str | None:
        em, w = self.em, self.world
        if not query:
            if param == "MODE":
                em.mode = _integer(args, 0, 1)
            elif param == "MTIME":
                em.mtime = _integer(args, 1, MTIME_MAX)
            elif param == "REFSOURCE":
                em.ref_source = _choice(args, ("P", "Q", "S"))
                if em.tx_unit not in TX_UNITS[em.ref_source]:
                    em.tx_unit = "k" + next(iter(TX_UNITS[em.ref_source]))[1:]
            elif param == "TXUNIT":
                em.tx_unit = _choice(args, TX_UNITS[em.ref_source])
            elif param == "START":
                if _integer(args, 0, 1):
                    duration = float(em.mtime) if em.mode == 1 else None
                    w.start_energy(w.reference.output(em.ref_source), duration)
                    em.started, em.aborted = True, False
                else:
                    w.stop_energy()
            else:
                raise CommandError(*COMMAND_ERROR)
            return None
        if param == "STATUS":
            if not em.started:
                return "0"
            return str(STARTED if w.energy.running else READY)
        if param == "ENERGY":
            return _fmt(w.energy_so_far() / TX_UNITS[em.ref_source][em.tx_unit])
        simple = {
            "MODE": str(em.mode),
            "MTIME": str(em.mtime),
            "REFSOURCE": em.ref_source,
            "TXUNIT": em.tx_unit,
            "START": str(int(w.energy.running)),
        }
        if param in simple:
            return simple[param]
        raise CommandError(*COMMAND_ERROR)


class ZeraMt310s2(ZeraCom5003):
    """The MT310s2: one error calculator (mt310s2-sec1module.xml: sh0, hk0), POW2 without 4LBK,
    POW3 without the 3-wire modes (mt310s2-power1module{2,3}.xml; the dump's catalogs)."""

    model = "MT310s2"
    ec_inputs = (("SC1", "HK1"),)
    catalogs = Catalogs(
        pow2=("4LB", "3LB", "2LB"),
        pow3=("4LS", "4LSg", "2LS", "2LSg"),
    )
