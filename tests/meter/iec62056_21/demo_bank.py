"""A small RegisterBank for the protocol tests (not part of the package)."""

from __future__ import annotations

import threading

from meter.iec62056_21 import DataSet, Identification, RegisterError, Value

PASSWORD = "00000000"


class DemoBank:
    """Header entries + 100 energy registers; P.01 load profile; W1 on 0.9.1/0.9.2/C.1.0."""

    def __init__(
        self,
        address: str = "",
        manufacturer: str = "ABC",
        baud: str = "5",
        ident: str = "DEMO1000",
        read_requires_password: bool = False,
    ) -> None:
        self._address = address
        self._ident = Identification(manufacturer, baud, ident)
        self.read_requires_password = read_requires_password
        self.registers: dict[str, DataSet] = {}
        for ds in [
            DataSet.of("F.F", "00000000"),
            DataSet.of("C.1.0", "12345678"),
            DataSet.of("0.9.1", "120000"),
            DataSet.of("0.9.2", "261125"),
            DataSet.of("1.6.1", Value("27.19", "kW"), "2511250945"),
        ]:
            self.registers[ds.address] = ds
        for c in range(1, 11):
            for e in range(10):
                address = f"{c}.8.{e}"
                unit = "kWh" if c in (1, 2) else "kvarh"
                self.registers[address] = DataSet.of(address, Value(f"{c * 1000 + e:08.1f}", unit))
        self.writable = {"0.9.1", "0.9.2", "C.1.0"}
        self.calls: list[str] = []
        self._active = 0
        self._guard = threading.Lock()
        self.overlaps = 0  # bank entered by two threads at once (must stay 0)

    def _enter(self, name: str) -> None:
        with self._guard:
            self._active += 1
            if self._active > 1:
                self.overlaps += 1
            self.calls.append(name)

    def _leave(self) -> None:
        with self._guard:
            self._active -= 1

    def identification(self) -> Identification:
        self._enter("identification")
        self._leave()
        return self._ident

    def device_address(self) -> str:
        return self._address

    def readout(self) -> list[DataSet]:
        self._enter("readout")
        try:
            return list(self.registers.values())
        finally:
            self._leave()

    def read(self, address: str, args: tuple[str, ...]) -> list[DataSet]:
        self._enter(f"read {address} {args}")
        try:
            if address == "P.01":
                if len(args) != 2:
                    raise RegisterError("P.01 NEEDS FROM;TO")
                first, last = int(args[0]), int(args[1])
                return [
                    DataSet.of("P.01", str(t), Value(f"{t % 97:05.2f}", "kWh"))
                    for t in range(first, last + 1)
                ]
            if address == "BOOM":
                raise RuntimeError("bank bug")
            if address not in self.registers:
                raise RegisterError(f"UNKNOWN {address}")
            return [self.registers[address]]
        finally:
            self._leave()

    def write(self, address: str, values: tuple[str, ...]) -> None:
        self._enter(f"write {address} {values}")
        try:
            if address not in self.writable:
                raise RegisterError(f"READ ONLY {address}")
            self.registers[address] = DataSet.of(address, *values)
        finally:
            self._leave()

    def execute(self, address: str, values: tuple[str, ...]) -> list[DataSet]:
        self._enter(f"execute {address} {values}")
        try:
            if address == "ECHO":
                return [DataSet.of("ECHO", *values)]
            if address == "RESET":
                return []
            raise RegisterError(f"NO FUNCTION {address}")
        finally:
            self._leave()

    def check_password(self, level: str, password: str) -> bool:
        self._enter(f"password {level}")
        self._leave()
        return level == "P1" and password == PASSWORD
