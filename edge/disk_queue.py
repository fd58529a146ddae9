"""On-disk store-and-forward queue of a gateway: SQLite in WAL mode, bounded, oldest first.

Every event a gateway publishes is first written here and removed only when the
broker has acknowledged it (QoS 1 PUBACK). A gateway that loses its uplink keeps
queuing; one killed with SIGKILL finds its unsent events again when it restarts
(each ``put`` is a committed transaction; ``synchronous=FULL`` also survives a
power cut at the price of an fsync per event, ``NORMAL`` survives a crash of the
process).

The queue is bounded by message count and by bytes. When a put would exceed a
bound the configured policy decides, and every drop is counted and logged:

- ``drop_oldest``: the oldest queued messages make room (the newest data is the
  most useful to an operator; the default);
- ``drop_newest``: the new message is refused and the backlog kept intact.

One process at a time owns a queue file (an exclusive lock on ``<file>.lock``): two
agents started with the same config would otherwise send and delete each other's
messages.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

logger = logging.getLogger(__name__)


class FullPolicy(StrEnum):
    """What a full queue does with a new message."""

    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"


class QueueError(RuntimeError):
    """The queue file cannot be opened or written (names the file)."""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One message waiting for the broker; ``seq`` orders them, oldest first."""

    seq: int
    topic: str
    payload: bytes
    retain: bool


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL
)
"""


class DiskQueue:
    """A bounded FIFO of MQTT messages in one SQLite file, safe to share between threads.

    ``open()`` creates or reopens the file; the constructor does no I/O.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        max_messages: int = 100_000,
        max_bytes: int = 256 * 1024 * 1024,
        policy: FullPolicy | str = FullPolicy.DROP_OLDEST,
        synchronous: str = "NORMAL",
    ) -> None:
        if max_messages < 1 or max_bytes < 1:
            raise ValueError(f"queue bounds must be positive, got {max_messages}, {max_bytes}")
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be NORMAL or FULL, got {synchronous!r}")
        self.path = Path(path)
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.policy = FullPolicy(policy)
        self.synchronous = synchronous
        self.dropped = 0
        self._db: sqlite3.Connection | None = None
        self._owner_fd: int | None = None
        self._lock = threading.Lock()
        self._count = 0
        self._bytes = 0

    # --- lifecycle -------------------------------------------------------------------

    def open(self) -> DiskQueue:
        """Open (or create) the queue file and count what an earlier run left in it."""
        self._take_ownership()
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            db.execute(_SCHEMA)
            count, size = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox").fetchone()
        except (sqlite3.Error, OSError) as exc:
            self._release_ownership()
            raise QueueError(f"{self.path}: cannot open the disk queue: {exc}") from exc
        self._db, self._count, self._bytes = db, int(count), int(size)
        if count:
            logger.info("disk queue %s: %d messages (%d bytes) left from an earlier run",
                        self.path, count, size)
        return self

    def _take_ownership(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise QueueError(f"{self.path}: cannot open the disk queue: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise QueueError(f"{self.path}: the disk queue is in use by another process "
                             f"(is another agent running with this config?)") from exc
        self._owner_fd = fd

    def _release_ownership(self) -> None:
        if self._owner_fd is not None:
            os.close(self._owner_fd)  # closing the descriptor releases the lock
            self._owner_fd = None

    @property
    def is_open(self) -> bool:
        return self._db is not None

    def close(self) -> None:
        """Close the file (queued messages stay on disk for the next run)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            self._release_ownership()

    def __enter__(self) -> DiskQueue:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise QueueError(f"{self.path}: disk queue not open: call open() first")
        return self._db

    # --- queue operations ------------------------------------------------------------

    def put(self, topic: str, payload: bytes, retain: bool = False) -> bool:
        """Append one message (committed before returning); False when the policy refused it."""
        size = len(payload) + len(topic)
        if size > self.max_bytes:
            self._count_drop(1, "message larger than the whole queue")
            return False
        with self._lock:
            db = self._conn()
            full = self._count + 1 > self.max_messages or self._bytes + size > self.max_bytes
            if full and self.policy is FullPolicy.DROP_NEWEST:
                self._count_drop(1, "queue full, policy drop_newest")
                return False
            try:
                db.execute("BEGIN IMMEDIATE")
                if full:
                    self._evict_oldest(db, size)
                db.execute("INSERT INTO outbox (topic, payload, retain, size) VALUES (?, ?, ?, ?)",
                           (topic, payload, int(retain), size))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise QueueError(f"{self.path}: cannot write the disk queue: {exc}") from exc
            self._count += 1
            self._bytes += size
        return True

    def _evict_oldest(self, db: sqlite3.Connection, incoming: int) -> None:
        evicted = 0
        while self._count and (self._count + 1 > self.max_messages
                               or self._bytes + incoming > self.max_bytes):
            rows = db.execute("SELECT seq, size FROM outbox ORDER BY seq LIMIT 64").fetchall()
            for seq, size in rows:
                if not (self._count + 1 > self.max_messages
                        or self._bytes + incoming > self.max_bytes):
                    break
                db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
                self._count -= 1
                self._bytes -= size
                evicted += 1
        self._count_drop(evicted, "queue full, policy drop_oldest")

    def _count_drop(self, n: int, why: str) -> None:
        if n <= 0:
            return
        before = self.dropped
        self.dropped += n
        if before == 0 or before // 1000 != self.dropped // 1000:
            logger.warning("disk queue %s: %s; %d messages dropped so far", self.path, why,
                           self.dropped)

    def peek(self, after_seq: int = 0, limit: int = 100) -> list[QueuedMessage]:
        """Up to ``limit`` oldest messages with ``seq > after_seq``, oldest first."""
        with self._lock:
            rows = self._conn().execute(
                "SELECT seq, topic, payload, retain FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [QueuedMessage(int(s), str(t), bytes(p), bool(r)) for s, t, p, r in rows]

    def ack(self, seqs: list[int]) -> int:
        """Remove delivered messages; returns how many were still there."""
        if not seqs:
            return 0
        with self._lock:
            db = self._conn()
            removed = 0
            db.execute("BEGIN IMMEDIATE")
            try:
                for i in range(0, len(seqs), 500):
                    chunk = seqs[i : i + 500]
                    marks = ",".join("?" * len(chunk))
                    size = db.execute(f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox "
                                      f"WHERE seq IN ({marks})", chunk).fetchone()
                    db.execute(f"DELETE FROM outbox WHERE seq IN ({marks})", chunk)
                    removed += int(size[0])
                    self._bytes -= int(size[1])
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                raise QueueError(f"{self.path}: cannot update the disk queue: {exc}") from exc
            self._count -= removed
        return removed

    # --- health ----------------------------------------------------------------------

    def __len__(self) -> int:
        return self._count

    @property
    def bytes_queued(self) -> int:
        """Bytes of topic + payload waiting."""
        return self._bytes

    def disk_bytes(self) -> int:
        """Size of the queue's files on disk (database, WAL and shared memory)."""
        total = 0
        for suffix in ("", "-wal", "-shm"):
            p = self.path.with_name(self.path.name + suffix)
            if p.exists():
                total += p.stat().st_size
        return total
