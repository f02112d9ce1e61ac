"""Fluke 6100A/6100B/6105A electrical power standard as the bench's power source (SCPI over GPIB).

Sources (docs/dialects.md 1 has the table, command by command):
- [Man] Fluke 6105A manual, remote commands p136-p165 (easymanua.ls/fluke/6105a/manual?p=N):
  `SOUR:PHAS<x>:...` trees p136, harmonics `MHAR:HARM<n> <amp>,<deg>` p140, current p149,
  error queue `SYST:ERR?` p155, `*CLS` p165. Remote interface: IEEE-488 (GPIB) p109.
- [Drv] a watt-bridge program that drives a real 6105A (public GitHub, instruments.md 2.1):
  it sends `UNIT:MHAR:CURR ABS` / `UNIT:MHAR:VOLT ABS`, `...:VOLT:RANG 0,<top>`,
  `...:CURR:RANG <low>,<top>`, `...:MHAR:STAT ON` before `...:MHAR:HARM1`, voltage angles
  L1 0, L2 -120, L3 +120, and the SAME current angle on every phase: the current angle is
  relative to its own phase's voltage (as the manual's calibration procedure sets it).
"""

from __future__ import annotations

from typing import ClassVar

from rig.instruments.base import Channel, ScpiInstrument
from rig.instruments.descriptors import Setting, each, in_range, int_range, one_of
from rig.instruments.errors import InstrumentError, SettingError
from rig.instruments.loadpoint import (
    Harmonic,
    LoadPoint,
    PhaseSetting,
    normalise_angle,
    total_rms,
)
from rig.instruments.roles import SourceCapabilities, SourceStatus

ANGLE = in_range(-180.0, 180.0)
# 6105A without 52120A amplifiers: 1008 V, 21 A ([Drv] refuses more than 21 A without the
# amplifier), 16..850 Hz, harmonics to 100 (instruments.md 2.1, [Man] p140).
MAX_VOLTAGE = 1008.0
MAX_CURRENT = 21.0
MIN_FREQUENCY, MAX_FREQUENCY = 16.0, 850.0
MAX_HARMONIC = 100

#: Voltage ranges: (low, top) as [Drv] selects them with `VOLT:RANG 0,<top>` (V rms).
VOLTAGE_RANGES = tuple((0.0, top) for top in (23.0, 45.0, 90.0, 180.0, 360.0, 650.0, 1008.0))
#: Current ranges without amplifier: (low, top) as [Drv] sends them with `CURR:RANG <low>,<top>`.
CURRENT_RANGES = (
    (0.05, 0.25), (0.1, 0.5), (0.05, 1.0), (0.2, 2.0), (0.5, 5.0), (1.0, 10.0), (2.0, 21.0)
)


def _pair(reply: str) -> tuple[float, float]:
    amp, _, angle = reply.partition(",")
    return float(amp), float(angle)


Ranges = tuple[tuple[float, float], ...]


def range_for(rms: float, ranges: Ranges, what: str) -> tuple[float, float]:
    """The (low, top) of the smallest of `ranges` holding `rms` ([Drv])."""
    for low, top in ranges:
        if rms <= top:
            return low, top
    raise SettingError(f"{what} {rms:g} rms is above the 6105A's largest range {ranges[-1][1]:g}")


