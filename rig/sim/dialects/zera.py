"""ZERA COM5003 / MT310s2 reference standard with per-position error calculators and the EM
energy module, SCPI (instruments.md 2.3 [H]; the exact subset and replies the rig's driver
uses: docs/dialects.md section 3)."""

from __future__ import annotations

import functools
import math
import re

from rig.sim.dialects.base import CommandError, Dialect, number
from rig.sim.world import WorldError

# POW1 measuring modes -> (wiring, quantity) of the reference pulse output fo0.
MODES = {
    "4LW": ("3P4W", "P"),
    "4LB": ("3P4W", "Q"),
    "4LS": ("3P4W", "S"),
    "3LW": ("3P3W", "P"),
    "3LB": ("3P3W", "Q"),
    "3LS": ("3P3W", "S"),
}
MODE_NAMES = {v: k for k, v in MODES.items()}
# DUT constant unit -> meter output the scanning head of the position looks at (docs/dialects.md 3).
DCUNITS = {"I/KWH": "LED_ACTIVE", "I/KVARH": "LED_REACTIVE"}

_LONG = {
    "CONF": "CONFIGURATION",
    "MEAS": "MEASURE",
    "CALC": "CALCULATE",
    "SYST": "SYSTEM",
    "ERR": "ERROR",
}


def _fmt(v: float) -> str:
    return f"{v:.9g}"


_EC_HEADER = re.compile(r"CALCULATE:EC(\d\d):0001:(\w+)(\??)")
_EM_HEADER = re.compile(r"CALCULATE:EM01:0001:(\w+)(\??)")
_MMODE_HEADER = re.compile(r"CONFIGURATION:(POW[123]):MMODE(\??)")
_MEASURE_HEADER = re.compile(r"(?:MEASURE|READ|FETCH):(\w+?)(\d)?(?::(\w+))?\?")


# The few distinct headers of a session recur at every poll of every position: parsed once.
@functools.lru_cache(maxsize=4096)
def _long_header(header: str) -> str:
    """Upper case, the long form of the abbreviated nodes (_LONG), no trailing ";"."""
    return ":".join(_LONG.get(n, n) for n in header.upper().rstrip(";").split(":"))


@functools.lru_cache(maxsize=4096)
def _ec_header(header: str) -> tuple[int, str, bool] | None:
    """(position, parameter, is a query) of an EC header, None for any other header."""
    m = _EC_HEADER.fullmatch(header)
    return (int(m.group(1)), m.group(2), bool(m.group(3))) if m else None


