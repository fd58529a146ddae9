"""Retention: personal data is deleted when its time is up.

- Plate reads that hit nothing (no watchlist alert names them) are deleted
  ``plate_reads_days`` after they were read: from ``plate_reads`` and from the
  event log.
- Evidence follows its own period, ``evidence_days``: violations (with their
  images) and the plate reads that did hit the watchlist.

Deletes run in batches, each its own short transaction, so the stream writing
into the same store waits milliseconds, not the length of the whole purge.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from cloud.stores.db import Database
from cloud.stores.evidence import EvidenceStore
from cloud.stores.times import to_ns

logger = logging.getLogger(__name__)

_HIT = "EXISTS (SELECT 1 FROM alert_changes h WHERE h.reading_id = plate_reads.id)"


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """How much one purge deleted."""

    plate_reads: int
    hit_plate_reads: int
    violations: int
    images: int


class Retention:
    """Deletes what is older than its retention period."""

    def __init__(self, db: Database, evidence: EvidenceStore | None, *,
                 plate_reads_days: float, evidence_days: float, batch: int = 5000) -> None:
        if plate_reads_days <= 0 or evidence_days <= 0:
            raise ValueError("retention periods must be positive numbers of days")
        self.db = db
        self.evidence = evidence
        self.plate_reads_days = plate_reads_days
        self.evidence_days = evidence_days
        self.batch = batch

    def _purge_reads(self, cutoff: int, *, hit: bool) -> int:
        cond = _HIT if hit else f"NOT {_HIT}"
        total = 0
        while True:
            with self.db.transaction() as tx:
                ids = [r[0] for r in tx.execute(
                    f"SELECT id FROM plate_reads WHERE ts_ns < ? AND {cond} LIMIT ?",
                    (cutoff, self.batch))]
                if not ids:
                    return total
                marks = ",".join("?" * len(ids))
                tx.run(f"DELETE FROM plate_reads WHERE id IN ({marks})", ids)
                tx.run(f"DELETE FROM events WHERE id IN ({marks})", ids)
            total += len(ids)

    def _purge_violations(self, cutoff: int) -> tuple[int, int]:
        total = images = 0
        while True:
            with self.db.transaction() as tx:
                rows = tx.execute("SELECT id, evidence FROM violations WHERE ts_ns < ? LIMIT ?",
                                  (cutoff, self.batch))
                if not rows:
                    return total, images
                ids = [r[0] for r in rows]
                marks = ",".join("?" * len(ids))
                tx.run(f"DELETE FROM violations WHERE id IN ({marks})", ids)
                tx.run(f"DELETE FROM events WHERE id IN ({marks})", ids)
            total += len(ids)
            if self.evidence is not None:  # after the commit: a failed delete leaves a file,
                for _, evidence in rows:   # never a violation without its images
                    for image in json.loads(evidence):
                        images += self.evidence.delete(image["image_id"])

    def purge(self, now: datetime) -> PurgeResult:
        """Delete everything past its period at ``now``; return how much went."""
        reads_cutoff = to_ns(now - timedelta(days=self.plate_reads_days))
        evidence_cutoff = to_ns(now - timedelta(days=self.evidence_days))
        reads = self._purge_reads(reads_cutoff, hit=False)
        hits = self._purge_reads(evidence_cutoff, hit=True)
        violations, images = self._purge_violations(evidence_cutoff)
        result = PurgeResult(reads, hits, violations, images)
        logger.info("retention purge at %s: %s", now.isoformat(), result)
        return result