class FlukeChannel(Channel):
    """The voltage or the current channel of one phase: range, harmonic tree, state."""

    def __init__(self, parent: ScpiInstrument, phase: int, tree: str) -> None:
        super().__init__(parent, phase)
        self.tree = tree  # "VOLT" or "CURR"
        self.name = f"{parent.name}[{phase}].{tree.lower()}"
        self.maximum = MAX_VOLTAGE if tree == "VOLT" else MAX_CURRENT
        self.amp_format = "{:.4f}" if tree == "VOLT" else "{:.5f}"
        self.ranges = VOLTAGE_RANGES if tree == "VOLT" else CURRENT_RANGES
        # What this driver last sent, so a point sends only what changes (None: not yet sent).
        self.range: tuple[float, float] | None = None
        self.tree_on = False  # MHAR:STAT ON sent
        self.harmonics_sent: int | None = None  # harmonics above the fundamental last set

    def _path(self, rest: str) -> str:
        return f"SOUR:PHAS{self.ch}:{self.tree}:{rest}"

    def set_range(self, low: float, top: float) -> None:
        """Select the range covering low..top ([Drv]: `RANG <low>,<top>`)."""
        self.write(self._path(f"RANG {low:g},{top:g}"))
        self.range = (low, top)

    def enable_harmonics(self) -> None:
        """`MHAR:STAT ON`: the channel outputs its harmonic tree, not a plain sine ([Drv])."""
        self.write(self._path("MHAR:STAT ON"))

    def clear_harmonics(self) -> None:
        """Set every harmonic but the fundamental to zero ([Man] p140 `MHAR:CLE`)."""
        self.write(self._path("MHAR:CLE"))

    def set_harmonic(self, order: int, amplitude: float, angle: float) -> None:
        """Harmonic `order` (1 = fundamental .. 100) to `amplitude` (V or A rms, `UNIT:MHAR ABS`)
        at `angle` degrees ([Man] p140)."""
        order = int_range(1, MAX_HARMONIC)(order, f"{self.name} harmonic order")
        check = each(in_range(0.0, self.maximum), ANGLE)
        amp, ang = check((amplitude, angle), f"{self.name} h{order}")
        self.write(self._path(f"MHAR:HARM{order} {self.amp_format.format(amp)},{ang:.3f}"))

    def set_state(self, on: bool) -> None:
        """Enable or disable the channel (`STAT 1|0`, [Drv])."""
        self.write(self._path(f"STAT {int(on)}"))

    def apply(self, rms: float, angle: float, harmonics: tuple[Harmonic, ...]) -> None:
        """Range, harmonic tree and fundamental of one channel. A range that grows is selected
        before the amplitude, one that shrinks after it, so the amplitude always fits the range
        in force ([L]: the unit's behaviour with an amplitude above the range is not public)."""
        wanted = range_for(total_rms(rms, harmonics), self.ranges, self.name)
        grows = self.range is None or wanted[1] > self.range[1]
        if grows:
            self.set_range(*wanted)
        if not self.tree_on:
            self.enable_harmonics()
            self.tree_on = True
        if self.harmonics_sent != 0:  # unknown, or harmonics from the last point
            self.clear_harmonics()
            self.harmonics_sent = 0
        self.set_harmonic(1, rms, angle)
        for h in harmonics:
            # [L] the harmonic's angle is sent as given (its own phase, degrees of the harmonic).
            self.set_harmonic(h.order, h.fraction * rms, normalise_angle(h.angle_deg))
            self.harmonics_sent += 1
        if not grows and wanted != self.range:
            self.set_range(*wanted)


class FlukePhase(Channel):
    """Phase x (1..3) of the 6105A: its voltage and current channels."""

    def __init__(self, parent: ScpiInstrument, x: int) -> None:
        super().__init__(parent, x)
        self.volt = FlukeChannel(parent, x, "VOLT")
        self.curr = FlukeChannel(parent, x, "CURR")

    voltage = Setting(
        "SOUR:PHAS{ch}:VOLT:MHAR:HARM1 {:.4f},{:.3f}",
        "Control the fundamental voltage (V rms, absolute angle in degrees).",
        validator=each(in_range(0.0, MAX_VOLTAGE), ANGLE),
        get_cmd="SOUR:PHAS{ch}:VOLT:MHAR:HARM1?",
        parse=_pair,
    )
    current = Setting(
        "SOUR:PHAS{ch}:CURR:MHAR:HARM1 {:.5f},{:.3f}",
        "Control the fundamental current (A rms, angle in degrees relative to this phase's "
        "voltage).",
        validator=each(in_range(0.0, MAX_CURRENT), ANGLE),
        get_cmd="SOUR:PHAS{ch}:CURR:MHAR:HARM1?",
        parse=_pair,
    )
    voltage_enabled = Setting(
        "SOUR:PHAS{ch}:VOLT:STAT {:d}",
        "Set whether the voltage channel is enabled.",
        validator=one_of((0, 1)),
    )
    current_enabled = Setting(
        "SOUR:PHAS{ch}:CURR:STAT {:d}",
        "Set whether the current channel is enabled.",
        validator=one_of((0, 1)),
    )


