"""Calibration status of a bench: which instruments and other equipment are past their due date.

ISO/IEC 17025 6.4.7 and 6.5: equipment used for measurement is calibrated and used within its
calibration interval. A run on a bench with an overdue item is refused unless the operator
allows it (`--allow-overdue`); then the run states it (run log and the report's environment).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rig.bench.config import BenchConfig


class CalibrationOverdue(RuntimeError):
    """A bench item is past its calibration due date; the message names each one."""


@dataclass(frozen=True)
class Overdue:
    """One item past its calibration due date."""

    key: str  # where it is in the bench file, e.g. "instruments.reference"
    what: str  # model and serial, or the traceability item
    due: dt.date

    def __str__(self) -> str:
        return f"{self.key} ({self.what}): calibration due {self.due.isoformat()}"


def overdue(config: BenchConfig, today: dt.date) -> list[Overdue]:
    """Every instrument and traceability item whose calibration_due is before `today`."""
    found = []
    for role, inst in config.roles():
        if inst.calibration_due is not None and inst.calibration_due < today:
            what = " ".join(filter(None, (inst.model or inst.driver, inst.serial and
                                          f"serial {inst.serial}")))
            found.append(Overdue(f"instruments.{role}", what, inst.calibration_due))
    for n, item in enumerate(config.traceability):
        if item.calibration_due is not None and item.calibration_due < today:
            found.append(
                Overdue(f"traceability.{n}", f"{item.item} serial {item.serial}",
                        item.calibration_due)
            )
    return found


def check_calibration(config: BenchConfig, today: dt.date, *, allow_overdue: bool) -> list[str]:
    """Refuse a bench with overdue calibrations (CalibrationOverdue) unless `allow_overdue`;
    returns the lines to state with the run (empty when all are in date)."""
    late = overdue(config, today)
    if not late:
        return []
    where = config.source_file or "bench file"
    lines = [str(o) for o in late]
    if not allow_overdue:
        raise CalibrationOverdue(
            f"{where}: calibration overdue on {today.isoformat()}:\n  " + "\n  ".join(lines)
            + "\nrecalibrate, or run with --allow-overdue (stated on the report)"
        )
    return [f"{line} (overdue, run allowed by --allow-overdue)" for line in lines]
