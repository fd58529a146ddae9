"""The audit log: who asked for personal data or changed the watchlist, when, what, how much.

Written by the API for every plate query (history, hits, watchlist reads, anything
whose answer carries a plate), every watchlist change, alert actions, reviews,
evidence exports and retention purges. Rows are only ever appended.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cloud.stores.db import Database
from cloud.stores.times import from_ns, now_ns

MAX_LIMIT: Final = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited action."""

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    target: dict[str, Any]
    result_count: int | None


class AuditLog:
    """Append and read the ``audit_log`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, *, actor: str, role: str, action: str, target: dict[str, Any],
               result_count: int | None) -> None:
        """Append one entry (``target``: the parameters that say what was asked or changed)."""
        text = json.dumps(target, sort_keys=True, default=str)
        with self.db.transaction() as tx:
            tx.run("INSERT INTO audit_log (at_ns, actor, role, action, target, result_count)"
                   " VALUES (?,?,?,?,?,?)", (now_ns(), actor, role, action, text, result_count))

    def query(self, *, actor: str | None = None, action: str | None = None,
              since_ns: int | None = None, until_ns: int | None = None,
              limit: int = 100) -> list[AuditEntry]:
        """Entries, newest first."""
        where: list[str] = []
        args: list[object] = []
        for column, value in (("actor", actor), ("action", action)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since_ns is not None:
            where.append("at_ns >= ?")
            args.append(since_ns)
        if until_ns is not None:
            where.append("at_ns < ?")
            args.append(until_ns)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.query("SELECT seq, at_ns, actor, role, action, target, result_count"
                             f" FROM audit_log{clause} ORDER BY seq DESC LIMIT ?", [*args, limit])
        return [AuditEntry(int(r[0]), from_ns(r[1]), r[2], r[3], r[4], json.loads(r[5]),
                           None if r[6] is None else int(r[6])) for r in rows]
