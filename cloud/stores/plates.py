"""Plate history: where and when a plate was read.

Three ways to ask, each answered from the ``(plate, ts_ns)`` index without a scan:

- ``exact``: the normalised plate;
- ``one_off``: the plate and every plate one OCR confusion away from it (``0/O/D``,
  ``8/B``, ``1/I/L`` … :data:`ioc.plates.CONFUSION_CLASSES`). The variants are
  generated (a few dozen for a Vietnamese plate) and looked up by index with
  ``IN (…)``, so the cost grows with the number of variants, not of reads;
- ``prefix``: an index range ``plate >= p AND plate < p'`` (``p'`` is ``p`` with its
  last character incremented; byte order in both engines).

Each can be narrowed by a time range ``[since, until)`` and a camera; newest first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from cloud.stores.db import Database, Row
from cloud.stores.times import from_ns, to_ns
from ioc.plates import confusion_variants, normalise

MatchMode = Literal["exact", "one_off", "prefix"]
MATCH_MODES: Final = ("exact", "one_off", "prefix")
MIN_PLATE: Final = 4
MIN_PREFIX: Final = 3
MAX_PLATE: Final = 12
MAX_LIMIT: Final = 1000
_PLATE_CHARS = re.compile(r"^[0-9A-ZĐ]+$")

_COLUMNS = ("r.id, r.plate, r.ts_ns, r.site, r.device, r.camera, r.track_id, r.raw_text,"
            " r.layout, r.plate_color, r.vehicle_class, r.confidence, r.valid, r.lane")
_READ_COLUMNS = ("id", "plate", "ts_ns", "site", "device", "camera", "track_id", "raw_text",
                 "layout", "plate_color", "vehicle_class", "confidence", "valid", "lane")
_HIT = "EXISTS (SELECT 1 FROM alert_changes h WHERE h.reading_id = r.id)"


@dataclass(frozen=True, slots=True)
class PlateHit:
    """One stored plate read, with how far its plate is from the one asked for."""

    id: str
    plate: str
    ts: datetime
    site: str
    device: str
    camera: str
    track_id: int
    raw_text: str
    layout: str
    plate_color: str
    vehicle_class: str
    confidence: float
    valid: bool
    lane: str | None
    match_distance: int
    watchlist_hit: bool


@dataclass(frozen=True, slots=True)
class WatchlistHit:
    """A watchlist alert raised by the stream, with the read that caused it (while kept)."""

    alert_id: str
    change_id: str
    seq: int
    status: str
    ts: datetime
    plate: str | None
    match_distance: int | None
    reading_id: str | None
    description: str
    read: PlateHit | None


def search_plate(text: str, mode: MatchMode) -> str:
    """The normalised search term, or ValueError saying what is wrong with it."""
    if mode not in MATCH_MODES:
        raise ValueError(f"match {mode!r} is not one of {', '.join(MATCH_MODES)}")
    plate = normalise(text)
    shortest = MIN_PREFIX if mode == "prefix" else MIN_PLATE
    if not _PLATE_CHARS.match(plate):
        bad = sorted({c for c in plate if not _PLATE_CHARS.match(c)})
        raise ValueError(f"{text!r} has characters no plate carries: {''.join(bad) or 'none'}"
                         " (letters, digits, Đ; spaces, dots and hyphens are dropped)")
    if not shortest <= len(plate) <= MAX_PLATE:
        raise ValueError(f"{text!r} normalises to {len(plate)} characters; a {mode} search"
                         f" needs {shortest} to {MAX_PLATE}")
    return plate


def time_range(since: datetime | None, until: datetime | None) -> tuple[int | None, int | None]:
    """``[since, until)`` in nanoseconds; ValueError when reversed or without a timezone."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"{name} {value.isoformat()} has no timezone (add Z or +07:00)")
    if since is not None and until is not None and since >= until:
        raise ValueError(f"since {since.isoformat()} is not before until {until.isoformat()}")
    return (None if since is None else to_ns(since)), (None if until is None else to_ns(until))


def _hit(row: Row, asked: str | None) -> PlateHit:
    """A result row; ``asked`` (one_off searches) gives the distance, else it is 0."""
    return PlateHit(
        id=row[0], plate=row[1], ts=from_ns(row[2]), site=row[3], device=row[4], camera=row[5],
        track_id=int(row[6]), raw_text=row[7], layout=row[8], plate_color=row[9],
        vehicle_class=row[10], confidence=float(row[11]), valid=bool(row[12]), lane=row[13],
        match_distance=0 if asked is None else sum(
            a != b for a, b in zip(row[1], asked, strict=True)),
        watchlist_hit=bool(row[14]),
    )


