"""Event store: alerts, dead letters, plate reads, violations, device status.

The default is one SQLite file. Every event is stored once by its stable ``id``
(``INSERT OR IGNORE``): a replayed event changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from cloud.stores.sqlite import ThreadLocalSqlite
from ioc.contract import KIND_OF, Alert, AnyEvent, DecodeError, Event, decode_any, encode


class EventStore(Protocol):
    """What the stream needs of an event store."""

    def put(self, events: Sequence[Event]) -> int:
        """Store events idempotently; return how many were new."""

    def close(self) -> None:
        """Release resources."""


def _ns(ts: datetime) -> int:
    return int(ts.timestamp()) * 1_000_000_000 + ts.microsecond * 1000


class SqliteEventStore:
    """Events in one SQLite file, keyed by their id."""

    def __init__(self, path: Path | str) -> None:
        self._db = ThreadLocalSqlite(path, [
            "CREATE TABLE IF NOT EXISTS events ("
            " id TEXT PRIMARY KEY, kind TEXT NOT NULL, site TEXT NOT NULL,"
            " device TEXT NOT NULL, ts_ns INTEGER NOT NULL, subject TEXT,"
            " stored_seq INTEGER NOT NULL, body BLOB NOT NULL)",
            "CREATE INDEX IF NOT EXISTS events_kind_ts ON events (kind, ts_ns)",
            "CREATE INDEX IF NOT EXISTS events_subject ON events (subject)",
        ])
        self.path = self._db.path
        self._conn = self._db.conn

    def put(self, events: Sequence[Event]) -> int:
        """Insert events not seen before, in one transaction; return how many were new."""
        if not events:
            return 0
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            seq = conn.execute("SELECT coalesce(max(stored_seq), 0) FROM events").fetchone()[0]
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO events"
                " (id, kind, site, device, ts_ns, subject, stored_seq, body)"
                " VALUES (?,?,?,?,?,?,?,?)",
                [
                    (e.id, KIND_OF[type(e)], e.site, e.device, _ns(e.ts),
                     e.alert_id if isinstance(e, Alert) else None, seq + i + 1, encode(e))
                    for i, e in enumerate(events)
                ],
            )
            return conn.total_changes - before

    def list(self, kind: str, *, limit: int | None = None) -> list[AnyEvent]:
        """Events of a kind in the order they were stored."""
        sql = "SELECT kind, body FROM events WHERE kind = ? ORDER BY stored_seq"
        args: list[object] = [kind]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        out: list[AnyEvent] = []
        for k, body in self._conn().execute(sql, args):
            event = decode_any(k, bytes(body))
            if isinstance(event, DecodeError):  # written by an older schema: say so, keep going
                raise ValueError(f"stored {k} event cannot be read: {event.reason}")
            out.append(event)
        return out

    def alerts(self) -> list[Alert]:
        """Every alert state change, in the order it was stored."""
        return [e for e in self.list("alert") if isinstance(e, Alert)]

    def counts(self) -> dict[str, int]:
        """Number of stored events per kind."""
        rows = self._conn().execute("SELECT kind, count(*) FROM events GROUP BY kind")
        return {k: int(n) for k, n in rows}

    def close(self) -> None:
        """Close this thread's connection."""
        self._db.close()
