"""One small database interface over SQLite (the embedded default) and PostgreSQL.

The stores write their SQL once, with ``?`` placeholders and the few type names
both engines accept; :class:`Database` translates what differs (placeholders,
blob type, identity columns, how a writer takes the store's write lock). Each
thread gets its own connection, opened lazily on first use (no I/O in
constructors), so the API's worker threads and the stream's sink threads share a
store safely. The schema is created on first connection; ``CREATE ... IF NOT
EXISTS`` makes that idempotent across processes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

from cloud.stores.sqlite import initialise

logger = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgres"]
Row = tuple[Any, ...]

_TYPES: dict[Dialect, dict[str, str]] = {
    "sqlite": {
        "blob": "BLOB",
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "ctext": "TEXT",  # SQLite's default collation is already byte order
        "real": "REAL",
    },
    "postgres": {
        "blob": "BYTEA",
        "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "ctext": 'TEXT COLLATE "C"',  # byte order, so a prefix is an index range
        "real": "DOUBLE PRECISION",
    },
}


class DatabaseError(RuntimeError):
    """The database could not be reached or refused a statement; says which and why."""


def render(statement: str, dialect: Dialect) -> str:
    """A schema statement with ``{blob}``, ``{serial}``, ``{ctext}``, ``{real}`` filled in."""
    return statement.format(**_TYPES[dialect])


class Tx(Protocol):
    """One open transaction."""

    def execute(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Run a statement; return its rows (empty for statements without rows)."""

    def run(self, sql: str, args: Sequence[object] = ()) -> int:
        """Run a statement; return how many rows it changed."""

    def many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """Run a statement once per row of arguments."""

    def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """Append rows the fastest way the engine has (PostgreSQL ``COPY``)."""


class Database(Protocol):
    """What a store needs of its database."""

    dialect: Dialect

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        """Run a read-only statement outside any transaction."""

    def transaction(self, *, serial: bool = False) -> Any:
        """Context manager yielding a :class:`Tx`. ``serial``: also hold the store-wide write
        lock, for writers that hand out sequence numbers or check-then-update."""

    def close(self) -> None:
        """Close this thread's connection."""

    def close_all(self) -> None:
        """Close every connection (only when no other thread uses the database any more)."""


class _Conns:
    """A connection per thread, remembered so :meth:`close_all` can close them all."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Any] = []

    def get(self) -> Any:
        return getattr(self._local, "conn", None)

    def put(self, conn: Any) -> None:
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)

    def close(self) -> None:
        conn = self.get()
        if conn is not None:
            self._local.conn = None
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
            conn.close()

    def close_all(self) -> None:
        self._local.conn = None
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except Exception as exc:  # a broken connection counts as closed
                logger.debug("closing a connection failed: %s", exc)


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        return self._conn.execute(sql, tuple(args)).fetchall()

    def run(self, sql: str, args: Sequence[object] = ()) -> int:
        return self._conn.execute(sql, tuple(args)).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            self._conn.executemany(sql, rows)

    def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        marks = ",".join("?" * len(columns))
        self.many(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


class SqliteDatabase:
    """One SQLite file in WAL mode; writers serialise with ``BEGIN IMMEDIATE``."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path | str, schema: Sequence[str]) -> None:
        self.path = Path(path)
        self._schema = tuple(render(s, "sqlite") for s in schema)
        self._conns = _Conns()
        # Writers of this process queue here: SQLite's own busy handler sleeps in steps of
        # up to 100 ms, which under 40 API threads turned every audited query into a tail.
        self._write_lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = self._conns.get()
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                       check_same_thread=False)
                initialise(conn, self._schema)
            except sqlite3.Error as exc:
                raise DatabaseError(f"SQLite file {self.path}: {exc}") from exc
            self._conns.put(conn)
        return conn

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        return self._conn().execute(sql, tuple(args)).fetchall()

    @contextmanager
    def transaction(self, *, serial: bool = False) -> Iterator[Tx]:
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")  # SQLite has one writer at a time: always serial
            try:
                yield _SqliteTx(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        self._conns.close()

    def close_all(self) -> None:
        self._conns.close_all()


def _pg(sql: str) -> str:
    if "%" in sql:  # psycopg would read it as a placeholder; stores pass patterns as arguments
        raise ValueError(f"SQL for PostgreSQL must not contain '%': {sql}")
    return sql.replace("?", "%s")


class _PgTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        cur = self._conn.execute(_pg(sql), tuple(args))
        return cur.fetchall() if cur.description is not None else []

    def run(self, sql: str, args: Sequence[object] = ()) -> int:
        return int(self._conn.execute(_pg(sql), tuple(args)).rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(_pg(sql), rows)

    def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        with self._conn.cursor() as cur, cur.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


# Serial writers take this advisory lock first, so stored sequence numbers are handed out
# in commit order (a reader polling "seq > last" never skips a slow transaction's rows)
# and a check-then-update sees no concurrent change. Other writers (audit, watchlist,
# deliveries) rely on row locks and upserts and run concurrently.
_WRITE_LOCK_KEY = 7_020_605_001
_SCHEMA_LOCK_KEY = 7_020_605_002


class PostgresDatabase:
    """A PostgreSQL database named by a libpq connection string."""

    dialect: Dialect = "postgres"

    def __init__(self, dsn: str, schema: Sequence[str]) -> None:
        self._dsn = dsn
        self._schema = tuple(render(s, "postgres") for s in schema)
        self._conns = _Conns()
        self._schema_done = False
        self._schema_lock = threading.Lock()

    def _conn(self) -> Any:
        conn = self._conns.get()
        if conn is None:
            import psycopg

            try:
                conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                raise DatabaseError(f"PostgreSQL: cannot connect: {exc}".strip()) from exc
            self._ensure_schema(conn)
            self._conns.put(conn)
        return conn

    def _ensure_schema(self, conn: Any) -> None:
        with self._schema_lock:
            if self._schema_done:
                return
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
                for statement in self._schema:
                    conn.execute(statement)
            self._schema_done = True

    def query(self, sql: str, args: Sequence[object] = ()) -> list[Row]:
        cur = self._conn().execute(_pg(sql), tuple(args))
        return cur.fetchall() if cur.description is not None else []

    @contextmanager
    def transaction(self, *, serial: bool = False) -> Iterator[Tx]:
        conn = self._conn()
        with conn.transaction():
            if serial:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK_KEY,))
            yield _PgTx(conn)

    def close(self) -> None:
        self._conns.close()

    def close_all(self) -> None:
        self._conns.close_all()


def open_database(
    backend: Literal["sqlite", "postgres"], *, path: Path | str | None = None,
    dsn: str | None = None, schema: Sequence[str] = (),
) -> SqliteDatabase | PostgresDatabase:
    """The database a config names: a SQLite file or a PostgreSQL connection string."""
    if backend == "sqlite":
        if path is None:
            raise ValueError("the sqlite backend needs a path")
        return SqliteDatabase(path, schema)
    if not dsn:
        raise ValueError("the postgres backend needs a connection string")
    return PostgresDatabase(dsn, schema)
