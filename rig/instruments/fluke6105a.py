"""Fluke 6100A/6100B/6105A electrical power standard as the bench's power source (SCPI).

Command set: instruments.md 2.1 (Fluke 6105A manual pages p136-p165 and a public 6105A driver):
per-phase harmonic trees `SOUR:PHAS<x>:VOLT|CURR:MHAR:HARM<n> <amp>,<deg>`, `SOUR:FREQ`,
`OUTP:STAT ON|OFF`, error queue `SYST:ERR?` (p155). Exact strings: docs/dialects.md 1.
"""

from __future__ import annotations

from typing import ClassVar

from rig.instruments.base import Channel, ScpiInstrument
from rig.instruments.descriptors import Setting, each, in_range, int_range, one_of
from rig.instruments.errors import InstrumentError
from rig.instruments.loadpoint import LoadPoint, PhaseSetting, normalise_angle
from rig.instruments.registry import register_driver
from rig.instruments.roles import SourceCapabilities, SourceStatus

ANGLE = in_range(-180.0, 180.0)
# 6105A without 52120A amplifiers: 1008 V, 21 A, 16..850 Hz, harmonics to 100 (instruments.md
# 2.1; ranges [M]: check against the model's specification before a lab uses them at the edge).
MAX_VOLTAGE = 1008.0
MAX_CURRENT = 21.0
MIN_FREQUENCY, MAX_FREQUENCY = 16.0, 850.0
MAX_HARMONIC = 100


def _pair(reply: str) -> tuple[float, float]:
    amp, _, angle = reply.partition(",")
    return float(amp), float(angle)


def _angle(deg: float) -> float:
    # The one place where our angle convention (docs/conventions.md 1) meets the instrument's.
    # [L] The 6105A's own sign convention was not retrieved; we send absolute angles,
    # positive = leading.
    return normalise_angle(deg)


class FlukePhase(Channel):
    """Phase x (1..3) of the 6105A: voltage and current harmonic trees."""

    voltage = Setting(
        "SOUR:PHAS{ch}:VOLT:MHAR:HARM1 {:.4f},{:.3f}",
        "Control the fundamental voltage (V rms, angle in degrees).",
        validator=each(in_range(0.0, MAX_VOLTAGE), ANGLE),
        get_cmd="SOUR:PHAS{ch}:VOLT:MHAR:HARM1?",
        parse=_pair,
    )
    current = Setting(
        "SOUR:PHAS{ch}:CURR:MHAR:HARM1 {:.5f},{:.3f}",
        "Control the fundamental current (A rms, angle in degrees).",
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

    def clear_voltage_harmonics(self) -> None:
        """Set every voltage harmonic but the fundamental to zero."""
        self.write(f"SOUR:PHAS{self.ch}:VOLT:MHAR:CLE")

    def clear_current_harmonics(self) -> None:
        """Set every current harmonic but the fundamental to zero."""
        self.write(f"SOUR:PHAS{self.ch}:CURR:MHAR:CLE")

    def set_voltage_harmonic(self, order: int, amplitude: float, angle: float) -> None:
        """Set voltage harmonic `order` (2..100) to `amplitude` V rms at `angle` degrees."""
        self._set_harmonic("VOLT", "voltage", MAX_VOLTAGE, "{:.4f}", order, amplitude, angle)

    def set_current_harmonic(self, order: int, amplitude: float, angle: float) -> None:
        """Set current harmonic `order` (2..100) to `amplitude` A rms at `angle` degrees."""
        self._set_harmonic("CURR", "current", MAX_CURRENT, "{:.5f}", order, amplitude, angle)

    def _set_harmonic(
        self, tree: str, what: str, maximum: float, amp_format: str,
        order: int, amplitude: float, angle: float,
    ) -> None:
        order = int_range(2, MAX_HARMONIC)(order, f"{self.name}.{what} harmonic order")
        amp, ang = each(in_range(0.0, maximum), ANGLE)(
            (amplitude, angle), f"{self.name}.{what} h{order}"
        )
        self.write(
            f"SOUR:PHAS{self.ch}:{tree}:MHAR:HARM{order} {amp_format.format(amp)},{ang:.3f}"
        )


@register_driver("fluke6105a", "fluke6100a")
class Fluke6105A(ScpiInstrument):
    """Fluke 6105A source; implements the PowerSource role."""

    model = "Fluke 6105A"
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
        """Clear the status and error queue (no output change)."""
        self.write("*CLS")

    def apply(self, point: LoadPoint) -> None:
        """Set all three phases and the frequency of `point` (the output state is not changed)."""
        for phase, setting in zip(self.phases, point.phases, strict=True):
            self._apply_phase(phase, setting)
        self.frequency = point.frequency

    def _apply_phase(self, phase: FlukePhase, s: PhaseSetting) -> None:
        phase.clear_voltage_harmonics()
        phase.voltage = (s.voltage, _angle(s.voltage_angle))
        for h in s.voltage_harmonics:
            phase.set_voltage_harmonic(h.order, h.fraction * s.voltage, _angle(h.angle_deg))
        phase.clear_current_harmonics()
        phase.current = (s.current, _angle(s.current_angle))
        for h in s.current_harmonics:
            phase.set_current_harmonic(h.order, h.fraction * s.current, _angle(h.angle_deg))
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
