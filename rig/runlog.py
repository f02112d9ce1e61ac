"""The run log as a text file in the run folder (`runs/<run_id>/run.log`), one timestamped line
per entry, written and flushed as it happens, so a killed run keeps its log up to the kill.

It holds the session's run-log lines (the ones the report shows) and the records of the rig's,
the meter package's and the reports' loggers while the run is open, at the level those loggers
are set to (WARNING by default: refused writes, retries, identity not read; `--log-level INFO`
adds energising and the like).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TextIO

#: Loggers whose records go into the file while it is open.
LOGGERS = ("rig", "meter", "reports")


def _stamp(at: float | None = None) -> str:
    when = dt.datetime.now(dt.UTC) if at is None else dt.datetime.fromtimestamp(at, dt.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RunLogFile(logging.Handler):
    """Appends to `path` (created with its folder); use as a context manager."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = self.path.open("a", encoding="utf-8")

    def line(self, message: str, *, level: str = "info", position: int | None = None,
             at: float | None = None) -> None:
        """One line: UTC time to the millisecond, level, position if any, the message."""
        if self._file is None:
            return
        where = f"[position {position}] " if position is not None else ""
        self._file.write(f"{_stamp(at)} {level.upper():<7} {where}{message}\n")
        self._file.flush()

    def emit(self, record: logging.LogRecord) -> None:
        self.line(f"{record.name}: {record.getMessage()}", level=record.levelname.lower(),
                  at=record.created)

    def __enter__(self) -> RunLogFile:
        for name in LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(self)
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()
