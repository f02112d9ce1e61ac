"""The meter-side register interface (docs/conventions.md section 3).

A meter model implements `RegisterBank`; `server.MeterServer` serves it on a pty or a TCP
port. Identification, Value and DataSet are the codec's own types (one home per concept).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .datasets import DataSet, Value
from .messages import Identification

__all__ = ["DataSet", "Identification", "RegisterBank", "RegisterError", "Value"]


class RegisterError(Exception):
    """Raised by a bank method; the server answers the error message `(text)`.

    The text is cut to 32 characters and stripped of ( ) * / ! (standards.md 6.3).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        super().__init__(text)


@runtime_checkable
class RegisterBank(Protocol):
    """What the IEC 62056-21 server needs from a meter (docs/conventions.md 3).

    `read` args: the values of the command's data set; a single value holding `;` is split
    there, so R5 `P.01(2301010000;2301020000)` gives ('2301010000', '2301020000') and R1
    `1.8.0()` gives (). `write` values: the values of the W1 data set. `execute` values: the
    values of the E2 data set (an empty `()` gives ()).
    """

    read_requires_password: bool

    def identification(self) -> Identification: ...

    def device_address(self) -> str: ...

    def readout(self) -> list[DataSet]: ...

    def read(self, address: str, args: tuple[str, ...]) -> list[DataSet]: ...

    def write(self, address: str, values: tuple[str, ...]) -> None: ...

    def execute(self, address: str, values: tuple[str, ...]) -> list[DataSet]: ...

    def check_password(self, level: str, password: str) -> bool: ...


def command_args(data: DataSet | None) -> tuple[str, ...]:
    """The argument strings of a command's data set (see RegisterBank)."""
    if data is None:
        return ()
    texts = [v.value for v in data.values]
    if len(texts) == 1:
        return () if texts[0] == "" else tuple(texts[0].split(";"))
    return tuple(texts)


def args_dataset(address: str, args: tuple[str, ...] | list[str]) -> DataSet:
    """The data set a client sends for `address` with `args` (inverse of command_args)."""
    return DataSet(address, (Value(";".join(args)),))
