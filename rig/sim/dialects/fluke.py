"""Fluke 6105A electrical power standard as a source, SCPI (instruments.md 2.1 [H]; the exact
subset and replies the rig's driver uses: docs/dialects.md section 1)."""

from __future__ import annotations

import re
from collections.abc import Callable

from rig.instruments.loadpoint import normalise_angle
from rig.sim.dialects.base import CommandError, Dialect, number
from rig.sim.physics import HarmonicSetting, powers
from rig.sim.source import SimSource, SourceError

# SCPI long forms -> short forms (mnemonics are matched on the short form).
_LONG = {
    "SOURCE": "SOUR",
    "PHASE": "PHAS",
    "VOLTAGE": "VOLT",
    "CURRENT": "CURR",
    "MHARMONIC": "MHAR",
    "HARMONIC": "HARM",
    "CLEAR": "CLE",
    "STATE": "STAT",
    "FREQUENCY": "FREQ",
    "OUTPUT": "OUTP",
    "SYSTEM": "SYST",
    "ERROR": "ERR",
    "RANGE": "RANG",
    "FITTED": "FITT",
    "MODEL": "MOD",
    "SERIAL": "SER",
    "POWER": "POW",
}

MAX_U = 1008.0  # 6105A voltage range, docs/dialects.md 1
MAX_I = 21.0  # 6105A current without the 52120A amplifier, docs/dialects.md 1
MAX_ORDER = 100  # harmonics to order 100 (instruments.md 1, Fluke)


def _normalise_header(header: str) -> str:
    nodes = header.upper().lstrip(":").split(":")
    out = []
    for node in nodes:
        m = re.fullmatch(r"([A-Z*]+)(\d*)(\??)", node)
        if not m:
            out.append(node)
            continue
        name, digits, q = m.groups()
        out.append(_LONG.get(name, name) + digits + q)
    if out and out[0] in ("PHAS1", "PHAS2", "PHAS3", "FREQ", "FREQ?"):
        out.insert(0, "SOUR")  # [SOUR]: is optional (instruments.md 2.1 p136)
    return ":".join(out)


