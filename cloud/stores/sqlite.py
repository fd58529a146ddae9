"""One SQLite file shared by threads: a connection per thread, WAL, schema made on first use."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

_INIT_LOCK = threading.Lock()
_INIT_DEADLINE_S = 30.0


class ThreadLocalSqlite:
    """Opens the file lazily (no I/O in constructors), once per thread, with ``schema`` applied."""

    def __init__(self, path: Path | str, schema: Sequence[str]) -> None:
        self.path = Path(path)
        self._schema = tuple(schema)
        self._local = threading.local()

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; callers open their own transactions)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            initialise(conn, self._schema)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def initialise(conn: sqlite3.Connection, schema: Sequence[str]) -> None:
    """WAL and the schema on a new connection. Switching the journal mode does not wait on
    SQLite's busy handler, so first opens in this process take turns and one racing another
    process retries until the deadline."""
    with _INIT_LOCK:
        _initialise(conn, schema)


def _initialise(conn: sqlite3.Connection, schema: Sequence[str]) -> None:
    deadline = time.monotonic() + _INIT_DEADLINE_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for statement in schema:
                conn.execute(statement)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
