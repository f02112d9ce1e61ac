"""MTE PPS 400.3 three-phase source, ASCII protocol over RS-232 (not SCPI).

Source [Cli]: the public client tested on a real unit (GitHub bob10042/mte-pps400-3-control
@0863b2c, PPS400.3 #28492, firmware V3.07): `MtePpsControl/Protocol/PpsClient.cs` (commands
and reply parsing), `ParameterCatalog.cs` (ranges), `StatusFlags.cs`, `PhaseStatus.cs`, `README.md`
(verified exchanges). MTE's interface PDF is not public. 19200 8N1, no handshake, CR terminator;
`MODE1` makes every command answer `<head>=O` or `<head>=E` (refused). Setpoints `U<ph>,<V>`,
`I<ph>,<A>`, `PH<ph>,<deg>`, `W<ph>,<deg>`, `FRQ<Hz>`, harmonics `OWU/OWI`, the high-current
relay `SKLI<ph>,0|1`, all applied by `SET`, after which the client polls `BSY` until `0`;
`ON1` / `OFF1`; status `STATU`, `STATI`, `SE`. Exact strings: docs/dialects.md 2.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rig.instruments.base import Channel, Instrument
from rig.instruments.descriptors import Setting, in_range, int_range, one_of
from rig.instruments.errors import InstrumentError, SettingError
from rig.instruments.loadpoint import Harmonic, LoadPoint, PhaseSetting
from rig.instruments.roles import SourceCapabilities, SourceStatus

# Harmonic limits of the PPS 400.3 ([Cli] ParameterCatalog.cs): order 2..31, <= 40 % for orders
# 2..6, <= 10 % above, sum <= 40 %.
MAX_ORDER = 31
#: Largest current on the standard current terminals; above it the `SKLI` relay connects the
#: high-current terminals ([Cli]: "0 = open (low-I path), 1 = closed (high-I path)", 120 A
#: variant). [L] The 12 A threshold is the PPS 400.3's standard current range as we read MTE's
#: data sheet: a lab checks it against its unit's own specification on the first day.
STANDARD_TERMINALS_MAX_A = 12.0
#: [Cli] PpsClient.ApplyAsync: "Caller should poll IsBusyAsync after" SET; BSY "0 = ready,
#: 1 = SET still ramping". [L] Poll interval and the longest wait (the ramps RAMPU/RAMPI are
#: left at the unit's setting).
BUSY_POLL_S = 0.05
BUSY_TIMEOUT_S = 60.0

#: Phase status codes of STATU/STATI ([Cli] PhaseStatus.cs: 2 is also "idle when no SET issued
#: yet"; 3 and 4 need OFF or a new SET).
PHASE_STATES = {0: "off", 1: "on", 2: "overload/idle", 3: "error-off", 4: "DIS-off"}

#: SE flags after the leading "E" ([Cli] StatusFlags.cs): E<err><warn>S<dosU><dosI><busy><packet>
#: <ripple>.
SE_FLAGS = (
    "error",
    "warning",
    None,
    "dosage contact U",
    "dosage contact I",
    "busy",
    "packet steering",
    "ripple control",
)


def _lagging(deg: float) -> float:
    # The one place where docs/conventions.md 1 angles are converted for this source: PPS angles
    # are lagging-positive in [0, 360) ([Cli] ParameterCatalog.cs: PH and W 0..360; its default
    # PH of L1, L2, L3 is 0, 120, 240 = the normal sequence lagging; W is "the phase shift
    # between U and I" with Q = U I sin(W), so W > 0 is inductive). [L] for harmonic angles.
    value = round(deg % 360.0, 2)
    return 0.0 if value >= 360.0 else value


class MtePhase(Channel):
    """Phase 1..3 of the PPS 400.3 (staged setpoints; SET applies them)."""

    voltage = Setting(
        "U{ch},{:.3f}", "Set the voltage setpoint in V rms.", validator=in_range(0, 300)
    )
    current = Setting(
        "I{ch},{:.4f}", "Set the current setpoint in A rms.", validator=in_range(0, 120)
    )
    voltage_angle = Setting(
        "PH{ch},{:.2f}",
        "Set the voltage angle in degrees, lagging positive, 0..360.",
        validator=in_range(0, 360),
    )
    phi = Setting(
        "W{ch},{:.2f}", "Set the U-I angle phi in degrees, 0..360.", validator=in_range(0, 360)
    )
    high_current_terminals = Setting(
        "SKLI{ch},{:d}",
        "Set the SKLI relay: 1 connects the high-current terminals, 0 the standard ones ([Cli]).",
        validator=one_of((0, 1)),
    )

    def set_harmonics(self, kind: str, harmonics: tuple[Harmonic, ...]) -> None:
        """Clear the harmonics of channel kind 'U' or 'I', then set each given one."""
        total = 0.0
        checked: list[tuple[int, float, float]] = []
        for h in harmonics:
            order = int_range(2, MAX_ORDER)(h.order, f"{self.name}.{kind} harmonic order")
            pct = h.fraction * 100.0
            limit = 40.0 if order <= 6 else 10.0
            in_range(0.0, limit)(pct, f"{self.name}.{kind} harmonic {order} (%)")
            total += pct
            checked.append((order, pct, _lagging(-h.angle_deg)))
        if total > 40.0:
            raise SettingError(f"{self.name}.{kind} harmonics: sum {total:.2f} % exceeds 40 %")
        self.write(f"OW{kind}{self.ch},0,0")
        for order, pct, angle in checked:
            self.write(f"OW{kind}{self.ch},{order},{pct:.2f},{angle:.2f}")


class MtePps4003(Instrument):
    """MTE PPS 400.3; implements the PowerSource role."""

    model = "MTE PPS 400.3"
    # VISA interfaces: RS-232 only (MTE "PPS400.3 RS232 Interface description", 19200 8N1;
    # instruments.md 2.5).
    interfaces: ClassVar[tuple[str, ...]] = ("ASRL",)
    write_termination = "\r"
    read_termination = "\r"
    serial_settings: ClassVar[dict] = {"baud_rate": 19200, "data_bits": 8}
    # PPS 400.3 ranges [M]: 300 V, 120 A (with the 120 A terminals, SKLI), 45..400 Hz
    # (instruments.md 2.5).
    capabilities: ClassVar[SourceCapabilities] = SourceCapabilities(
        max_voltage=300.0,
        max_current=120.0,
        min_frequency=45.0,
        max_frequency=400.0,
        max_harmonic_order=MAX_ORDER,
    )

    frequency = Setting("FRQ{:.3f}", "Set the frequency in Hz.", validator=in_range(45.0, 400.0))

    def __init__(
        self, adapter, name: str | None = None, retries: int = 2, pipeline: bool = True
    ) -> None:
        super().__init__(adapter, name, retries, pipeline)
        self.phases = tuple(MtePhase(self, x) for x in (1, 2, 3))
        # SKLI state last sent per phase (None: not yet sent since opening).
        self._relay: list[int | None] = [None, None, None]

    @staticmethod
    def head(command: str) -> str:
        """The reply head for `command`: text before the first comma; `FRQ` for FRQ<value>."""
        if "," in command:
            return command.split(",", 1)[0]
        if command.startswith("FRQ"):
            return "FRQ"
        return command

    def write(self, command: str, *, idempotent: bool = True) -> None:
        """Send a command; raise InstrumentError unless the reply is `<head>=O`."""
        reply = self._exchange(command, 1, idempotent=idempotent)[0].strip()
        head = self.head(command)
        if reply == f"{head}=O":
            return
        if reply == f"{head}=E":
            raise InstrumentError(self.name, command, "refused by the instrument (=E)")
        raise InstrumentError(self.name, command, f"unexpected reply {reply!r}, expected {head}=O")

    def _value(self, command: str, lines: int = 1) -> list[tuple[str, str]]:
        replies = self._exchange(command, lines)
        items = []
        for reply in replies:
            head, sep, body = reply.strip().partition("=")
            if not sep:
                raise InstrumentError(self.name, command, f"unexpected reply {reply!r}")
            if body == "E":
                raise InstrumentError(self.name, command, "refused by the instrument (=E)")
            items.append((head, body))
        return items

    def initialise(self) -> None:
        """Switch to extended replies (MODE1), so every command is acknowledged."""
        self.write("MODE1")

    def apply(self, point: LoadPoint) -> None:
        """Stage all setpoints of `point`, SET them and wait until the source is no longer busy
        (the output state is not changed)."""
        for k, (phase, s) in enumerate(zip(self.phases, point.phases, strict=True)):
            # [Cli] ApplyAsync sends SKLI first, then the setpoints; only a change is sent here.
            relay = int(s.current > STANDARD_TERMINALS_MAX_A)
            if relay != self._relay[k]:
                phase.high_current_terminals = relay
                self._relay[k] = relay
            self._apply_phase(phase, s)
        self.frequency = point.frequency
        self.write("SET")
        self.wait_ready()

    def wait_ready(self) -> None:
        """Poll BSY until the source has taken the setpoints ([Cli]); raise InstrumentError if it
        is still busy after BUSY_TIMEOUT_S."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while self.busy():
            if time.monotonic() > deadline:
                raise InstrumentError(
                    self.name, "BSY", f"still busy {BUSY_TIMEOUT_S:g} s after SET"
                )
            time.sleep(BUSY_POLL_S)

    @staticmethod
    def _apply_phase(phase: MtePhase, s: PhaseSetting) -> None:
        phase.voltage = s.voltage
        phase.current = s.current
        phase.voltage_angle = _lagging(-s.voltage_angle)
        phase.phi = _lagging(s.voltage_angle - s.current_angle)
        phase.set_harmonics("U", s.voltage_harmonics)
        phase.set_harmonics("I", s.current_harmonics)

    def output_on(self) -> None:
        """Switch voltage and current outputs on (ON1)."""
        self.write("ON1")

    def output_off(self) -> None:
        """Switch voltage and current outputs off at once (OFF1; the rig ramps currents first)."""
        self.write("OFF1")

    def phase_states(self) -> dict[str, int]:
        """STATU/STATI codes per channel, e.g. {'U1': 1, ..., 'I3': 0}."""
        states: dict[str, int] = {}
        for kind in ("U", "I"):
            command = f"STAT{kind}"
            for head, body in self._value(command, lines=3):
                if not head.startswith(command) or head[-1] not in "123":
                    raise InstrumentError(self.name, command, f"unexpected reply head {head!r}")
                try:
                    states[f"{kind}{head[-1]}"] = int(body)
                except ValueError:
                    raise InstrumentError(
                        self.name, command, f"unexpected value {body!r}"
                    ) from None
        if len(states) != 6:
            raise InstrumentError(self.name, "STATU/STATI", f"incomplete phase states {states}")
        return states

    def is_on(self) -> bool:
        """True when any voltage or current channel is on (1) or overloaded/idle (2)."""
        return any(code in (1, 2) for code in self.phase_states().values())

    def flags(self) -> list[str]:
        """Names of the SE flags that are set (error, warning, busy, ...)."""
        ((_, body),) = self._value("SE")
        if (
            len(body) != 9
            or body[0] != "E"
            or body[3] != "S"
            or set(body[1:3] + body[4:]) - {"0", "1"}
        ):
            raise InstrumentError(self.name, "SE", f"unexpected status {body!r}")
        return [name for name, bit in zip(SE_FLAGS, body[1:], strict=True) if name and bit == "1"]

    def busy(self) -> bool:
        """True while the source is still settling a new setpoint."""
        ((_, body),) = self._value("BSY")
        if body not in ("0", "1"):
            raise InstrumentError(self.name, "BSY", f"unexpected value {body!r}")
        return body == "1"

    def measured(self, quantity: str) -> tuple[float, float, float]:
        """Measured 'current' (?1, A) or 'voltage' (?2, V) of the three phases. Firmware V3.07
        puts a comma after the code letter (`?1=E@,v1,v2,v3`, [Cli] README); both forms parse."""
        number, code = {"current": ("1", "@"), "voltage": ("2", "A")}[quantity]
        ((_, body),) = self._value(f"?{number}")
        if not body.startswith("E" + code):
            raise InstrumentError(self.name, f"?{number}", f"unexpected value {body!r}")
        try:
            values = tuple(float(v) for v in body[2:].lstrip(",").split(","))
        except ValueError:
            raise InstrumentError(self.name, f"?{number}", f"unexpected value {body!r}") from None
        if len(values) != 3:
            raise InstrumentError(self.name, f"?{number}", f"expected 3 values, got {body!r}")
        return values[0], values[1], values[2]

    def status(self) -> SourceStatus:
        """Output state; faults are the SE error/warning flags and channels in error states."""
        states = self.phase_states()
        faults = [f for f in self.flags() if f in ("error", "warning")]
        faults += [
            f"{ch} {PHASE_STATES.get(code, code)}" for ch, code in states.items() if code >= 2
        ]
        return SourceStatus(
            output_on=any(c in (1, 2) for c in states.values()), faults=tuple(faults)
        )

    def arm_watchdog(self, timeout_s: float) -> bool:
        """No communication watchdog command is documented for the PPS 400.3: nothing is sent."""
        return False
