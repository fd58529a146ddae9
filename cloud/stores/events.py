"""Event store: alerts, dead letters, plate reads, violations, device status.

The default is one SQLite file; PostgreSQL when a deployment outgrows it. Every
event is stored once by its stable ``id``: a replayed event changes nothing. In
the same transaction, :meth:`DbEventStore.put` fills the dedicated, indexed tables
the API reads (see :mod:`cloud.stores.schema`), so the stream needs to know
nothing but ``put``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from cloud.stores.db import Database, PostgresDatabase, SqliteDatabase, Tx
from cloud.stores.schema import SCHEMA
from cloud.stores.times import now_ns, to_ns
from ioc.contract import (
    KIND_OF,
    Alert,
    AnyEvent,
    ConfigAck,
    DecodeError,
    DeviceStatus,
    Event,
    Heartbeat,
    PlateRead,
    VehicleTrack,
    Violation,
    decode_any,
    encode,
)
from ioc.plates import normalise

_CHUNK = 500
_SEQ_KEY = "stored_seq"


class EventStore(Protocol):
    """What the stream needs of an event store."""

    def put(self, events: Sequence[Event]) -> int:
        """Store events idempotently; return how many were new."""

    def close(self) -> None:
        """Release resources."""


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def next_seq(tx: Tx, count: int) -> int:
    """Reserve ``count`` stored sequence numbers; return the first. Needs the write lock."""
    rows = tx.execute("SELECT value FROM meta WHERE key = ?", (_SEQ_KEY,))
    if rows:
        last = int(rows[0][0])
        tx.run("UPDATE meta SET value = ? WHERE key = ?", (last + count, _SEQ_KEY))
    else:  # a file written before the counter existed: continue after its events
        last = int(tx.execute("SELECT coalesce(max(stored_seq), 0) FROM events")[0][0])
        tx.run("INSERT INTO meta (key, value) VALUES (?, ?)", (_SEQ_KEY, last + count))
    return last + 1


class DbEventStore:
    """Events in a :class:`~cloud.stores.db.Database`, keyed by their id."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ----------------------------------------------------------------- writing

    def put(self, events: Sequence[Event]) -> int:
        """Insert events not seen before, in one transaction; return how many were new."""
        if not events:
            return 0
        with self.db.transaction(serial=True) as tx:
            ids = list(dict.fromkeys(e.id for e in events))
            seen: set[str] = set()
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                seen.update(r[0] for r in tx.execute(
                    f"SELECT id FROM events WHERE id IN ({marks})", chunk))
            new: list[Event] = []
            for e in events:
                if e.id not in seen:
                    seen.add(e.id)
                    new.append(e)
            if not new:
                return 0
            first = next_seq(tx, len(new))
            bodies = [encode(e) for e in new]
            tx.many(
                "INSERT INTO events (id, kind, site, device, ts_ns, subject, stored_seq, body)"
                " VALUES (?,?,?,?,?,?,?,?)",
                [(e.id, KIND_OF[type(e)], e.site, e.device, to_ns(e.ts),
                  e.alert_id if isinstance(e, Alert) else None, first + i, bodies[i])
                 for i, e in enumerate(new)],
            )
            self._index(tx, new, first, bodies)
            return len(new)

    def _index(self, tx: Tx, new: list[Event], first: int, bodies: list[bytes]) -> None:
        """Fill the dedicated tables from the events that were new."""
        plates = [e for e in new if isinstance(e, PlateRead)]
        tx.many(
            "INSERT INTO plate_reads (id, plate, ts_ns, site, device, camera, track_id, raw_text,"
            " layout, plate_color, vehicle_class, confidence, valid, lane)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(e.id, normalise(e.plate), to_ns(e.ts), e.site, e.device, e.camera, e.track_id,
              e.raw_text, e.layout, e.plate_color, e.vehicle_class.value, e.confidence,
              int(e.valid), e.lane) for e in plates],
        )
        tx.many(
            "INSERT INTO violations (id, ts_ns, site, device, camera, track_id, violation,"
            " vehicle_class, plate, plate_color, location, rule, evidence)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [(e.id, to_ns(e.ts), e.site, e.device, e.camera, e.track_id, e.violation.value,
              e.vehicle_class.value, normalise(e.plate) if e.plate else None, e.plate_color,
              e.location, json.dumps(e.rule, sort_keys=True),
              json.dumps([{"image_id": i.image_id, "role": i.role,
                           "taken_at": i.taken_at.isoformat(), "sha256": i.sha256}
                          for i in e.evidence]))
             for e in new if isinstance(e, Violation)],
        )
        alerts = [(e, first + i, bodies[i]) for i, e in enumerate(new) if isinstance(e, Alert)]
        if alerts:
            _put_alerts(tx, alerts, now_ns())
        _put_devices(tx, new)


    # ----------------------------------------------------------------- reading

    def list(self, kind: str, *, limit: int | None = None) -> list[AnyEvent]:
        """Events of a kind in the order they were stored."""
        sql = "SELECT kind, body FROM events WHERE kind = ? ORDER BY stored_seq"
        args: list[object] = [kind]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        out: list[AnyEvent] = []
        for k, body in self.db.query(sql, args):
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
        rows = self.db.query("SELECT kind, count(*) FROM events GROUP BY kind")
        return {k: int(n) for k, n in rows}

    def close(self) -> None:
        """Close this thread's connection."""
        self.db.close()


