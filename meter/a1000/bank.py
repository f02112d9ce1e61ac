"""The A1000's IEC 62056-21 register bank (docs/conventions.md 3), derived from the OBIS map.

Every call first advances the meter to "now" of the bank's time source (virtual time on
the simulated bench, wall time when served standalone), so answers are current.

Readout: the rows marked "in readout" (or the configured ``readout`` list), in order.
R1: any readable row. W1: writable rows, only in the programming state (manual 2.1.1:
reset button held 8 s with the seal open, "PRG") and after the P1 password of the session
was accepted (manual 2.2.1). Wrong passwords count; ``passwords.max_attempts`` wrong ones
lock password entry for ``passwords.lockout_s`` (answer ``(PASSWORD LOCKED)``).
P2 is compared with ``passwords.p2`` as sent (the model has no secure algorithm for P0).
E2 of an operation (row ``remote``: the demand reset ``0.1.0``) needs the P1 password only.
Each accepted write counts as programming (once per PRG session), stamps the time of last
programming and saves the non-volatile state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from meter.a1000.config import MeterConfig
from meter.a1000.obis_map import build_map
from meter.a1000.obis_rows import ObisMap, ObisRow
from meter.a1000.programming import ProgrammingLocked, ProgrammingState
from meter.iec62056_21.bank import DataSet, Identification, RegisterError, Value

log = logging.getLogger(__name__)


class BankedMeter(Protocol):
    """What the bank needs of the meter (meter.a1000.meter.A1000); the OBIS rows it serves
    read the rest."""

    config: MeterConfig
    programming: ProgrammingState
    components: list[Any]
    now: float

    def advance_to(self, t: float) -> None: ...

    def component(self, name: str) -> Any: ...

    def in_programming(self) -> bool: ...

    def meter_seconds(self, t: float | None = None) -> float: ...

    def save(self) -> None: ...


class A1000RegisterBank:
    read_requires_password = False  # manual 2.2.1: reads need no password

    def __init__(self, meter: BankedMeter, time_source: Callable[[], float] | None = None) -> None:
        self.meter = meter
        self.time_source = time_source
        # One lock for the meter: the server thread and a wall-clock ticker share the model.
        self.lock = threading.RLock()
        self.map: ObisMap = build_map(meter)
        self._readout_rows = self.map.readout_rows(meter.config.readout)
        self._password_ok = False
        # Per address answered: the model's raw values last read and the data set made of them.
        self._formatted: dict[str, tuple[tuple[Any, ...], DataSet]] = {}
        # The display's port indicator, found once: a meter's components are fixed when it is
        # built, and `sync` runs before every answer.
        try:
            display = meter.component("display")
        except KeyError:
            display = None  # a model without the display component
        self._note_comm: Callable[..., None] | None = getattr(display, "note_comm", None)

    # -- helpers ------------------------------------------------------------------------

    def sync(self) -> None:
        """Advance the meter to the time source's now (never backwards). Every bank call
        answers a received message, so the LCD's RX and TX flash now (manual 2.1.2 item 3.3)."""
        if self.time_source is not None:
            t = self.time_source()
            if t > self.meter.now:
                self.meter.advance_to(t)
        note = self._note_comm
        if note is not None:
            note(self.meter.now, rx=True)
            note(self.meter.now, rx=False)

    def _dataset(self, address: str, row: ObisRow) -> DataSet:
        assert row.get is not None
        raw = tuple(row.get(self.meter))  # a copy: what the model hands out may change later
        # A register that reads as it did last time answers with the data set built then
        # (immutable): a plan reads the same registers thousands of times, most of them
        # unchanged, and checking and building the values was most of a read's time.
        last = self._formatted.get(address)
        if last is not None and last[0] == raw:
            return last[1]
        values = []
        for i, v in enumerate(raw):
            if isinstance(v, Value):
                values.append(v)
            else:
                values.append(Value(str(v), row.unit if i == 0 and row.unit else None))
        dataset = DataSet(address, tuple(values) or (Value(""),))
        if all(type(v) is str or type(v) is Value for v in raw):
            # Kept only where equal raw values mean equal texts (1 == 1.0, str() differs).
            self._formatted[address] = (raw, dataset)
        return dataset

    def _row(self, address: str) -> ObisRow:
        row = self.map.find(address)
        if row is None:
            raise RegisterError("UNKNOWN ADDRESS")
        return row

    def _require_programming(self) -> None:
        if not self.meter.in_programming():
            raise RegisterError("NOT IN PROGRAMMING STATE")
        if not self._password_ok:
            raise RegisterError("PASSWORD REQUIRED")

    # -- RegisterBank -------------------------------------------------------------------

    def identification(self) -> Identification:
        with self.lock:
            self.sync()
            self._password_ok = False  # a new session starts with a sign-on
            ident = self.meter.config.identity
            return Identification(ident.manufacturer, ident.baud_char, ident.ident)

    def device_address(self) -> str:
        return self.meter.config.identity.device_address

    def readout(self) -> list[DataSet]:
        with self.lock:
            self.sync()
            out = []
            for r in self._readout_rows:
                try:
                    out.append(self._dataset(r.address, r))
                except RegisterError as e:
                    # A value that does not exist yet (e.g. no billing period closed) is left
                    # out of the readout rather than spoiling the whole list.
                    log.debug("readout: %s left out (%s)", r.address, e.text)
            return out

    def read(self, address: str, args: tuple[str, ...]) -> list[DataSet]:
        with self.lock:
            self.sync()
            row = self._row(address)
            if row.read_args is not None:
                return row.read_args(self.meter, args)
            if not row.readable:
                raise RegisterError("NOT READABLE")
            return [self._dataset(row.address, row)]

    def write(self, address: str, values: tuple[str, ...]) -> None:
        with self.lock:
            self.sync()
            row = self._row(address)
            if row.put is None:
                raise RegisterError("READ ONLY")
            self._require_programming()
            row.put(self.meter, tuple(values))
            self.meter.programming.record_write(self.meter.meter_seconds())
            self.meter.save()

    def execute(self, address: str, values: tuple[str, ...]) -> list[DataSet]:
        with self.lock:
            self.sync()
            row = self._row(address)
            if row.run is None:
                raise RegisterError("NOT EXECUTABLE")
            if row.remote:
                # An operation over the port (RS485 or infrared demand reset, manual 3.2.2):
                # the session's P1 password, no seal or button (nobody is at a remote meter).
                if not self._password_ok:
                    raise RegisterError("PASSWORD REQUIRED")
                out = row.run(self.meter, tuple(values))
            else:
                self._require_programming()
                out = row.run(self.meter, tuple(values))
                self.meter.programming.record_write(self.meter.meter_seconds())
            self.meter.save()
            return out

    def check_password(self, level: str, password: str) -> bool:
        with self.lock:
            self.sync()
            pw = self.meter.config.passwords
            expected = {"P1": pw.p1, "P2": pw.p2}.get(level)
            if expected is None:
                raise RegisterError("UNSUPPORTED PASSWORD LEVEL")
            try:
                ok = self.meter.programming.check_password(self.meter.now, password, expected, pw)
            except ProgrammingLocked:
                raise RegisterError("PASSWORD LOCKED") from None
            self._password_ok = self._password_ok or ok
            return ok
