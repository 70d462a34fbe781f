"""A throwaway PostgreSQL cluster for the tests: ``initdb`` in a temporary folder, a server on a free port, a fresh
database per test, everything removed at the end of the session.

The server programs are Debian's ``postgresql`` package (``initdb`` on the PATH or under /usr/lib/postgresql/N/bin).
When they are missing and the tests run as root, the package is installed with apt; otherwise the PostgreSQL
variants of the tests are skipped with one line that says why. The server refuses to run as root, so as root it
runs as the package's ``postgres`` user.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

_counter = itertools.count(1)


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why (and what to install)."""


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def _install() -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env, capture_output=True,
                   timeout=900)


def find_binaries() -> Path:
    """The folder of ``initdb``/``pg_ctl``, installing Debian's package first when root; else ``Unavailable``."""
    found = _bin_dir()
    if found is None and os.geteuid() == 0:
        try:
            _install()
        except (OSError, subprocess.SubprocessError) as exc:
            raise Unavailable(f"PostgreSQL tests skipped: apt-get install postgresql failed ({exc})") from None
        found = _bin_dir()
    if found is None:
        raise Unavailable("PostgreSQL tests skipped: initdb not found (sudo apt-get install postgresql)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One server; ``new_database()`` gives a test its own empty database (a URL)."""

    def __init__(self) -> None:
        self.bin = find_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="b24plans-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.started = False

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> Cluster:
        try:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "b24", "-E", "UTF8", "--locale=C",
                      "--no-sync")
            options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
            self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w",
                      "-t", "60", "start")
        except subprocess.CalledProcessError as exc:
            self.stop()
            raise Unavailable(f"PostgreSQL tests skipped: the test server did not start ({exc.stderr.strip()[:300]})"
                              ) from None
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://b24@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(_counter)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)
