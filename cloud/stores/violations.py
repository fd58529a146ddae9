"""Traffic violations for review: list, look at, confirm or reject.

Rows come from :meth:`EventStore.put`; a review is written once (confirmed or
rejected, by whom, when, why) and a second review of the same violation is a
conflict, so a decision cannot be silently overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from cloud.stores.db import Database, Row
from cloud.stores.errors import ConflictError, NotFoundError
from cloud.stores.times import from_ns, now_ns, opt_from_ns

Review = Literal["pending", "confirmed", "rejected"]
REVIEWS: Final = ("pending", "confirmed", "rejected")
MAX_LIMIT: Final = 1000
_COLUMNS = ("id, ts_ns, site, device, camera, track_id, violation, vehicle_class, plate,"
            " plate_color, location, rule, evidence, review, reviewed_by, reviewed_at_ns,"
            " review_note")


@dataclass(frozen=True, slots=True)
class ViolationRecord:
    """One violation with its evidence references and its review."""

    id: str
    ts: datetime
    site: str
    device: str
    camera: str
    track_id: int
    violation: str
    vehicle_class: str
    plate: str | None
    plate_color: str | None
    location: str
    rule: dict[str, Any]
    evidence: list[dict[str, str]]
    review: Review
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None


def _record(r: Row) -> ViolationRecord:
    return ViolationRecord(r[0], from_ns(r[1]), r[2], r[3], r[4], int(r[5]), r[6], r[7], r[8],
                           r[9], r[10], json.loads(r[11]), json.loads(r[12]), r[13], r[14],
                           opt_from_ns(r[15]), r[16])


class ViolationBoard:
    """Queries and reviews over the ``violations`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, *, review: Review | None = None, violation: str | None = None,
             camera: str | None = None, since_ns: int | None = None,
             until_ns: int | None = None, limit: int = 100) -> list[ViolationRecord]:
        """Violations, newest first."""
        where: list[str] = []
        args: list[object] = []
        for column, value in (("review", review), ("violation", violation), ("camera", camera)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since_ns is not None:
            where.append("ts_ns >= ?")
            args.append(since_ns)
        if until_ns is not None:
            where.append("ts_ns < ?")
            args.append(until_ns)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM violations{clause}"
                             " ORDER BY ts_ns DESC, id LIMIT ?", [*args, limit])
        return [_record(r) for r in rows]

    def get(self, violation_id: str) -> ViolationRecord | None:
        """One violation, or None."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM violations WHERE id = ?", (violation_id,))
        return _record(rows[0]) if rows else None

    def review(self, violation_id: str, decision: Literal["confirmed", "rejected"], *,
               reviewer: str, note: str | None = None) -> ViolationRecord:
        """Record the review; NotFoundError for an unknown id, ConflictError when reviewed."""
        with self.db.transaction(serial=True) as tx:
            rows = tx.execute("SELECT review, reviewed_by, reviewed_at_ns FROM violations"
                              " WHERE id = ?", (violation_id,))
            if not rows:
                raise NotFoundError(f"no violation {violation_id!r}")
            if rows[0][0] != "pending":
                raise ConflictError(f"violation {violation_id!r} was already {rows[0][0]} by"
                                    f" {rows[0][1]} at {opt_from_ns(rows[0][2])}")
            tx.run("UPDATE violations SET review = ?, reviewed_by = ?, reviewed_at_ns = ?,"
                   " review_note = ? WHERE id = ?",
                   (decision, reviewer, now_ns(), note, violation_id))
            rows = tx.execute(f"SELECT {_COLUMNS} FROM violations WHERE id = ?", (violation_id,))
        return _record(rows[0])
