"""Base classes of the drivers: exchange with retries, logging of every exchange, error checking."""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar

from rig.instruments.errors import InstrumentError
from rig.instruments.transport import TRANSPORT_ERRORS, Adapter

log = logging.getLogger("rig.instruments")


class Instrument:
    """One instrument on one adapter.

    Subclasses set the terminations and implement `write` (a command whose success is checked in the
    instrument's own way) and `query`. `_exchange` does the I/O: it retries idempotent exchanges on
    transport errors and turns the last failure into an InstrumentError naming instrument, command
    and cause.
    """

    model: ClassVar[str] = "instrument"
    write_termination: ClassVar[str] = "\n"
    read_termination: ClassVar[str] = "\n"
    #: pyvisa serial attributes used when the resource is ASRL (baud rate etc.).
    serial_settings: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        adapter: Adapter,
        name: str | None = None,
        retries: int = 2,
        pipeline: bool = True,
    ) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.adapter = adapter
        self.name = name or self.model
        self.retries = retries
        # May several commands go out in one write (drivers that batch, e.g. ZERA COM5003)?
        self.pipeline = pipeline
        self._log = log.getChild(self.name)
        # One operation at a time (a command and its error check, a transaction): threads may
        # share an instrument (an ECGroup step, a MAD asking the reference its constant).
        self.lock = threading.RLock()

    def _exchange(self, command: str, lines: int, *, idempotent: bool = True) -> list[str]:
        """Write `command`, read `lines` reply lines (0: none); retry all of it if idempotent."""
        with self.lock:
            return self._exchange_locked(command, lines, idempotent=idempotent)

    def _exchange_locked(
        self,
        command: str,
        lines: int,
        *,
        idempotent: bool,
        failed: BaseException | None = None,
    ) -> list[str]:
        """The exchange with its retries; `failed`: the first attempt was made elsewhere
        (rig.instruments.steps sends before it reads) and failed so: the remaining attempts."""
        attempts = self.retries + 1 if idempotent else 1
        last: BaseException | None = None
        for attempt in range(1, attempts + 1):
            try:
                if attempt == 1 and failed is not None:
                    raise failed  # the first attempt, made elsewhere
                self._send(command)
                replies = self._receive(lines)
            except TRANSPORT_ERRORS as exc:
                last = exc
                self._log.warning("%s: attempt %d/%d failed: %r", command, attempt, attempts, exc)
                if attempt < attempts:
                    self._reset_transport()
                continue
            return replies
        assert last is not None
        raise InstrumentError(
            self.name, command, f"{type(last).__name__}: {last} (after {attempts} attempt(s))"
        ) from last

    def _send(self, command: str) -> None:
        """Write one command (lines the caller reads with `_receive`); the lock is held."""
        self._log.debug("> %s", command)
        self.adapter.write(command)

    def _receive(self, lines: int) -> list[str]:
        """Read `lines` reply lines of the command last sent."""
        replies = [self.adapter.read() for _ in range(lines)]
        for r in replies:
            self._log.debug("< %s", r)
        return replies

    def _reset_transport(self) -> None:
        reset = getattr(self.adapter, "reset", None)
        if reset is None:
            return
        try:
            reset()
        except TRANSPORT_ERRORS as exc:
            self._log.warning("reconnect failed: %r", exc)

    def write(self, command: str, *, idempotent: bool = True) -> None:
        """Send a command and check the instrument accepted it (each family its own way)."""
        raise NotImplementedError

    def query(self, command: str, *, idempotent: bool = True) -> str:
        """Send a query and return its one reply line."""
        return self._exchange(command, 1, idempotent=idempotent)[0]

    def close(self) -> None:
        """Close the transport."""
        self.adapter.close()


def error_code(reply: str) -> int | None:
    """The code of an SCPI error-queue entry ("+0,No error" -> 0, "-222,Data out of range" ->
    -222); None if the reply has none."""
    try:
        return int(reply.partition(",")[0])
    except ValueError:
        return None


class ScpiInstrument(Instrument):
    """SCPI: writes have no reply; the error queue is read after every write."""

    error_query: ClassVar[str] = "SYST:ERR?"
    max_error_drain: ClassVar[int] = 10

    def write(self, command: str, *, idempotent: bool = True) -> None:
        """Send a command, then read the error queue; raise InstrumentError on any queued error."""
        with self.lock:
            self._exchange(command, 0, idempotent=idempotent)
            errors = self._drain_errors()
        if errors:
            raise InstrumentError(self.name, command, "instrument error " + "; ".join(errors))

    def _drain_errors(self) -> list[str]:
        errors: list[str] = []
        for _ in range(self.max_error_drain):
            reply = self.query(self.error_query).strip()
            code = error_code(reply)
            if code is None:
                raise InstrumentError(
                    self.name, self.error_query, f"unparsable error-queue reply {reply!r}"
                )
            _, _, message = reply.partition(",")
            if code == 0:
                return errors
            errors.append(f"{code},{message.strip()}")
        return errors

    def errors(self) -> list[str]:
        """Read and clear the error queue; return the entries (empty when none)."""
        with self.lock:
            return self._drain_errors()


class Channel:
    """A phase or position of an instrument: fills `{ch}` in templates, talks through the parent."""

    def __init__(self, parent: Instrument, ch: int | str) -> None:
        self.parent = parent
        self.ch = ch
        self.name = f"{parent.name}[{ch}]"

    def write(self, command: str, *, idempotent: bool = True) -> None:
        self.parent.write(command, idempotent=idempotent)

    def query(self, command: str, *, idempotent: bool = True) -> str:
        return self.parent.query(command, idempotent=idempotent)
