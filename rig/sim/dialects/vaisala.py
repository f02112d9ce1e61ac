"""Vaisala HMP155 humidity and temperature probe, simulated: its serial command set as the
User's Guide (M210912EN, chapter 4) and the HMP240/HMP260 manuals' appendix 1 give it, written
here on its own (the driver is not imported).

Commands end in <cr>; every output line ends in <cr><lf>. `SEND` outputs one reading in the
factory format, `RH= 43.0 %RH T= 21.0 'C` (fields of width 5 with one decimal); `?` outputs the
probe's identity. [L] An unknown command gets one line saying so (the manuals give no text). The
simulated room holds `temperature_c` and `humidity_pct` (23 degC, the meters' reference
temperature, IEC 62052-11 / standards.md; 45 %RH), which a test may change.
"""

from __future__ import annotations

from rig.sim.dialects.base import Dialect


class VaisalaHmp155(Dialect):
    terminator = "\r"
    reply_terminator = "\r\n"
    roles = ("environment",)

    def __init__(self, world) -> None:
        super().__init__(world)
        self.temperature_c = 23.0
        self.humidity_pct = 45.0
        self.readings = 0  # SEND commands answered

    def dispatch(self, line: str) -> list[str]:
        command = line.strip().upper()
        if command == "SEND":
            self.readings += 1
            return [f"RH={self.humidity_pct:5.1f} %RH T={self.temperature_c:5.1f} 'C"]
        if command == "?":
            return ["HMP155 / simulated", "Serial number  : SIM00001"]
        return ["Unknown command"]