class Fluke6105A(ScpiInstrument):
    """Fluke 6105A source; implements the PowerSource role."""

    model = "Fluke 6105A"
    # VISA interfaces the instrument has: IEEE-488 (GPIB) remote control (6100A/6105A operators
    # manual, remote operation chapter, easymanua.ls/fluke/6105a/manual?p=109; instruments.md 2.1).
    interfaces: ClassVar[tuple[str, ...]] = ("GPIB",)
    # GPIB ends a message with EOI; the 6105A also sends LF, and pyvisa reads to it ([Man] p109).
    write_termination = "\n"
    read_termination = "\n"
    error_query = "SYST:ERR?"
    capabilities: ClassVar[SourceCapabilities] = SourceCapabilities(
        max_voltage=MAX_VOLTAGE,
        max_current=MAX_CURRENT,
        min_frequency=MIN_FREQUENCY,
        max_frequency=MAX_FREQUENCY,
        max_harmonic_order=MAX_HARMONIC,
    )

    frequency = Setting(
        "SOUR:FREQ {:.4f}",
        "Control the output frequency in Hz.",
        validator=in_range(MIN_FREQUENCY, MAX_FREQUENCY),
        get_cmd="SOUR:FREQ?",
    )

    def __init__(
        self, adapter, name: str | None = None, retries: int = 2, pipeline: bool = True
    ) -> None:
        super().__init__(adapter, name, retries, pipeline)
        self.phases = tuple(FlukePhase(self, x) for x in (1, 2, 3))

    def identify(self) -> str:
        """Return the *IDN? reply."""
        return self.query("*IDN?")

    def initialise(self) -> None:
        """Clear the status and error queue, and take harmonic amplitudes in V and A, not in %
        of the fundamental ([Drv] `UNIT:MHAR:CURR ABS`, `UNIT:MHAR:VOLT ABS`). No output change."""
        self.write("*CLS")
        self.write("UNIT:MHAR:VOLT ABS")
        self.write("UNIT:MHAR:CURR ABS")

    def apply(self, point: LoadPoint) -> None:
        """Set all three phases and the frequency of `point` (the output state is not changed).
        A point beyond the ranges is refused before anything is sent."""
        for phase, s in zip(self.phases, point.phases, strict=True):
            range_for(total_rms(s.voltage, s.voltage_harmonics), VOLTAGE_RANGES, phase.volt.name)
            range_for(total_rms(s.current, s.current_harmonics), CURRENT_RANGES, phase.curr.name)
        for phase, setting in zip(self.phases, point.phases, strict=True):
            self._apply_phase(phase, setting)
        self.frequency = point.frequency

    @staticmethod
    def current_angle(s: PhaseSetting) -> float:
        """The angle the 6105A takes for a phase's current: relative to that phase's voltage
        ([Drv], [Man] calibration procedure), mathematical positive like the voltage angles
        (L3 at +120). With docs/conventions.md 1 angles that is angle(I) - angle(U) = -phi:
        PF 0.5L -> -60 on every phase."""
        return normalise_angle(s.current_angle - s.voltage_angle)

    def _apply_phase(self, phase: FlukePhase, s: PhaseSetting) -> None:
        phase.volt.apply(s.voltage, normalise_angle(s.voltage_angle), s.voltage_harmonics)
        phase.curr.apply(s.current, self.current_angle(s), s.current_harmonics)
        phase.voltage_enabled = int(s.voltage > 0)
        phase.current_enabled = int(s.current > 0)

    def output_on(self) -> None:
        """Switch the output on."""
        self.write("OUTP:STAT ON")

    def output_off(self) -> None:
        """Switch the output off."""
        self.write("OUTP:STAT OFF")

    def is_on(self) -> bool:
        """Read back whether the output is on."""
        reply = self.query("OUTP:STAT?").strip()
        if reply not in ("0", "1"):
            raise self._bad_reply("OUTP:STAT?", reply)
        return reply == "1"

    def status(self) -> SourceStatus:
        """Output state, with any queued instrument errors as faults."""
        on = self.is_on()
        return SourceStatus(output_on=on, faults=tuple(self.errors()))

    def arm_watchdog(self, timeout_s: float) -> bool:
        """No communication watchdog command is documented for the 6105A: nothing is sent."""
        return False

    def _bad_reply(self, command: str, reply: str) -> InstrumentError:
        return InstrumentError(self.name, command, f"unexpected reply {reply!r}")
