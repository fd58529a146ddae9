"""The record of every delivery: one row per (notifier, alert change), never two.

The primary key ``(notifier, change_id)`` is what makes "never twice for the same
alert state change" hold across restarts and replays: a change is enqueued once,
and only a row in ``pending`` whose time has come can be claimed. Claiming moves
it to ``sending`` with a lease; if the process dies mid-send the lease runs out
and the row is tried again (the receiver gets an ``Idempotency-Key`` to
recognise that one case).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from cloud.stores.db import Database
from cloud.stores.times import from_ns, opt_from_ns

State = Literal["pending", "sending", "delivered", "failed"]
STATES: Final = ("pending", "sending", "delivered", "failed")


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notifier's delivery of one alert change."""

    notifier: str
    change_id: str
    alert_id: str
    stored_seq: int
    state: State
    attempts: int
    next_at: datetime
    last_error: str | None
    delivered_at: datetime | None


_COLUMNS = ("notifier, change_id, alert_id, stored_seq, state, attempts, next_at_ns, last_error,"
            " delivered_at_ns")


class DeliveryLog:
    """Rows of ``deliveries`` and the per-notifier cursor over ``alert_changes``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def cursor(self, notifier: str, *, start_at: int) -> int:
        """The last change seen by ``notifier``; set to ``start_at`` the first time."""
        with self.db.transaction() as tx:
            tx.run("INSERT INTO notify_cursor (notifier, seq) VALUES (?, ?)"
                   " ON CONFLICT (notifier) DO NOTHING", (notifier, start_at))
            return int(tx.execute("SELECT seq FROM notify_cursor WHERE notifier = ?",
                                  (notifier,))[0][0])

    def enqueue(self, notifier: str, changes: Sequence[tuple[str, str, int]], upto: int,
                now_ns: int) -> int:
        """Add deliveries for ``(change_id, alert_id, seq)`` and move the cursor to ``upto``."""
        added = 0
        with self.db.transaction() as tx:
            for change_id, alert_id, seq in changes:
                added += tx.run(
                    "INSERT INTO deliveries (notifier, change_id, alert_id, stored_seq, state,"
                    " attempts, next_at_ns, created_at_ns) VALUES (?,?,?,?, 'pending', 0, ?, ?)"
                    " ON CONFLICT (notifier, change_id) DO NOTHING",
                    (notifier, change_id, alert_id, seq, now_ns, now_ns))
            tx.run("UPDATE notify_cursor SET seq = ? WHERE notifier = ? AND seq < ?",
                   (upto, notifier, upto))
        return added

    def due(self, notifier: str, now_ns: int, limit: int = 100) -> list[tuple[str, int]]:
        """``(change_id, attempts)`` of rows whose time has come (pending, or a lapsed lease)."""
        rows = self.db.query("SELECT change_id, attempts FROM deliveries WHERE notifier = ?"
                             " AND state IN ('pending', 'sending') AND next_at_ns <= ?"
                             " ORDER BY stored_seq LIMIT ?", (notifier, now_ns, limit))
        return [(r[0], int(r[1])) for r in rows]

    def claim(self, notifier: str, change_id: str, now_ns: int, lease_ns: int) -> bool:
        """Take a due row for sending; False when another dispatcher took it first."""
        with self.db.transaction() as tx:
            return tx.run("UPDATE deliveries SET state = 'sending', next_at_ns = ?"
                          " WHERE notifier = ? AND change_id = ?"
                          " AND state IN ('pending', 'sending') AND next_at_ns <= ?",
                          (now_ns + lease_ns, notifier, change_id, now_ns)) == 1

    def delivered(self, notifier: str, change_id: str, now_ns: int) -> None:
        """Record a successful delivery."""
        with self.db.transaction() as tx:
            tx.run("UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,"
                   " delivered_at_ns = ?, last_error = NULL WHERE notifier = ? AND change_id = ?",
                   (now_ns, notifier, change_id))

    def failed(self, notifier: str, change_id: str, error: str, *, next_at_ns: int,
               final: bool) -> None:
        """Record a failed attempt: try again at ``next_at_ns``, or give up when ``final``."""
        with self.db.transaction() as tx:
            tx.run("UPDATE deliveries SET state = ?, attempts = attempts + 1, next_at_ns = ?,"
                   " last_error = ? WHERE notifier = ? AND change_id = ?",
                   ("failed" if final else "pending", next_at_ns, error[:1000], notifier,
                    change_id))

    def list(self, *, notifier: str | None = None, state: State | None = None,
             alert_id: str | None = None, limit: int = 100) -> list[Delivery]:
        """Deliveries, newest change first."""
        where: list[str] = []
        args: list[object] = []
        for column, value in (("notifier", notifier), ("state", state), ("alert_id", alert_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM deliveries{clause}"
                             " ORDER BY stored_seq DESC, notifier LIMIT ?", [*args, limit])
        return [Delivery(r[0], r[1], r[2], int(r[3]), r[4], int(r[5]), from_ns(r[6]), r[7],
                         opt_from_ns(r[8])) for r in rows]
