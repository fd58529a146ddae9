"""A private PostgreSQL cluster on a free loopback port, for tests and benchmarks.

Like :class:`ioc.broker.MosquittoBroker` for MQTT: ``initdb`` a throwaway data
folder, start the server with ``pg_ctl`` listening on 127.0.0.1 only (and a
socket in the folder itself), and remove everything on :meth:`stop`. Durability
is switched off (``fsync=off``): this cluster holds nothing worth keeping.

``initdb`` refuses to run as root; as root the cluster runs as the ``postgres``
user (Debian's package creates it), or ``nobody`` when that is missing, in a
folder that user owns.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from ioc.broker import free_port

logger = logging.getLogger(__name__)


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server programs are not installed, or the cluster did not start."""


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (Debian keeps them off PATH)."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
            return user
        except KeyError:
            continue
    raise PostgresUnavailable("running as root, and neither a postgres nor a nobody user exists")


class PostgresCluster:
    """A throwaway PostgreSQL server; :meth:`create_database` hands out empty databases."""

    superuser = "ioc"
    host = "127.0.0.1"

    def __init__(self, *, port: int | None = None) -> None:
        self.port = port or 0
        self.folder: Path | None = None
        self._bin: Path | None = None
        self._user: str | None = None

    def _cmd(self, *args: str) -> list[str]:
        assert self._bin is not None
        cmd = [str(self._bin / args[0]), *args[1:]]
        return ["runuser", "-u", self._user, "--", *cmd] if self._user else cmd

    def start(self) -> None:
        """initdb and start; PostgresUnavailable says what is missing or what failed."""
        self._bin = find_pg_bin()
        if self._bin is None:
            raise PostgresUnavailable(
                "PostgreSQL server programs (initdb, pg_ctl) not found on PATH or in"
                " /usr/lib/postgresql/*/bin: install them (Debian: apt-get install postgresql)")
        self._user = _run_as()
        self.folder = Path(tempfile.mkdtemp(prefix="ioc-pg-"))
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        data = self.folder / "data"
        self.port = self.port or free_port(self.host)
        self._check(self._cmd("initdb", "-D", str(data), "-U", self.superuser, "-A", "trust",
                              "-E", "UTF8", "--locale=C", "--no-sync"), "initdb")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses={self.host}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                   " -c max_connections=200")
        self._check(self._cmd("pg_ctl", "-D", str(data), "-l", str(self.folder / "server.log"),
                              "-w", "-t", "60", "-o", options, "start"), "pg_ctl start")
        logger.info("PostgreSQL on %s:%d (data in %s)", self.host, self.port, data)

    def _check(self, cmd: list[str], what: str) -> None:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            log = ""
            if self.folder is not None and (self.folder / "server.log").exists():
                log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise PostgresUnavailable(f"{what} failed ({proc.returncode}): "
                                      f"{proc.stderr.strip() or proc.stdout.strip()}\n{log}")

    def dsn(self, dbname: str = "postgres") -> str:
        """Connection string for one database of this cluster."""
        return f"host={self.host} port={self.port} user={self.superuser} dbname={dbname}"

    def create_database(self) -> str:
        """A new empty database; returns its connection string."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def drop_database(self, dsn: str) -> None:
        """Drop a database made by :meth:`create_database` (closing its sessions)."""
        import psycopg

        name = dsn.rsplit("dbname=", 1)[1]
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        if self.folder is None:
            return
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(self._cmd("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"),
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