class Fluke6105A(Dialect):
    terminator = "\n"
    roles = ("source",)
    transport = "tcp"

    def __init__(self, world, serial: str = "SIM0001") -> None:
        super().__init__(world)
        self.serial = serial

    def dispatch(self, line: str) -> list[str]:
        header, _, args = line.strip().partition(" ")
        header = _normalise_header(header)
        query = header.endswith("?")
        try:
            if not query and self.take_injected_error():
                raise CommandError(-221, "Settings conflict")
            reply = self._command(header, args.strip(), query)
        except CommandError as e:
            self.errors.append((e.code, e.text))
            return []
        return [] if reply is None else [reply]

    # -- commands ----------------------------------------------------------------------------
    def _command(self, h: str, args: str, query: bool) -> str | None:
        if h == "*IDN?":
            return f"FLUKE,6105A,{self.serial},SIM-1.0"
        if h == "*CLS":
            self.errors.clear()
            return None
        if h == "*RST":
            self._change(lambda s: s.reset(self.world.wall()))
            return None
        if h == "*OPC?":
            return "1"
        if h == "*TST?":
            return "0"
        if h == "SYST:ERR?":
            if self.errors:
                code, text = self.errors.popleft()
                return f'{code},"{text}"'
            return '0,"No error"'
        if h == "OUTP:STAT":
            on = self._bool(args)
            self._change(lambda s: s.set_output(on, self.world.wall(), "OUTP:STAT"))
            return None
        if h == "OUTP:STAT?":
            return "1" if self.world.source.state.output_on else "0"
        if h in ("OUTP:RAMP:TIME", "OUTP:SENS"):
            number(args, h)
            return None
        if h == "SOUR:FREQ":
            f = number(args, "frequency")
            self._change(lambda s: s.set_frequency(f))
            return None
        if h == "SOUR:FREQ?":
            return f"{self.world.source.state.frequency:.6g}"
        m = re.fullmatch(r"SOUR:PHAS([123]):(.+)", h)
        if m:
            return self._phase(int(m.group(1)) - 1, m.group(2), args, query)
        raise CommandError(-113, "Undefined header")

    def _phase(self, k: int, rest: str, args: str, query: bool) -> str | None:
        src = self.world.source
        ph = src.state.phases[k]
        if rest == "FITT?":
            return "1"
        if rest == "MOD?":
            return '"6105A"' if k == 0 else '"6106A"'
        if rest == "SER?":
            return f'"{self.serial}-{k + 1}"'
        if rest == "POW:WATT?":
            return f"{powers(src.actual_phases(), '3P4W').p_elements[k]:.6E}"
        m = re.fullmatch(r"(VOLT|CURR):(.+)", rest)
        if not m:
            raise CommandError(-113, "Undefined header")
        chan, sub = m.groups()
        volt = chan == "VOLT"
        if sub == "STAT":
            on = self._bool(args)

            def set_enabled(s: SimSource) -> None:
                (s.state.u_enabled if volt else s.state.i_enabled)[k] = on

            self._change(set_enabled)
            return None
        if sub == "STAT?":
            return "1" if (src.state.u_enabled if volt else src.state.i_enabled)[k] else "0"
        if sub in ("MHAR:STAT", "RANG", "EAMP:RANG", "EAMP:TERM:MODE"):
            return None
        if sub == "MHAR:CLE":
            field = "u_harmonics" if volt else "i_harmonics"
            self._change(lambda s: s.update_phase(k, **{field: ()}))
            return None
        m = re.fullmatch(r"MHAR:HARM(\d+)(\??)", sub)
        if m:
            order, q = int(m.group(1)), m.group(2)
            if order > MAX_ORDER:
                raise CommandError(-222, "Data out of range")
            fund = ph.u_rms if volt else ph.i_rms
            harmonics = ph.u_harmonics if volt else ph.i_harmonics
            if q:
                if order == 1:
                    amp, angle = fund, (ph.u_angle if volt else ph.i_angle)
                else:
                    h = next((x for x in harmonics if x.order == order), None)
                    amp, angle = (h.fraction * fund, h.angle) if h else (0.0, 0.0)
                which = args.strip().upper()
                if which.startswith("AMPL"):
                    return f"{amp:.6g}"
                if which.startswith("PANG"):
                    return f"{angle:.6g}"
                return f"{amp:.6g},{angle:.6g}"
            parts = args.split(",")
            if len(parts) != 2:
                raise CommandError(-109, "Missing parameter")
            amp, angle = number(parts[0], "amplitude"), normalise_angle(number(parts[1], "angle"))
            if amp < 0 or amp > (MAX_U if volt else MAX_I):
                raise CommandError(-222, "Data out of range")
            if order == 0:
                if amp != 0:
                    raise CommandError(-221, "Settings conflict")  # [L] sim has no DC offset
                return None
            if order == 1:
                changes = (
                    {"u_rms": amp, "u_angle": angle} if volt else {"i_rms": amp, "i_angle": angle}
                )
                self._change(lambda s: s.update_phase(k, **changes))
                return None
            if amp > 0 and fund == 0:
                raise CommandError(-221, "Settings conflict")  # harmonic of no fundamental
            others = tuple(x for x in harmonics if x.order != order)
            new = others + ((HarmonicSetting(order, amp / fund, angle),) if amp > 0 else ())
            field = "u_harmonics" if volt else "i_harmonics"
            self._change(lambda s: s.update_phase(k, **{field: new}))
            return None
        raise CommandError(-113, "Undefined header")

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _bool(args: str) -> bool:
        a = args.strip().upper()
        if a in ("ON", "1"):
            return True
        if a in ("OFF", "0"):
            return False
        raise CommandError(-224, "Illegal parameter value")

    def _change(self, change: Callable[[SimSource], None]) -> None:
        try:
            self.world.change_source(change)
        except SourceError as e:
            code = -221 if "interlock" in str(e) else -222
            raise CommandError(
                code, "Settings conflict" if code == -221 else "Data out of range"
            ) from None
