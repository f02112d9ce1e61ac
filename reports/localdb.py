"""A PostgreSQL server of its own for a lab (or a test): initdb into a folder, started on
127.0.0.1 and a free (or given) port, its unix socket in that folder.

    python -m reports localdb start DIR [--port 5432]   create if new, start; prints the URL
    python -m reports localdb stop DIR

The server keeps running after the command (pg_ctl starts it in the background); its log is
DIR/server.log. Only connections from this machine are accepted (127.0.0.1, trust), so for
benches on other machines a lab gives an existing server's URL instead, or edits
DIR/data/pg_hba.conf and listen_addresses itself.

PostgreSQL's programs refuse to run as root ("initdb: error: cannot be run as root"; the
server likewise, PostgreSQL docs "Creating a Database Cluster"), so when this runs as root the
folder is handed to an unprivileged account (`postgres` if it exists, else `nobody`) and the
programs run as that account; otherwise they run as the calling user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Where Debian's `postgresql` package puts the server programs (one folder per major).
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SUPERUSER = "lab"


class LocalDbError(RuntimeError):
    """The local PostgreSQL server cannot be made or started; the message says why."""


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest major version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    found = sorted(glob.glob(DEBIAN_BIN_GLOB), key=lambda p: int(p.split("/")[-2] or 0))
    for d in reversed(found):
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    """The account to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise LocalDbError("running as root and neither a 'postgres' nor a 'nobody' account exists "
                       "to run PostgreSQL as (it refuses to run as root)")


@dataclass
class LocalPostgres:
    """One server in `folder` (data in folder/data, socket and log beside it)."""

    folder: Path
    port: int = 0
    bin_dir: Path | None = None
    #: Off only for throw-away test servers: a commit then survives a killed client (what the
    #: tests kill) but not a power cut.
    durable: bool = True

    def __post_init__(self) -> None:
        self.folder = Path(self.folder).resolve()
        self.bin_dir = self.bin_dir or find_bin_dir()
        if self.bin_dir is None:
            raise LocalDbError("no PostgreSQL server programs (initdb, pg_ctl) found on PATH or "
                               f"in {DEBIAN_BIN_GLOB}; install Debian's 'postgresql' package")
        self.account = _run_as()
        if not self.port:
            saved = self.folder / "port"
            self.port = int(saved.read_text()) if saved.exists() else free_port()

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _chown(self, path: Path) -> None:
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def _demote(self) -> None:  # runs in the child before exec
        if self.account is not None:
            os.setgroups([])
            os.setgid(self.account.pw_gid)
            os.setuid(self.account.pw_uid)

    def _program(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        assert self.bin_dir is not None
        env = dict(os.environ, LC_ALL="C", LANG="C")
        if self.account is not None:
            env["HOME"] = str(self.folder)
        done = subprocess.run([str(self.bin_dir / name), *args], capture_output=True, text=True,
                              preexec_fn=self._demote, env=env, cwd=self.folder)
        if check and done.returncode != 0:
            raise LocalDbError(f"{name} {' '.join(args)} failed (exit {done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-1500:]}")
        return done

    def init(self) -> None:
        """initdb, once: trust for local connections only (it listens on 127.0.0.1 only)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._chown(self.folder)
        if self.account is not None:
            for parent in self.folder.parents:
                if not parent.stat().st_mode & 0o001:
                    raise LocalDbError(
                        f"{self.folder}: the server runs as {self.account.pw_name!r} (not as "
                        f"root), which cannot pass through {parent} (mode "
                        f"{parent.stat().st_mode & 0o777:o}); choose a folder outside it, "
                        "e.g. under /var/lib or /srv")
        if (self.data / "PG_VERSION").exists():
            return
        self._program("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                      "--encoding=UTF8", "--no-instructions")
        (self.folder / "port").write_text(str(self.port))
        self._chown(self.folder / "port")

    def start(self) -> str:
        """Start the server (waiting until it accepts connections); returns its URL."""
        self.init()
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-c unix_socket_directories={self.folder} -c max_connections=100")
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._program("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                      "-o", options, "-w", "-t", "60", "start")
        return self.url

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._program("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop",
                          check=False)

    def create_database(self, name: str) -> str:
        """A new empty database on the running server; returns its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.database_url(name)


@contextlib.contextmanager
def throwaway_server() -> Iterator[LocalPostgres]:
    """A server in a new temporary folder (under the system's temp folder, which the
    unprivileged account can reach), stopped and deleted at the end."""
    folder = Path(tempfile.mkdtemp(prefix="meter-test-rig-pg-"))
    try:
        server = LocalPostgres(folder, durable=False)
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m reports localdb", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("start", "stop", "url"))
    parser.add_argument("folder", type=Path, help="the server's folder (made if new)")
    parser.add_argument("--port", type=int, default=0, help="port (default: kept, or a free one)")
    args = parser.parse_args(argv)
    try:
        server = LocalPostgres(args.folder, port=args.port)
        if args.action == "start":
            server.start()
        elif args.action == "stop":
            server.stop()
            print(f"stopped the server in {server.folder}")
            return 0
    except LocalDbError as exc:
        print(f"python -m reports localdb: {exc}", file=sys.stderr)
        return 2
    print(server.url)
    return 0
