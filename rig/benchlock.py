"""One run per bench: a lock held from before the instruments are opened until the run ends.

A lab bench is locked by an OS file lock (flock(2), exclusive, non-blocking) per name it is known
by: each instrument's resource string and each meter link (not the lab's name, which two benches
may share). Two bench files naming the same instrument or the same serial port therefore exclude
each other. The lock file holds who took it (user, host, pid, since, run), so a second run is
refused with that. The kernel drops the lock when the process ends, however it ends: a killed
run leaves no stale lock. A run removes its lock files when it ends.

The simulated bench takes no lock: each run (each pytest-xdist worker) starts its own simulator
on its own ports.

`BenchLock` is the interface the session uses; a shared database store can offer a lease behind
the same two calls.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import platform
import re
import tempfile
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

try:
    import fcntl
except ImportError:  # Windows: no flock; the lock is then refused with a clear message
    fcntl = None  # type: ignore[assignment]

from rig.bench.config import BenchConfig

#: Where the lock files live unless told otherwise: one directory per machine, shared by all
#: users (sticky and world-writable like /tmp), so a second operator is refused as well.
DEFAULT_LOCK_DIR = Path(tempfile.gettempdir()) / "meter-test-rig-locks"


class BenchBusy(RuntimeError):
    """The bench is in use by another run; the message names who holds it since when."""


@dataclass(frozen=True)
class Holder:
    """Who holds a bench."""

    user: str = field(default_factory=getpass.getuser)
    host: str = field(default_factory=platform.node)
    pid: int = field(default_factory=os.getpid)
    since: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    what: str = ""

    def __str__(self) -> str:
        what = f" ({self.what})" if self.what else ""
        return f"{self.user}@{self.host} pid {self.pid} since {self.since}{what}"


class BenchLock(Protocol):
    """Exclusive use of a bench for one run."""

    def acquire(self) -> None:
        """Take the bench or raise BenchBusy naming the holder."""

    def release(self) -> None:
        """Give the bench back (also safe when not held)."""


def bench_names(config: BenchConfig) -> list[str]:
    """The names a lab bench is known by: its instruments' resources and its meter links."""
    names = [f"resource {inst.resource}" for _, inst in config.roles()]
    names += [f"link {p.link}" for p in config.positions]
    return sorted(set(names))


def _file_name(name: str) -> str:
    """A file name for a lock name: readable part plus a hash (names may hold '/' or '::')."""
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", name)[:60]
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{readable}-{digest}.lock"


class FileBenchLock:
    """flock(2) on one file per name in `directory`; all names or none."""

    def __init__(self, names: Iterable[str], directory: Path, holder: Holder) -> None:
        self.names = sorted(set(names))  # one order for everyone: no lock-order deadlock
        self.directory = Path(directory)
        self.holder = holder
        self._fds: list[int] = []
        self._paths: dict[int, Path] = {}

    def acquire(self) -> None:
        if fcntl is None:
            raise BenchBusy("bench lock: this platform has no flock(2); run on Linux or macOS")
        self._make_directory()
        try:
            for name in self.names:
                self._fds.append(self._lock(name))
        except BaseException:
            self.release()
            raise

    def _make_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with suppress(PermissionError):  # another user made it: it is theirs to set
            os.chmod(self.directory, 0o1777)

    def _lock(self, name: str) -> int:
        path = self.directory / _file_name(name)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            with suppress(PermissionError):
                os.fchmod(fd, 0o666)  # any operator on the machine may take it next
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held_by = _read_holder(fd)
                os.close(fd)
                raise BenchBusy(
                    f"bench in use: {name} is held by {held_by} (lock file {path}); "
                    "one run per bench: wait for that run to end, or stop it"
                ) from None
            except BaseException:
                os.close(fd)
                raise
            # The holder before us may have removed the file between our open and our lock:
            # then we hold a lock on a file nobody else sees; take the one at `path` instead.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(self.holder)).encode(), 0)
        self._paths[fd] = path
        return fd

    def release(self) -> None:
        while self._fds:
            fd = self._fds.pop()
            # Removed while still held (see _lock), so no one can lock a file about to go.
            with suppress(OSError):
                os.unlink(self._paths.pop(fd))
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> FileBenchLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return str(Holder(**data)) if data else "another process (holder not written yet)"
    except (ValueError, TypeError, OSError):
        return "another process (holder record unreadable)"


def lab_bench_lock(config: BenchConfig, directory: Path | None, what: str) -> FileBenchLock:
    """The lock of a lab bench, not yet taken (`acquire()` or use as a context manager)."""
    return FileBenchLock(bench_names(config), directory or DEFAULT_LOCK_DIR, Holder(what=what))
