"""Typed view of data sets for the client: Decimal value, unit, OBIS code, raw strings kept."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .datasets import DataSet, Value, trusted
from .obiscode import ObisCode, try_parse

_NUMERIC = re.compile(r"[0-9.+-]+")


def to_decimal(text: str) -> Decimal | None:
    """Decimal of a numeric value string ('001234.5', '-0.2'), None for anything else."""
    if not _NUMERIC.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class Reading:
    """One data set as read: `value`/`unit` are those of its first bracket."""

    address: str
    obis: ObisCode | None
    value: Decimal | None
    unit: str | None
    dataset: DataSet

    @classmethod
    def of(cls, dataset: DataSet) -> Reading:
        if cls is Reading:
            return _reading_of(dataset)
        return cls._of(dataset)

    @classmethod
    def _of(cls, dataset: DataSet) -> Reading:
        first = dataset.values[0]
        # No field to check: built without the frozen dataclass's setattr per field (a
        # readout makes a hundred of these).
        return trusted(
            cls,
            address=dataset.address,
            obis=try_parse(dataset.address),
            value=to_decimal(first.value),
            unit=first.unit,
            dataset=dataset,
        )

    @property
    def raw(self) -> str:
        """The first value exactly as sent (leading zeros, timestamps)."""
        return self.dataset.values[0].value

    @property
    def values(self) -> tuple[Value, ...]:
        """All bracketed values, e.g. demand value and its time stamp."""
        return self.dataset.values


# A client reads the same registers again and again, most of them unchanged (and a readout's
# unchanged lines are the same data sets: meter.iec62056_21.datasets keeps them): the reading
# of a data set comes from a cache (both immutable; equal data sets give equal readings).
_reading_of = functools.lru_cache(maxsize=8192)(Reading._of)
