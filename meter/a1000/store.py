"""The meter's non-volatile memory: an atomic, checksummed JSON state file, two generations.

Save: write ``state.json.tmp``, fsync it, move the current ``state.json`` to
``state.prev.json``, rename the temporary file to ``state.json``, fsync the directory.
A kill at any instant leaves at least one complete, checksummed generation on disk.

Load: ``state.json`` if its checksum holds; otherwise ``state.prev.json`` and the load is
reported as *damaged* (the meter then sets ERR 2 bit 0000 0100 "Read/Write EEPROM Error",
A1000 manual Appendix B). A missing ``state.json`` beside a good previous generation is the
trace of a kill between the two renames: that generation is used, not reported as damage.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "a1000-state"
VERSION = 1
CURRENT = "state.json"
PREVIOUS = "state.prev.json"


def _checksum(payload: Any) -> str:
    canon = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()


@dataclass(frozen=True)
class Loaded:
    payload: dict[str, Any] | None
    damaged: bool
    source: Path | None
    reason: str = ""


class StateStore:
    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def current(self) -> Path:
        return self.dir / CURRENT

    @property
    def previous(self) -> Path:
        return self.dir / PREVIOUS

    def save(self, payload: dict[str, Any]) -> None:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "checksum": _checksum(payload),
            "payload": payload,
        }
        tmp = self.dir / (CURRENT + ".tmp")
        data = json.dumps(doc, sort_keys=True).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if self.current.exists():
            os.replace(self.current, self.previous)
        os.replace(tmp, self.current)
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        try:
            fd = os.open(self.dir, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    @staticmethod
    def _read(path: Path) -> tuple[dict[str, Any] | None, str]:
        try:
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None, "missing"
        except (OSError, ValueError) as e:
            return None, f"unreadable ({e.__class__.__name__})"
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            return None, "not an A1000 state file"
        if doc.get("version") != VERSION:
            return None, f"unsupported version {doc.get('version')!r}"
        payload = doc.get("payload")
        if not isinstance(payload, dict) or doc.get("checksum") != _checksum(payload):
            return None, "checksum mismatch"
        return payload, ""

    def load(self) -> Loaded:
        payload, why = self._read(self.current)
        if payload is not None:
            return Loaded(payload, False, self.current)
        prev, why_prev = self._read(self.previous)
        damaged = why != "missing"
        if prev is not None:
            return Loaded(prev, damaged, self.previous, f"{CURRENT}: {why}")
        if why == "missing" and why_prev == "missing":
            return Loaded(None, False, None, "no state")
        return Loaded(None, True, None, f"{CURRENT}: {why}; {PREVIOUS}: {why_prev}")
