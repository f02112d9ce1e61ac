"""MTE PPS 400.3 source, ASCII: an implementation of its own from the same public source as the
driver, [Cli] = the client tested on a real unit (bob10042/mte-pps400-3-control @0863b2c,
firmware V3.07: PpsClient.cs, ParameterCatalog.cs, StatusFlags.cs, PhaseStatus.cs, README.md);
docs/dialects.md section 2 has the table.

In MODE1 every command gets one reply line `<head>=<body>` (`O` accepted, `E` refused), except
STATU/STATI (three lines). Setpoints, including the SKLI high-current relay, are staged and
applied together by SET; BSY answers 1 while the unit is still taking them.
[L] where [Cli] is silent: SET is refused when a current above the standard terminals' 12 A is
staged with the SKLI relay open; the unit stays busy BUSY_S of wall time after a SET.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from rig.sim.dialects.base import Dialect
from rig.sim.physics import HarmonicSetting, PhaseSetting, wrap_degrees
from rig.sim.source import SourceError

MAX_U = 300.0  # [Cli] ParameterCatalog: U limited by UmaxLN, default 300 V
MAX_I = 120.0  # [Cli] I 0..120 A (120 A variant)
STANDARD_TERMINALS_MAX_I = 12.0  # [L] above it the SKLI relay must be closed
F_RANGE = (45.0, 400.0)  # [Cli] FRQ 45..400 Hz
BUSY_S = 0.05  # [L] wall time a SET keeps the unit busy (BSY=1)


class Refused(Exception):
    """The command gets `<head>=E`."""


@dataclass
class _Staged:
    u: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    i: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    ph: list[float] = field(default_factory=lambda: [0.0, 120.0, 240.0])  # U angle, lagging +
    w: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # U-I angle phi
    owu: list[dict[int, tuple[float, float]]] = field(default_factory=lambda: [{}, {}, {}])
    owi: list[dict[int, tuple[float, float]]] = field(default_factory=lambda: [{}, {}, {}])
    skli: list[int] = field(default_factory=lambda: [0, 0, 0])  # high-current relay closed?
    frequency: float = 50.0


def _num(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Refused from None
    if not math.isfinite(value):  # float() takes "nan" and "inf"; the PPS takes numbers only
        raise Refused
    return value


class MtePps4003(Dialect):
    terminator = "\r"
    roles = ("source",)
    transport = "pty"

    def __init__(self, world, serial: str = "SIM0001") -> None:
        super().__init__(world)
        self.serial = serial
        self.mode1 = False
        self.staged = _Staged()
        self.busy_until = 0.0  # wall time

    def dispatch(self, line: str) -> list[str]:
        cmd = line.strip().upper()
        head = self._head(cmd)
        if head in ("STATU", "STATI"):
            return self._stat(head)
        try:
            if self.take_injected_error():
                raise Refused
            body = self._command(cmd)
        except Refused:
            body = "E"
        return [f"{head}={body}"]

    def internal_error(self, line: str, error: Exception) -> list[str]:
        return [f"{self._head(line.strip().upper())}=E"]

    @staticmethod
    def _head(cmd: str) -> str:
        """Mnemonic plus phase digit; parameters after the comma are not in the head
        (docs/dialects.md 2: `U1,230.000` -> `U1`, `FRQ50.000` -> `FRQ`, `?1` -> `?1`)."""
        m = re.match(r"(\?\d+|FRQ|[A-Z]+\d?)", cmd)
        return m.group(1) if m else cmd

    # -- commands ----------------------------------------------------------------------------
    def _command(self, cmd: str) -> str:
        st = self.staged
        if cmd == "MODE1":
            self.mode1 = True
            return "O"
        if cmd == "VER":
            return f"PPS400.3 #{self.serial}"
        if cmd == "SET":
            self._apply()
            self.busy_until = self.world.wall() + BUSY_S
            return "O"
        if cmd == "ON1":  # [Cli] ON1 = U and I (ON2 U only, ON3 I only: not simulated)
            self._set_output(True, cmd)
            return "O"
        if re.fullmatch(r"OFF[0-3]", cmd):  # [Cli] OFF0 ramped, OFF1 immediate, 2 U, 3 I
            self._set_output(False, cmd)
            return "O"
        if cmd == "BSY":
            return "1" if self._busy() else "0"
        if cmd == "SE":
            return self._se()
        # [Cli] README: firmware V3.07 puts a comma after the code letter.
        if cmd == "?1":
            return "E@," + ",".join(f"{p.i_rms:.4f}" for p in self.world.source.actual_phases())
        if cmd == "?2":
            return "EA," + ",".join(f"{p.u_rms:.3f}" for p in self.world.source.actual_phases())
        m = re.fullmatch(r"SKLI([123]),([01])", cmd)
        if m:
            st.skli[int(m.group(1)) - 1] = int(m.group(2))
            return "O"
        m = re.fullmatch(r"FRQ(.+)", cmd)
        if m:
            f = _num(m.group(1))
            if not F_RANGE[0] <= f <= F_RANGE[1]:
                raise Refused
            st.frequency = f
            return "O"
        m = re.fullmatch(r"(U|I|PH|W)([123]),(.+)", cmd)
        if m:
            what, k, v = m.group(1), int(m.group(2)) - 1, _num(m.group(3))
            if what == "U" and not 0 <= v <= MAX_U:
                raise Refused
            if what == "I" and not 0 <= v <= MAX_I:
                raise Refused
            if what in ("PH", "W") and not 0 <= v <= 360:  # [Cli] ParameterCatalog 0..360
                raise Refused
            {"U": st.u, "I": st.i, "PH": st.ph, "W": st.w}[what][k] = v
            return "O"
        m = re.fullmatch(r"OW([UI])([123]),(\d+),([^,]+)(?:,(.+))?", cmd)
        if m:
            chan, k, n = m.group(1), int(m.group(2)) - 1, int(m.group(3))
            pct = _num(m.group(4))
            deg = _num(m.group(5)) if m.group(5) is not None else 0.0
            if not -360 <= deg <= 360:  # [Cli] ParameterCatalog: harmonic angle -360..360
                raise Refused
            table = (st.owu if chan == "U" else st.owi)[k]
            if n == 0:
                table.clear()
                return "O"
            # Harmonic n 2..31; <= 40 % for n 2..6, <= 10 % above; sum <= 40 % (instruments 2.5)
            if not 2 <= n <= 31 or pct < 0 or pct > (40.0 if n <= 6 else 10.0):
                raise Refused
            others = sum(p for o, (p, _) in table.items() if o != n)
            if others + pct > 40.0:
                raise Refused
            table[n] = (pct, deg)
            return "O"
        raise Refused

    def _busy(self) -> bool:
        return self.world.wall() < self.busy_until

    def _apply(self) -> None:
        st = self.staged
        pairs = zip(st.i, st.skli, strict=True)
        if any(i > STANDARD_TERMINALS_MAX_I and not relay for i, relay in pairs):
            raise Refused
        phases = []
        for k in range(3):
            u_angle = wrap_degrees(-st.ph[k])  # PH is lagging positive
            phases.append(
                PhaseSetting(
                    u_rms=st.u[k],
                    u_angle=u_angle,
                    i_rms=st.i[k],
                    i_angle=wrap_degrees(u_angle - st.w[k]),
                    u_harmonics=tuple(
                        HarmonicSetting(n, p / 100, -d) for n, (p, d) in sorted(st.owu[k].items())
                    ),
                    i_harmonics=tuple(
                        HarmonicSetting(n, p / 100, -d) for n, (p, d) in sorted(st.owi[k].items())
                    ),
                )
            )

        def change(src) -> None:
            for k, p in enumerate(phases):
                src.set_phase(k, p)
            src.set_frequency(st.frequency)

        try:
            self.world.change_source(change)
        except SourceError:
            raise Refused from None

    def _set_output(self, on: bool, cmd: str) -> None:
        try:
            self.world.change_source(lambda s: s.set_output(on, self.world.wall(), cmd))
        except SourceError:
            raise Refused from None

    # -- status ------------------------------------------------------------------------------
    def _stat(self, head: str) -> list[str]:
        """0 off, 1 on, 2 overload/idle, 3 error-off, 4 DIS-off (docs/dialects.md 2). A protection
        trip shows as 3 on the tripped phase (all phases for interlock/watchdog: 4 / 3)."""
        s = self.world.source.state
        out = []
        for k in range(3):
            enabled = (s.u_enabled if head == "STATU" else s.i_enabled)[k]
            if s.interlock_open:
                v = 4
            elif s.tripped and (s.tripped_phase in (None, k + 1)):
                v = 3
            elif s.output_on and enabled:
                v = 1
            else:
                v = 0
            out.append(f"{head}{k + 1}={v}")
        return out

    def _se(self) -> str:
        """`E<err><warn>S<dosU><dosI><busy><packet><ripple>` (docs/dialects.md 2)."""
        s = self.world.source.state
        err = 1 if (s.tripped or s.interlock_open) else 0
        dos = 1 if self.world.dosage.running else 0
        busy = 1 if self._busy() else 0
        return f"E{err}0S{dos}{dos}{busy}00"
