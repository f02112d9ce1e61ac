"""A test double: the A1000 whose billing stamp 0.1.2*101 cannot be read once (the second time
it is asked for), as a meter whose optical head slipped would answer. For
test_billing_read_error.py (run with --meter-model tests.testplans.flaky_meter:FlakyA1000)."""

from __future__ import annotations

from typing import Any

from meter.a1000 import A1000
from meter.a1000.bank import A1000RegisterBank
from meter.iec62056_21.bank import RegisterError

FLAKY_ADDRESS = "0.1.2*101"
FLAKY_CALL = 2


class _FlakyBank(A1000RegisterBank):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0

    def read(self, address: str, args: tuple[str, ...]) -> Any:
        if address == FLAKY_ADDRESS:
            self.calls += 1
            if self.calls == FLAKY_CALL:
                raise RegisterError("NOT READABLE")
        return super().read(address, args)


class FlakyA1000(A1000):
    def register_bank(self, time_source: Any = None) -> A1000RegisterBank:
        if time_source is not None or self._bank is None:
            self._bank = _FlakyBank(self, time_source)
        return self._bank
