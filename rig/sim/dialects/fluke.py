"""Fluke 6105A electrical power standard as a source, SCPI: an implementation of its own, from
the same public sources as the driver (docs/dialects.md 1; instruments.md 2.1):

- [Man] Fluke 6105A manual p136-p165: `SOUR:PHAS<x>` trees, `MHAR:HARM<n> <amp>,<deg>` p140,
  `MHAR:CLE`, `SYST:ERR?` FIFO with `<code>,"<text>"` p155, `*CLS`/`*RST`/`*TST?`.
- [Drv] a public watt-bridge program for a real 6105A: `UNIT:MHAR:VOLT|CURR ABS`,
  `...:VOLT|CURR:RANG <low>,<top>` with the range tops below, `...:MHAR:STAT ON` before the
  harmonic tree, and a phase's current angle relative to that phase's voltage.

What the instrument refuses, the simulation refuses with an entry in the error queue (-113 unknown
header, -222 data out of range, -221 settings conflict, -224 illegal parameter value), so a
driver that sends a command the real unit would refuse fails here too.
[L] choices where the sources are silent: a channel starts in its smallest range (a driver must
select the range before a larger amplitude), harmonic amplitudes start in percent of the
fundamental (`UNIT:MHAR:... PERC`) until `ABS` is chosen, and a channel outputs its harmonics
only with `MHAR:STAT ON` (a plain sine otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rig.sim.dialects.base import CommandError, Dialect, number
from rig.sim.physics import HarmonicSetting, PhaseSetting, powers, wrap_degrees
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
    "ABSOLUTE": "ABS",
    "PERCENT": "PERC",
}

MAX_ORDER = 100  # harmonics 0..100 ([Man] p140)
#: Range tops in V / A rms ([Drv]); the 6105A alone, without 52120A amplifier: 1008 V, 21 A.
RANGE_TOPS = {
    "VOLT": (23.0, 45.0, 90.0, 180.0, 360.0, 650.0, 1008.0),
    "CURR": (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 21.0),
}
DATA_OUT_OF_RANGE = (-222, "Data out of range")
SETTINGS_CONFLICT = (-221, "Settings conflict")


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
        out.insert(0, "SOUR")  # [SOUR]: is optional ([Man] p136)
    return ":".join(out)


def _rms(amplitude: float, harmonics: dict[int, tuple[float, float]]) -> float:
    return (amplitude**2 + sum(a * a for a, _ in harmonics.values())) ** 0.5


@dataclass
class _Channel:
    """What one voltage or current channel is programmed to (not what its terminals carry)."""

    top: float  # range in force
    amplitude: float = 0.0  # fundamental, V or A rms
    angle: float = 0.0  # voltage: absolute; current: relative to its phase's voltage
    harmonics: dict[int, tuple[float, float]] = field(default_factory=dict)  # n: (V|A, deg)
    harmonics_on: bool = False  # MHAR:STAT

    def output_harmonics(self) -> tuple[HarmonicSetting, ...]:
        if not self.harmonics_on or self.amplitude <= 0:
            return ()
        return tuple(
            HarmonicSetting(n, a / self.amplitude, angle)
            for n, (a, angle) in sorted(self.harmonics.items())
            if a > 0
        )


def _fresh_channels() -> list[dict[str, _Channel]]:
    return [{kind: _Channel(top=tops[0]) for kind, tops in RANGE_TOPS.items()} for _ in range(3)]


class Fluke6105A(Dialect):
    terminator = "\n"
    roles = ("source",)
    transport = "tcp"

    def __init__(self, world, serial: str = "SIM0001") -> None:
        super().__init__(world)
        self.serial = serial
        self.channels = _fresh_channels()
        self.units = {"VOLT": "PERC", "CURR": "PERC"}

    def dispatch(self, line: str) -> list[str]:
        header, _, args = line.strip().partition(" ")
        header = _normalise_header(header)
        query = header.endswith("?")
        try:
            if not query and self.take_injected_error():
                raise CommandError(*SETTINGS_CONFLICT)
            reply = self._command(header, args.strip())
        except CommandError as e:
            self.errors.append((e.code, e.text))
            return []
        return [] if reply is None else [reply]

    # -- commands ----------------------------------------------------------------------------
    def _command(self, h: str, args: str) -> str | None:
        if h == "*IDN?":
            return f"FLUKE,6105A,{self.serial},SIM-1.0"
        if h == "*CLS":
            self.errors.clear()
            return None
        if h == "*RST":
            self._change(lambda s: s.reset(self.world.wall()))
            self.channels = _fresh_channels()
            self.units = {"VOLT": "PERC", "CURR": "PERC"}
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
        m = re.fullmatch(r"UNIT:MHAR:(VOLT|CURR)(\??)", h)
        if m:
            if m.group(2):
                return self.units[m.group(1)]
            unit = _normalise_header(args)
            if unit not in ("ABS", "PERC"):
                raise CommandError(-224, "Illegal parameter value")
            self.units[m.group(1)] = unit
            return None
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
            return self._phase(int(m.group(1)) - 1, m.group(2), args)
        raise CommandError(-113, "Undefined header")

    def _phase(self, k: int, rest: str, args: str) -> str | None:
        src = self.world.source
        if rest == "FITT?":
            return "1"
        if rest == "MOD?":
            return '"6105A"' if k == 0 else '"6106A"'
        if rest == "SER?":
            return f'"{self.serial}-{k + 1}"'
        if rest == "POW:WATT?":
            return f"{powers(src.actual_phases(), '3P4W').p_elements[k]:.6E}"
        if rest == "CURR:EAMP:FITT?":
            return "0"  # no 52120A amplifier on the simulated unit
        m = re.fullmatch(r"(VOLT|CURR):(.+)", rest)
        if not m:
            raise CommandError(-113, "Undefined header")
        kind, sub = m.groups()
        ch = self.channels[k][kind]
        enabled = src.state.u_enabled if kind == "VOLT" else src.state.i_enabled
        if sub == "STAT":
            on = self._bool(args)

            def set_enabled(s: SimSource) -> None:
                enabled[k] = on

            self._change(set_enabled)
            return None
        if sub == "STAT?":
            return "1" if enabled[k] else "0"
        if sub.startswith("EAMP:"):
            raise CommandError(*SETTINGS_CONFLICT)  # no amplifier fitted (EAMP:FITT? -> 0)
        if sub == "RANG":
            self._range(k, kind, args)
            return None
        if sub == "RANG?":
            return f"0,{ch.top:g}"
        if sub == "MHAR:STAT":
            ch.harmonics_on = self._bool(args)
            self._push(k)
            return None
        if sub == "MHAR:STAT?":
            return "1" if ch.harmonics_on else "0"
        if sub == "MHAR:CLE":
            ch.harmonics.clear()
            self._push(k)
            return None
        m = re.fullmatch(r"MHAR:HARM(\d+)(\??)", sub)
        if m:
            order = int(m.group(1))
            if order > MAX_ORDER:
                raise CommandError(-113, "Undefined header")
            if m.group(2):
                return self._harmonic_query(ch, order, args)
            self._harmonic(k, kind, order, args)
            return None
        raise CommandError(-113, "Undefined header")

    def _range(self, k: int, kind: str, args: str) -> None:
        parts = args.split(",")
        if len(parts) != 2:
            raise CommandError(-109, "Missing parameter")
        low, high = number(parts[0], "range low"), number(parts[1], "range high")
        tops = RANGE_TOPS[kind]
        if low < 0 or low > high or high > tops[-1]:
            raise CommandError(*DATA_OUT_OF_RANGE)
        top = next(t for t in tops if high <= t)
        ch = self.channels[k][kind]
        if _rms(ch.amplitude, ch.harmonics) > top:
            raise CommandError(*SETTINGS_CONFLICT)  # [L] the present output does not fit
        ch.top = top

    def _harmonic_query(self, ch: _Channel, order: int, args: str) -> str:
        if order == 1:
            amp, angle = ch.amplitude, ch.angle
        else:
            amp, angle = ch.harmonics.get(order, (0.0, 0.0))
        which = args.strip().upper()
        if which.startswith("AMPL"):
            return f"{amp:.6g}"
        if which.startswith("PANG"):
            return f"{angle:.6g}"
        return f"{amp:.6g},{angle:.6g}"

    def _harmonic(self, k: int, kind: str, order: int, args: str) -> None:
        parts = args.split(",")
        if len(parts) != 2:
            raise CommandError(-109, "Missing parameter")
        amp, angle = number(parts[0], "amplitude"), wrap_degrees(number(parts[1], "angle"))
        ch = self.channels[k][kind]
        if amp < 0:
            raise CommandError(*DATA_OUT_OF_RANGE)
        if order == 0:
            if amp != 0:
                raise CommandError(*SETTINGS_CONFLICT)  # [L] the sim has no DC offset
            return
        if order == 1:
            harmonics = ch.harmonics
            if self.units[kind] == "PERC":  # harmonics stay in % of the new fundamental
                scale = amp / ch.amplitude if ch.amplitude > 0 else 0.0
                harmonics = {n: (a * scale, d) for n, (a, d) in ch.harmonics.items()}
            if _rms(amp, harmonics) > ch.top:
                raise CommandError(*DATA_OUT_OF_RANGE)
            ch.amplitude, ch.angle, ch.harmonics = amp, angle, harmonics
        else:
            absolute = amp if self.units[kind] == "ABS" else amp / 100.0 * ch.amplitude
            if absolute > 0 and ch.amplitude == 0:
                raise CommandError(*SETTINGS_CONFLICT)  # a harmonic of no fundamental
            harmonics = {**ch.harmonics, order: (absolute, angle)}
            if _rms(ch.amplitude, harmonics) > ch.top:
                raise CommandError(*DATA_OUT_OF_RANGE)
            ch.harmonics = harmonics
        self._push(k)

    def _push(self, k: int) -> None:
        """Carry phase k's programmed channels to the source's terminals: the current's angle
        is taken relative to the same phase's voltage."""
        u, i = self.channels[k]["VOLT"], self.channels[k]["CURR"]
        setting = PhaseSetting(
            u_rms=u.amplitude,
            u_angle=u.angle,
            i_rms=i.amplitude,
            i_angle=wrap_degrees(u.angle + i.angle),
            u_harmonics=u.output_harmonics(),
            i_harmonics=i.output_harmonics(),
        )
        self._change(lambda s: s.set_phase(k, setting))

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
            raise CommandError(
                *(SETTINGS_CONFLICT if "interlock" in str(e) else DATA_OUT_OF_RANGE)
            ) from None
