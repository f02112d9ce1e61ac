"""The row type of the A1000's OBIS map and the map's index (the table module below every
part of the meter: the core's rows and each component's ``obis_rows()`` are ObisRows).

A row's ``get``/``put``/``run``/``read_args`` receive the meter (``meter.a1000.meter.A1000``);
they are typed with ``MeterModel`` (Any) so that this module needs nothing above it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gmpy2 import mpq

from meter.a1000.registers import format_register
from meter.iec62056_21.bank import DataSet
from meter.iec62056_21.errors import InvalidObis
from meter.iec62056_21.obiscode import ObisCode

MeterModel = Any  # the A1000 a row reads or writes (meter.a1000.meter.A1000)

Getter = Callable[[MeterModel], tuple[str, ...]]  # values; an item may be a ready ``Value``
Putter = Callable[[MeterModel, tuple[str, ...]], None]
Runner = Callable[[MeterModel, tuple[str, ...]], list[DataSet]]  # E2 (execute)
ArgReader = Callable[[MeterModel, tuple[str, ...]], list[DataSet]]  # R1/R5 with arguments


@dataclass(frozen=True)
class ObisRow:
    address: str
    description: str
    unit: str | None
    source: str
    get: Getter | None
    put: Putter | None = None
    readout: bool = False
    run: Runner | None = None  # E2: needs programming state + P1, like W1
    read_args: ArgReader | None = None  # reads taking arguments (e.g. load profile ranges)
    # E2 of an operation rather than a parameter (the demand reset, manual 3.2.2 "reset mode:
    # ... infrared, RS485"): the P1 password suffices, no programming state, not counted as
    # programming.
    remote: bool = False

    @property
    def readable(self) -> bool:
        return self.get is not None or self.read_args is not None

    @property
    def writable(self) -> bool:
        return self.put is not None

    @property
    def executable(self) -> bool:
        return self.run is not None


class ObisMap:
    """The rows in order, indexed by address and by normalised OBIS value groups."""

    def __init__(self, rows: list[ObisRow]) -> None:
        self.rows = list(rows)
        self._by_address: dict[str, ObisRow] = {}
        self._by_key: dict[tuple, ObisRow] = {}
        for r in self.rows:
            if r.address in self._by_address:
                raise ValueError(f"OBIS map: address {r.address!r} appears twice")
            self._by_address[r.address] = r
            key = _key(r.address)
            if key is not None:
                self._by_key.setdefault(key, r)

    def find(self, address: str) -> ObisRow | None:
        """Exact address, else the row with the same C.D.E*F (``1.8.0`` finds ``1-1:1.8.0``)."""
        row = self._by_address.get(address)
        if row is not None:
            return row
        key = _key(address)
        if key is None:
            return None
        row = self._by_key.get(key)
        if row is None:
            return None
        code = ObisCode.parse(address)
        rc = ObisCode.parse(row.address)
        if (code.a is not None and code.a != rc.a) or (code.b is not None and code.b != rc.b):
            return None
        return row

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def readout_rows(self, addresses: list[str] | None) -> list[ObisRow]:
        if addresses is None:
            return [r for r in self.rows if r.readout]
        out = []
        for i, a in enumerate(addresses):
            row = self.find(a)
            if row is None or row.get is None:
                raise ValueError(f"readout[{i}]: {a!r} is not a readable address of the OBIS map")
            out.append(row)
        return out


@functools.cache  # addresses repeat in every meter's map
def _key(address: str) -> tuple | None:
    try:
        c = ObisCode.parse(address)
    except InvalidObis:
        return None
    return (c.c, c.d, c.e, c.f)


def format_energy(meter: MeterModel, value: mpq) -> str:
    """Register format 99999.99 / 999999.9 with rollover (manual 1.1 item 5), truncated."""
    return format_register(value, meter.config.register_decimals, meter.config.register_modulus)
