"""Vaisala HUMICAP HMP155 humidity and temperature probe: the EnvironmentSensor role.

Source: Vaisala HMP155 User's Guide (M210912EN), chapter 4 "Operation", serial commands; the
same command set and reply form as the HMP240/HMP260 transmitters' manuals (appendix 1, "SEND:
outputting a reading once"):
- in STOP mode `SEND` <cr> outputs one reading, `RH= 43.0 %RH T= 21.0 'C` <cr><lf> with the
  factory output format (the FORM command changes it; FORM modifiers RH, T, U5 units);
- metric units are %RH and 'C (the `UNIT M` setting; `UNIT N` gives 'F, refused here);
- the serial line: RS-485, factory setting 4800 baud, even parity, 7 data bits, 1 stop bit;
  half duplex, which turns the command echo off (HMP240 manual, SERI), so a reply is one line.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pyvisa import constants

from rig.instruments.base import Instrument
from rig.instruments.errors import InstrumentError

#: One quantity of the SEND reply: name, '=', value, unit ("RH= 43.0 %RH", "T= 21.0 'C").
_FIELD = re.compile(r"(?P<name>[A-Za-z]+)\s*=\s*(?P<value>[-+]?\d+(?:\.\d*)?)\s*(?P<unit>\S+)")


def parse_reading(reply: str) -> tuple[float, float]:
    """(temperature degC, relative humidity %RH) of a SEND reply; ValueError naming what is
    missing or in another unit."""
    fields = {m["name"].upper(): (float(m["value"]), m["unit"]) for m in _FIELD.finditer(reply)}
    missing = [q for q in ("T", "RH") if q not in fields]
    if missing:
        raise ValueError(f"no {' or '.join(missing)} in {reply!r}")
    (t, t_unit), (rh, rh_unit) = fields["T"], fields["RH"]
    if t_unit != "'C" or rh_unit != "%RH":
        raise ValueError(f"units {t_unit!r} and {rh_unit!r} in {reply!r}: the probe must be set "
                         "to metric units ('C, %RH; serial command UNIT M)")
    return t, rh


class VaisalaHmp155(Instrument):
    """Vaisala HMP155 on its serial line; implements the EnvironmentSensor role."""

    model = "Vaisala HMP155"
    # VISA interface: the probe's RS-485 serial line (User's Guide, "Serial interface").
    interfaces: ClassVar[tuple[str, ...]] = ("ASRL",)
    write_termination = "\r"
    read_termination = "\r\n"
    serial_settings: ClassVar[dict[str, Any]] = {
        "baud_rate": 4800, "parity": constants.Parity.even, "data_bits": 7,
        "stop_bits": constants.StopBits.one,
    }

    def initialise(self) -> None:
        """A first reading: the probe answers, in metric units."""
        self.read_environment()

    def write(self, command: str, *, idempotent: bool = True) -> None:
        raise InstrumentError(self.name, command, "the driver only reads (SEND)")

    def read_environment(self) -> tuple[float, float]:
        """(temperature degC, relative humidity %RH) now."""
        reply = self.query("SEND")
        try:
            return parse_reading(reply)
        except ValueError as exc:
            raise InstrumentError(self.name, "SEND", str(exc)) from None
