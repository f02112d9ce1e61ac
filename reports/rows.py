"""The one boundary between the store's frames and the report's rows.

reports.store.load_run reads a run leniently into pandas DataFrames (RunData). The report
works on the records' frozen dataclasses instead (reports.records): each measurement a
StoredMeasurement, each meter position a PositionRecord, each log line an Event. `run_rows`
turns the frames into them once per build; the analysis groups and judges these rows and the
templates render them. pandas appears again only in the exports (reports.build).

Missing numbers (NaN in a frame) become None, missing text "", as the records have them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from reports.numbers import is_number
from reports.records import (
    Event,
    PositionRecord,
    Repetitions,
    StoredMeasurement,
    share_point_facts,
)
from reports.store import RunData

# StoredMeasurement's fields as the store's measurement columns name them (the rest of
# its fields, other than `repetitions`, are named as the columns).
_RENAMED = {"point_key": "stored_point_key"}
_REPETITIONS = ("rep_n", "rep_mean", "rep_stdev")


@dataclass(frozen=True)
class RunRows:
    """A run's stored rows as records, in the store's order (measurements by id, positions
    by number, events by time)."""

    measurements: tuple[StoredMeasurement, ...]
    positions: tuple[PositionRecord, ...]
    events: tuple[Event, ...]


def _records(frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """The frame's rows as dicts of plain values; pandas' NaN and NA become None."""
    names = list(frame.columns)
    columns = [_plain(frame[c]) for c in names]
    for values in zip(*columns, strict=True):
        yield dict(zip(names, values, strict=True))


def _plain(column: pd.Series) -> list[Any]:
    values = column.tolist()
    if not column.hasnans:
        return values
    # v != v: NaN (pd.NA is tested first: it has no truth value)
    return [None if v is None or v is pd.NA or v != v else v for v in values]


def _int_or_none(value: Any) -> int | None:
    return int(value) if is_number(value) else None


def measurement_rows(frame: pd.DataFrame) -> tuple[StoredMeasurement, ...]:
    out = []
    for d in _records(frame):
        n, mean, stdev = (d.pop(k, None) for k in _REPETITIONS)
        fields = {_RENAMED.get(k, k): v for k, v in d.items()}
        fields["position"] = _int_or_none(fields["position"])
        fields["id"] = _int_or_none(fields.get("id"))
        fields["recorded_count"] = _int_or_none(fields.get("recorded_count")) or 1
        reps = None if n is None else Repetitions(n=int(n), mean=mean, stdev=stdev)
        out.append(StoredMeasurement(repetitions=reps, **fields))
    share_point_facts(out)
    return tuple(out)


def position_rows(frame: pd.DataFrame) -> tuple[PositionRecord, ...]:
    """The positions with a number (a row without one cannot be placed)."""
    out = []
    for d in _records(frame):
        if not is_number(d["position"]):
            continue
        out.append(PositionRecord(
            run_id=str(d["run_id"] or ""), position=int(d["position"]),
            serial=str(d["serial"] or ""), manufacturer=str(d["manufacturer"] or ""),
            meter_type=str(d["meter_type"] or ""), firmware=str(d["firmware"] or ""),
            constants=d["constants"] if d["constants"] is not None else {},
            identity=d["identity"] if d["identity"] is not None else {},
            read_at=d["read_at"]))
    return tuple(out)


def event_rows(frame: pd.DataFrame) -> tuple[Event, ...]:
    return tuple(
        Event(run_id=str(d.get("run_id") or ""), message=str(d.get("message") or ""),
              t=d.get("t"), level=str(d.get("level") or ""), kind=str(d.get("kind") or ""),
              position=_int_or_none(d.get("position")),
              data=d.get("data") if d.get("data") is not None else {},
              id=_int_or_none(d.get("id")))
        for d in _records(frame))


def run_rows(data: RunData) -> RunRows:
    return RunRows(measurement_rows(data.measurements), position_rows(data.positions),
                   event_rows(data.events))
