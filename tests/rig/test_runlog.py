"""The run log file: timestamped lines, the rig's log records while open, nothing after."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from rig.runlog import RunLogFile


def test_lines_and_log_records_with_utc_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "run1" / "run.log"
    with RunLogFile(path) as runlog:
        runlog.line("run started", at=1780000000.25)
        runlog.line("identity not read", level="warning", position=2)
        logging.getLogger("rig.bench.test").warning("source retried %d times", 2)
        logging.getLogger("other").warning("not the rig's")
    logging.getLogger("rig.bench.test").warning("after the run")
    lines = path.read_text().splitlines()
    # 1780000000.25 s after the epoch is 2026-05-28 20:26:40.250 UTC.
    assert lines[0] == "2026-05-28T20:26:40.250Z INFO    run started"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARNING "
                        r"\[position 2\] identity not read", lines[1])
    assert lines[2].endswith("WARNING rig.bench.test: source retried 2 times")
    assert len(lines) == 3