class PlateHistory:
    """Queries over the ``plate_reads`` table that :meth:`EventStore.put` fills."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def search(self, plate: str, *, mode: MatchMode = "exact", since: datetime | None = None,
               until: datetime | None = None, camera: str | None = None,
               limit: int = 100) -> list[PlateHit]:
        """Reads of ``plate`` (see the module doc for ``mode``), newest first."""
        term = search_plate(plate, mode)
        lo, hi = time_range(since, until)
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit {limit} is not between 1 and {MAX_LIMIT}")
        args: list[object]
        if mode == "exact":
            where, args = "r.plate = ?", [term]
        elif mode == "one_off":
            candidates = sorted({term} | confusion_variants(term))
            where, args = f"r.plate IN ({','.join('?' * len(candidates))})", list(candidates)
        else:
            upper = term[:-1] + chr(ord(term[-1]) + 1)
            where, args = "r.plate >= ? AND r.plate < ?", [term, upper]
        if lo is not None:
            where += " AND r.ts_ns >= ?"
            args.append(lo)
        if hi is not None:
            where += " AND r.ts_ns < ?"
            args.append(hi)
        if camera is not None:
            where += " AND r.camera = ?"
            args.append(camera)
        rows = self.db.query(f"SELECT {_COLUMNS}, {_HIT} FROM plate_reads r WHERE {where}"
                             " ORDER BY r.ts_ns DESC, r.id LIMIT ?", [*args, limit])
        return [_hit(r, term if mode == "one_off" else None) for r in rows]

    def get(self, read_id: str) -> PlateHit | None:
        """One read by its event id."""
        rows = self.db.query(f"SELECT {_COLUMNS}, {_HIT} FROM plate_reads r WHERE r.id = ?",
                             (read_id,))
        return _hit(rows[0], None) if rows else None

    def hits(self, *, plate: str | None = None, since_ns: int | None = None,
             until_ns: int | None = None, limit: int = 100) -> list[WatchlistHit]:
        """Watchlist hits (the ``raised`` change of each hit alert), newest first."""
        where = "c.subcategory = 'watchlist' AND c.category = 'security' AND c.status = 'raised'"
        args: list[object] = []
        if plate is not None:
            where += " AND c.plate = ?"
            args.append(normalise(plate))
        if since_ns is not None:
            where += " AND c.ts_ns >= ?"
            args.append(since_ns)
        if until_ns is not None:
            where += " AND c.ts_ns < ?"
            args.append(until_ns)
        rows = self.db.query(
            "SELECT c.alert_id, c.id, c.stored_seq, c.status, c.ts_ns, c.plate, c.reading_id,"
            f" c.body FROM alert_changes c WHERE {where} ORDER BY c.stored_seq DESC LIMIT ?",
            [*args, limit])
        out: list[WatchlistHit] = []
        for alert_id, change_id, seq, status, ts_ns, hit_plate, reading_id, body in rows:
            event = json.loads(bytes(body))
            out.append(WatchlistHit(
                alert_id, change_id, int(seq), status, from_ns(ts_ns), hit_plate,
                event.get("match_distance"), reading_id, event.get("description", ""),
                self.get(reading_id) if reading_id else None))
        return out

    def count(self) -> int:
        """Number of stored reads."""
        return int(self.db.query("SELECT count(*) FROM plate_reads")[0][0])

    def bulk_load(self, rows: Iterable[Sequence[object]], *, batch: int = 100_000) -> int:
        """Append reads fast, without their events (imports and the benchmark).

        ``rows`` are ``(id, plate, ts_ns, site, device, camera, track_id, raw_text, layout,
        plate_color, vehicle_class, confidence, valid, lane)`` with ``plate`` normalised.
        The plate indexes are dropped for the load and built once after it (PostgreSQL
        loads with ``COPY``); searches during the load are slow, so load before serving.
        """
        with self.db.transaction() as tx:
            tx.run("DROP INDEX IF EXISTS plate_reads_plate_ts")
            tx.run("DROP INDEX IF EXISTS plate_reads_ts")
        total = 0
        buffer: list[Sequence[object]] = []
        for row in rows:
            buffer.append(row)
            if len(buffer) >= batch:
                with self.db.transaction() as tx:
                    tx.copy("plate_reads", _READ_COLUMNS, buffer)
                total += len(buffer)
                buffer = []
        if buffer:
            with self.db.transaction() as tx:
                tx.copy("plate_reads", _READ_COLUMNS, buffer)
            total += len(buffer)
        with self.db.transaction() as tx:
            tx.run("CREATE INDEX IF NOT EXISTS plate_reads_plate_ts ON plate_reads (plate, ts_ns)")
            tx.run("CREATE INDEX IF NOT EXISTS plate_reads_ts ON plate_reads (ts_ns)")
            tx.run("ANALYZE plate_reads")
        return total