def _put_alerts(tx: Tx, alerts: list[tuple[Alert, int, bytes]], stored_ns: int) -> None:
    """Every change in ``alert_changes`` (with when the cloud stored it, by its own clock:
    what reaction times are measured from), and each alert's latest state in
    ``alert_state`` (one statement per table for the whole batch, rows in the order
    given)."""
    changes = []
    states = []
    for a, seq, body in alerts:
        plate = normalise(a.plate) if a.plate else None
        ts_ns = to_ns(a.ts)
        changes.append((a.id, seq, a.alert_id, ts_ns, a.status.value, a.category,
                        a.subcategory, a.severity.value, a.audience, a.station, plate,
                        a.reading_id, body, stored_ns))
        states.append((a.alert_id, a.site, a.device, a.category, a.subcategory,
                       a.severity.value, a.audience, a.station, plate, a.status.value,
                       a.level, a.description, to_ns(a.since), ts_ns, seq, a.id))
    tx.many(
        "INSERT INTO alert_changes (id, stored_seq, alert_id, ts_ns, status, category,"
        " subcategory, severity, audience, station, plate, reading_id, body, stored_ns)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        changes,
    )
    # An older change that arrives late is kept in alert_changes but does not
    # overwrite the newer state (ties go to the one stored last).
    tx.many(
        "INSERT INTO alert_state (alert_id, site, device, category, subcategory, severity,"
        " audience, station, plate, status, level, description, since_ns, last_ts_ns, last_seq,"
        " last_change_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (alert_id) DO UPDATE SET severity = excluded.severity,"
        " status = excluded.status, level = excluded.level, description = excluded.description,"
        " station = excluded.station, plate = excluded.plate, since_ns = excluded.since_ns,"
        " last_ts_ns = excluded.last_ts_ns, last_seq = excluded.last_seq,"
        " last_change_id = excluded.last_change_id"
        " WHERE excluded.last_ts_ns >= alert_state.last_ts_ns",
        states,
    )


_DEVICE_EVENTS = (PlateRead, VehicleTrack, Violation, DeviceStatus, Heartbeat, ConfigAck)


def _put_devices(tx: Tx, new: list[Event]) -> None:
    """Registry rows: first/last seen from any device event, state and health by time order."""
    span: dict[tuple[str, str], tuple[int, int]] = {}
    for e in new:
        if isinstance(e, _DEVICE_EVENTS):
            ts = to_ns(e.ts)
            lo, hi = span.get((e.site, e.device), (ts, ts))
            span[(e.site, e.device)] = (min(lo, ts), max(hi, ts))
    received = now_ns()
    tx.many(
        "INSERT INTO devices (site, device, first_seen_ns, last_seen_ns, received_ns)"
        " VALUES (?,?,?,?,?) ON CONFLICT (site, device) DO UPDATE SET"
        " first_seen_ns = CASE WHEN excluded.first_seen_ns < devices.first_seen_ns"
        "  THEN excluded.first_seen_ns ELSE devices.first_seen_ns END,"
        " last_seen_ns = CASE WHEN excluded.last_seen_ns > devices.last_seen_ns"
        "  THEN excluded.last_seen_ns ELSE devices.last_seen_ns END,"
        " received_ns = excluded.received_ns",
        [(site, device, lo, hi, received) for (site, device), (lo, hi) in span.items()],
    )
    for e in new:
        ts = to_ns(e.ts) if isinstance(e, DeviceStatus | Heartbeat) else 0
        if isinstance(e, DeviceStatus):
            tx.run("UPDATE devices SET state = ?, state_ns = ?, agent_version = ?"
                   " WHERE site = ? AND device = ? AND (state_ns IS NULL OR state_ns <= ?)",
                   (e.state, ts, e.agent_version, e.site, e.device, ts))
        elif isinstance(e, Heartbeat):
            tx.run("UPDATE devices SET heartbeat_ns = ?, uptime_s = ?, fps = ?, inference_ms = ?,"
                   " queue_depth = ?, dropped = ?, disk_used_bytes = ?, source_state = ?,"
                   " source_reconnects = ?, dropped_events = ?"
                   " WHERE site = ? AND device = ? AND (heartbeat_ns IS NULL OR heartbeat_ns <= ?)",
                   (ts, e.uptime_s, e.fps, e.inference_ms, e.queue_depth, e.dropped,
                    e.disk_used_bytes, e.source_state, e.source_reconnects, e.dropped_events,
                    e.site, e.device, ts))
        elif isinstance(e, ConfigAck):
            ts = to_ns(e.ts)
            tx.run("UPDATE devices SET ack_ns = ?, ack_result = ?, ack_version = ?,"
                   " ack_problems = ?"
                   " WHERE site = ? AND device = ? AND (ack_ns IS NULL OR ack_ns <= ?)",
                   (ts, e.result, e.config_version, "\n".join(e.problems), e.site, e.device,
                    ts))
        if isinstance(e, DeviceStatus | Heartbeat) and e.config_version is not None:
            tx.run("UPDATE devices SET config_version = ?, config_ns = ?"
                   " WHERE site = ? AND device = ? AND (config_ns IS NULL OR config_ns <= ?)",
                   (e.config_version, ts, e.site, e.device, ts))


class SqliteEventStore(DbEventStore):
    """Events in one SQLite file (the embedded default)."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(SqliteDatabase(path, SCHEMA))
        self.path = Path(path)


class PostgresEventStore(DbEventStore):
    """Events in PostgreSQL, named by a libpq connection string."""

    def __init__(self, dsn: str) -> None:
        super().__init__(PostgresDatabase(dsn, SCHEMA))