class ZeraCom5003(Dialect):
    terminator = "\n"
    roles = ("reference",)
    transport = "tcp"

    def __init__(self, world, serial: str = "SIM0001") -> None:
        super().__init__(world)
        self.serial = serial
        self.pow_modes = {"POW1": "4LW", "POW2": "4LB", "POW3": "4LS"}
        self.dcunits: dict[int, str] = {}

    def dispatch(self, line: str) -> list[str]:
        header, _, args = line.strip().partition(" ")
        header = _long_header(header)
        args = args.strip().rstrip(";").strip()
        query = header.endswith("?")
        try:
            if not query and self.take_injected_error():
                raise CommandError(-200, "Execution error")
            reply = self._command(header, args)
        except CommandError as e:
            self.errors.append((e.code, e.text))
            return []
        except (WorldError, ValueError):
            self.errors.append((-200, "Execution error"))
            return []
        return [] if reply is None else [reply]

    def _command(self, h: str, args: str) -> str | None:
        w = self.world
        if h == "*IDN?":
            return f"ZERA GmbH Koenigswinter, COM5003, {self.serial}, SIM-1.0"
        if h == "*CLS":
            self.errors.clear()
            return None
        if h in ("*OPC?", "*STB?"):
            return "1" if h == "*OPC?" else "0"
        if h == "SYSTEM:ERROR?":
            if self.errors:
                code, text = self.errors.popleft()
                return f"{code:+d},{text}"
            return "+0,No error"
        if h == "SYSTEM:ERROR:COUNT?":
            return str(len(self.errors))
        ec = _ec_header(h)  # first: the most frequent (every position, every poll)
        if ec is not None:
            return self._ec(*ec, args)
        m = _MMODE_HEADER.fullmatch(h)
        if m:
            return self._mmode(m.group(1), bool(m.group(2)), args)
        if h == "CONFIGURATION:POW1:M0CONSTANT?":
            return _fmt(w.reference.constant)
        m = _MEASURE_HEADER.fullmatch(h)
        if m:
            return self._measure(m.group(1) + (m.group(2) or ""), m.group(3))
        m = _EM_HEADER.fullmatch(h)
        if m:
            return self._em(m.group(1), bool(m.group(2)), args)
        raise CommandError(-113, "Undefined header")

    # -- modes -------------------------------------------------------------------------------
    def _mmode(self, module: str, query: bool, args: str) -> str | None:
        if query:
            if module == "POW1":
                return MODE_NAMES[(self.world.reference.wiring, self.world.reference.quantity)]
            return self.pow_modes[module]
        mode = args.upper()
        allowed = {
            "POW1": ("4LW", "4LB", "3LW", "3LB", "4LS", "3LS"),
            "POW2": ("4LB", "3LB"),
            "POW3": ("4LS", "3LS"),
        }[module]
        if mode not in allowed:
            raise CommandError(-222, "Data out of range")
        self.pow_modes[module] = mode
        if module == "POW1":
            self.world.set_reference_mode(*MODES[mode])
        return None

    # -- actual values -----------------------------------------------------------------------
    def _measure(self, module: str, item: str | None) -> str:
        rd = self.world.reference.reading()
        items: list[tuple[str, str, str]] = []
        if module == "RMS1":
            items = [(f"UL{k + 1}", "V", _fmt(rd.u[k])) for k in range(3)]
            items += [(f"IL{k + 1}", "A", _fmt(rd.i[k])) for k in range(3)]
        elif module == "DFT1":
            # Fundamental: peak amplitude and angle (docs/dialects.md 3).
            root2 = math.sqrt(2)
            items = [(f"UL{k + 1}", "V", f"{_fmt(rd.u_fundamental[k] * root2)},"
                      f"{_fmt(rd.u_angle[k])}") for k in range(3)]
            items += [(f"IL{k + 1}", "A", f"{_fmt(rd.i_fundamental[k] * root2)},"
                       f"{_fmt(rd.i_angle[k])}") for k in range(3)]
        elif module in ("POW1", "POW2", "POW3"):
            mode = (
                self.pow_modes[module]
                if module != "POW1"
                else MODE_NAMES[(self.world.reference.wiring, self.world.reference.quantity)]
            )
            wiring, quantity = MODES[mode]
            per = {"P": rd.p, "Q": rd.q, "S": rd.s}[quantity]
            total = self.world.reference.total(wiring, quantity)
            unit = {"P": "W", "Q": "var", "S": "VA"}[quantity]
            items = [(f"P{k + 1}", unit, _fmt(per[k])) for k in range(3)]
            items.append(("PS", unit, _fmt(total)))
        elif module == "LAM1":
            items = [(f"LAMBDA{k + 1}", "", _fmt(rd.pf[k])) for k in range(3)]
            ref = self.world.reference
            p_total, s_total = ref.total(ref.wiring, "P"), ref.total(ref.wiring, "S")
            items.append(("LAMBDAS", "", _fmt(p_total / s_total if s_total > 0 else 1.0)))
        elif module == "RNG1":
            items = [("F", "Hz", _fmt(rd.frequency))]
        else:
            raise CommandError(-113, "Undefined header")
        if item is not None:
            items = [x for x in items if x[0] == item]
            if not items:
                raise CommandError(-113, "Undefined header")
        return "".join(f"{module}:{label}:[{unit}]:{value};" for label, unit, value in items)

    # -- error calculators -------------------------------------------------------------------
    def _ec(self, p: int, param: str, query: bool, args: str) -> str | None:
        w = self.world
        if p not in w.ecs:
            raise CommandError(-113, "Undefined header")
        ec = w.ecs[p]
        if not query:
            if param == "DUTSOURCE":
                m = re.fullmatch(r"(?:FI|SH)(\d+)", args.upper())
                if not m or int(m.group(1)) + 1 not in w.positions:
                    raise CommandError(-222, "Data out of range")
                ec.input_position = int(m.group(1)) + 1
            elif param == "REFSOURCE":
                if args.lower() != "fo0":
                    raise CommandError(-222, "Data out of range")
            elif param == "DUTCONSTANT":
                c = number(args, "DUTCONSTANT")
                if c <= 0:
                    raise CommandError(-222, "Data out of range")
                ec.configure(dut_constant=c)
            elif param == "DCUNIT":
                unit = args.upper()
                if unit not in DCUNITS:
                    raise CommandError(-222, "Data out of range")
                ec.configure(output=DCUNITS[unit])
            elif param == "MRATE":
                n = number(args, "MRATE")
                if n != int(n) or not 1 <= n <= 4294967295:
                    raise CommandError(-222, "Data out of range")
                ec.configure(mrate=int(n))
            elif param == "CONTINUOUS":
                ec.configure(continuous=self._bool(args))
            elif param == "START":
                if self._bool(args):
                    w.start_ec(p)
                else:
                    w.abort_ec(p)
            else:
                raise CommandError(-113, "Undefined header")
            return None
        if param == "STATUS":
            return str(int(ec.status))
        if param == "PROGRESS":
            return _fmt(ec.progress_pct)
        if param == "RESULT":
            return _fmt(ec.last.error_pct) if ec.last else "0"
        if param == "TARGET":
            return str(ec.target)
        if param == "PULSES":
            return str(w.ec_reference_pulses(p))
        if param == "MEASNUM":
            return str(len(ec.results))
        if param == "REFCONSTANT":
            return _fmt(w.reference.constant)
        if param == "DUTCONSTANT":
            return _fmt(ec.dut_constant)
        if param == "MRATE":
            return str(ec.mrate)
        raise CommandError(-113, "Undefined header")

    # -- energy (register test) --------------------------------------------------------------
    def _em(self, param: str, query: bool, args: str) -> str | None:
        w = self.world
        if not query and param == "START":
            if self._bool(args):
                w.start_energy()
            else:
                w.stop_energy()
            return None
        if query and param == "STATUS":
            em = w.energy
            return "2" if em.running else ("4" if em.measured else "0")
        if query and param == "ENERGY":
            return _fmt(w.energy_so_far())
        raise CommandError(-113, "Undefined header")

    @staticmethod
    def _bool(args: str) -> bool:
        a = args.strip().upper()
        if a in ("1", "ON"):
            return True
        if a in ("0", "OFF"):
            return False
        raise CommandError(-222, "Data out of range")
