"""The police watchlist: plates wanted, why, by whom, until when.

The API edits it; the stream polls :meth:`WatchlistStore.version` (one primary-key
read) and reloads :meth:`WatchlistStore.active` when the number moved. The
version lives in the database's ``meta`` table and is bumped in the same
transaction as the change, so every process sharing the file (or the PostgreSQL
database) sees it. By default the watchlist sits in the events file.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

from cloud.stores.db import Database, PostgresDatabase, Row, SqliteDatabase, Tx
from cloud.stores.schema import SCHEMA, WATCHLIST_VERSION
from cloud.stores.times import now_ns, opt_from_ns, to_ns
from ioc.plates import kinds_for, normalise


@dataclass(frozen=True, slots=True)
class WatchlistEntry:
    """One wanted plate."""

    entry_id: str
    plate: str  # normalised with ioc.plates (upper case, no spaces/dots/hyphens)
    reason: str
    owner: str
    expires_at: datetime | None  # tz-aware UTC; None = never


class WatchlistStore(Protocol):
    """What the stream needs of the watchlist."""

    def version(self) -> int:
        """A number that increases on every add, update and delete (cheap to read)."""

    def active(self, now: datetime) -> list[WatchlistEntry]:
        """Entries not expired at ``now``."""

    def close(self) -> None:
        """Release resources."""


class _Unset:
    """Marks an argument that was not given (None means "never expires")."""


UNSET: Final = _Unset()
MAX_TEXT: Final = 500
_COLUMNS = "entry_id, plate, reason, owner, expires_at_ns"


def watch_plate(text: str) -> str:
    """The normalised plate, or ValueError naming what is wrong with it."""
    plate = normalise(text)
    if not plate:
        raise ValueError("plate is empty")
    if not kinds_for(plate):
        raise ValueError(
            f"{text!r} (normalised {plate!r}) is not a Vietnamese plate: expected e.g."
            " 75A12345 (car) or 75B112345 (motorbike), area code then series then serial")
    return plate


def _text(name: str, value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError(f"{name} is empty")
    if len(value) > MAX_TEXT:
        raise ValueError(f"{name} is {len(value)} characters, at most {MAX_TEXT}")
    return value


def _expiry(value: datetime | None) -> int | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"expires_at {value.isoformat()} has no timezone")
    try:
        return to_ns(value)  # (converting to UTC first overflowed near year 1 and 9999)
    except ValueError as exc:
        raise ValueError(f"expires_at {exc}") from exc


def _entry(row: Row) -> WatchlistEntry:
    return WatchlistEntry(row[0], row[1], row[2], row[3], opt_from_ns(row[4]))


def _bump(tx: Tx) -> None:
    tx.run("INSERT INTO meta (key, value) VALUES (?, 1)"
           " ON CONFLICT (key) DO UPDATE SET value = meta.value + 1", (WATCHLIST_VERSION,))


class DbWatchlistStore:
    """The watchlist in a :class:`~cloud.stores.db.Database`, with the API's CRUD."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def version(self) -> int:
        rows = self.db.query("SELECT value FROM meta WHERE key = ?", (WATCHLIST_VERSION,))
        return int(rows[0][0]) if rows else 0

    def active(self, now: datetime) -> list[WatchlistEntry]:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM watchlist WHERE expires_at_ns IS NULL OR expires_at_ns > ?"
            " ORDER BY plate, entry_id", (to_ns(now),))
        return [_entry(r) for r in rows]

    def list(self, *, plate: str | None = None, now: datetime | None = None,
             limit: int = 1000, offset: int = 0) -> list[WatchlistEntry]:
        """Entries (of one plate when given; only active at ``now`` when given), by plate."""
        sql = f"SELECT {_COLUMNS} FROM watchlist WHERE 1 = 1"
        args: list[object] = []
        if plate is not None:
            sql += " AND plate = ?"
            args.append(normalise(plate))
        if now is not None:
            sql += " AND (expires_at_ns IS NULL OR expires_at_ns > ?)"
            args.append(to_ns(now))
        sql += " ORDER BY plate, entry_id LIMIT ? OFFSET ?"
        return [_entry(r) for r in self.db.query(sql, [*args, limit, offset])]

    def get(self, entry_id: str) -> WatchlistEntry | None:
        """One entry, or None."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM watchlist WHERE entry_id = ?", (entry_id,))
        return _entry(rows[0]) if rows else None

    def add(self, plate: str, reason: str, owner: str,
            expires_at: datetime | None = None) -> WatchlistEntry:
        """Add an entry; ValueError names a bad plate, reason, owner or expiry."""
        entry = WatchlistEntry(uuid.uuid4().hex, watch_plate(plate), _text("reason", reason),
                               _text("owner", owner), None)
        expires = _expiry(expires_at)
        now = now_ns()
        with self.db.transaction() as tx:
            tx.run("INSERT INTO watchlist (entry_id, plate, reason, owner, expires_at_ns,"
                   " created_at_ns, updated_at_ns) VALUES (?,?,?,?,?,?,?)",
                   (entry.entry_id, entry.plate, entry.reason, entry.owner, expires, now, now))
            _bump(tx)
        return WatchlistEntry(entry.entry_id, entry.plate, entry.reason, entry.owner,
                              opt_from_ns(expires))

    def update(self, entry_id: str, *, reason: str | None = None, owner: str | None = None,
               expires_at: datetime | _Unset | None = UNSET) -> WatchlistEntry | None:
        """Change reason, owner or expiry (None: never expires); None when there is no entry."""
        sets: list[str] = []
        args: list[object] = []
        if reason is not None:
            sets.append("reason = ?")
            args.append(_text("reason", reason))
        if owner is not None:
            sets.append("owner = ?")
            args.append(_text("owner", owner))
        if not isinstance(expires_at, _Unset):
            sets.append("expires_at_ns = ?")
            args.append(_expiry(expires_at))
        with self.db.transaction() as tx:
            if sets:
                changed = tx.run(
                    f"UPDATE watchlist SET {', '.join(sets)}, updated_at_ns = ?"
                    " WHERE entry_id = ?", [*args, now_ns(), entry_id])
                if changed:
                    _bump(tx)
            rows = tx.execute(f"SELECT {_COLUMNS} FROM watchlist WHERE entry_id = ?", (entry_id,))
        return _entry(rows[0]) if rows else None

    def delete(self, entry_id: str) -> bool:
        """Remove an entry; False when there was none."""
        with self.db.transaction() as tx:
            gone = tx.run("DELETE FROM watchlist WHERE entry_id = ?", (entry_id,)) > 0
            if gone:
                _bump(tx)
        return gone

    def close(self) -> None:
        """Close this thread's connection."""
        self.db.close()


class SqliteWatchlistStore(DbWatchlistStore):
    """The watchlist in a SQLite file (by default the events file)."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(SqliteDatabase(path, SCHEMA))
        self.path = Path(path)


class PostgresWatchlistStore(DbWatchlistStore):
    """The watchlist in PostgreSQL."""

    def __init__(self, dsn: str) -> None:
        super().__init__(PostgresDatabase(dsn, SCHEMA))
