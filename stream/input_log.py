"""A durable input log that makes MQTT replayable for Bytewax recovery.

MQTT cannot replay from an offset, and Bytewax recovery needs exactly that: on
resume, each source partition is handed the resume state it snapshotted at the
last committed epoch and must re-emit everything after it. So every message a
partition receives is first appended to this log (one SQLite file per
partition, WAL, one transaction per batch), *then* acknowledged to the broker
(paho manual ack), then handed to the dataflow. The partition's resume state is
simply the offset of the next message to emit.

- a crash before the append: the message was never acknowledged, the broker's
  persistent session delivers it again;
- a crash after the append: the message is in the log, and the resumed
  partition re-emits it from the snapshotted offset;
- a crash after the broker got the ack but before the append is impossible,
  the ack follows the commit.

Duplicates (a message logged, its ack lost, delivered again) are possible, so
the stream's sinks and state are idempotent by event id: at-least-once in,
exactly-once effect out.

The log is pruned behind the offsets of old snapshots: Bytewax resumes from the
last *committed* epoch, which trails the latest snapshot by a few epochs, so
entries are kept until they are older than ``keep_snapshots`` snapshots *and*
``keep_s`` seconds (both generous; the cost is disk, bounded by the rate).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

Row = tuple[str, bytes, float]  # topic, payload, received_at (epoch seconds)


class InputLog:
    """Append-only log of (topic, payload, received_at) with dense integer offsets."""

    def __init__(self, path: Path, *, keep_snapshots: int = 32, keep_s: float = 300.0) -> None:
        self.path = Path(path)
        self.keep_snapshots = keep_snapshots
        self.keep_s = keep_s
        self._conn: sqlite3.Connection | None = None
        self._next = 0
        self._snapshots: deque[tuple[float, int]] = deque()

    def open(self) -> None:
        """Open (creating if needed) the log file; find its end."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a committed transaction survives a killed process (the OS has it);
        # only a power cut may lose the last transactions, which were then not acked
        # either if the broker connection died with the machine.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS log (offset INTEGER PRIMARY KEY, topic TEXT NOT NULL,"
            " payload BLOB NOT NULL, received_at REAL NOT NULL)"
        )
        last = conn.execute("SELECT max(offset) FROM log").fetchone()[0]
        self._next = 0 if last is None else int(last) + 1
        self._conn = conn

    @property
    def end(self) -> int:
        """The offset the next appended message will get."""
        return self._next

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"input log {self.path} is not open")
        return self._conn

    def append(self, rows: Sequence[Row]) -> int:
        """Append rows durably in one transaction; return the offset of the first."""
        first = self._next
        if not rows:
            return first
        conn = self._db()
        conn.execute("BEGIN")
        try:
            conn.executemany(
                "INSERT INTO log (offset, topic, payload, received_at) VALUES (?,?,?,?)",
                [(first + i, t, p, r) for i, (t, p, r) in enumerate(rows)],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._next = first + len(rows)
        return first

    def read(self, start: int, limit: int) -> list[tuple[int, str, bytes, float]]:
        """Up to ``limit`` entries from offset ``start`` on, in order."""
        rows = self._db().execute(
            "SELECT offset, topic, payload, received_at FROM log WHERE offset >= ?"
            " ORDER BY offset LIMIT ?",
            (start, limit),
        )
        return [(int(o), t, bytes(p), float(r)) for o, t, p, r in rows]

    def first(self) -> int | None:
        """The oldest offset still kept, or None when the log is empty."""
        row = self._db().execute("SELECT min(offset) FROM log").fetchone()[0]
        return None if row is None else int(row)

    def snapshotted(self, offset: int, now: float | None = None) -> int:
        """Note that a snapshot at ``offset`` was taken; prune what no resume can need.

        Returns how many entries were pruned."""
        now = time.time() if now is None else now
        self._snapshots.append((now, offset))
        horizon: int | None = None
        while (len(self._snapshots) > self.keep_snapshots
               and now - self._snapshots[0][0] > self.keep_s):
            horizon = self._snapshots.popleft()[1]
        if horizon is None:
            return 0
        cur = self._db().execute("DELETE FROM log WHERE offset < ?", (horizon,))
        return cur.rowcount

    def close(self) -> None:
        """Close the file."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
