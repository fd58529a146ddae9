"""The event store's tables, one schema for SQLite and PostgreSQL.

``events`` keeps every stored event whole (its JSON body), as the walking skeleton
did. Beside it, :meth:`EventStore.put` fills dedicated, indexed tables in the same
transaction, so the API never decodes bodies to answer a query:

- ``plate_reads``: one row per read, indexed by normalised plate and time (exact,
  one-character-off and prefix searches are index look-ups or ranges);
- ``violations`` with their review;
- ``alert_changes`` (every state change, by stored sequence, for the live stream
  and the notifier) and ``alert_state`` (one row per alert: its latest change and
  what operators did, as the sequence number they acted at);
- ``devices``: the registry built from status and heartbeats.

The API's own tables sit in the same database: ``watchlist``, ``operator_actions``,
``audit_log``, ``deliveries`` and ``notify_cursor``. Times are integer nanoseconds
since the epoch (``*_ns``). ``{blob}``, ``{serial}``, ``{ctext}``, ``{real}`` are
filled per engine by :func:`cloud.stores.db.render`.
"""

from __future__ import annotations

from typing import Final

SCHEMA: Final[tuple[str, ...]] = (
    # -- the walking skeleton's event log (kept as it was)
    "CREATE TABLE IF NOT EXISTS events ("
    " id TEXT PRIMARY KEY, kind TEXT NOT NULL, site TEXT NOT NULL,"
    " device TEXT NOT NULL, ts_ns BIGINT NOT NULL, subject TEXT,"
    " stored_seq BIGINT NOT NULL, body {blob} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_kind_ts ON events (kind, ts_ns)",
    # ``subject`` is written but never searched: its index (stores before 2026-11-24 had
    # one) cost every stored event a random-key B-tree insert, some 5 us an alert change
    "DROP INDEX IF EXISTS events_subject",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    # -- plate reads
    "CREATE TABLE IF NOT EXISTS plate_reads ("
    " id TEXT PRIMARY KEY, plate {ctext} NOT NULL, ts_ns BIGINT NOT NULL,"
    " site TEXT NOT NULL, device TEXT NOT NULL, camera TEXT NOT NULL,"
    " track_id BIGINT NOT NULL, raw_text TEXT NOT NULL, layout TEXT NOT NULL,"
    " plate_color TEXT NOT NULL, vehicle_class TEXT NOT NULL, confidence {real} NOT NULL,"
    " valid INTEGER NOT NULL, lane TEXT)",
    "CREATE INDEX IF NOT EXISTS plate_reads_plate_ts ON plate_reads (plate, ts_ns)",
    "CREATE INDEX IF NOT EXISTS plate_reads_ts ON plate_reads (ts_ns)",
    # -- violations and their review
    "CREATE TABLE IF NOT EXISTS violations ("
    " id TEXT PRIMARY KEY, ts_ns BIGINT NOT NULL, site TEXT NOT NULL, device TEXT NOT NULL,"
    " camera TEXT NOT NULL, track_id BIGINT NOT NULL, violation TEXT NOT NULL,"
    " vehicle_class TEXT NOT NULL, plate TEXT, plate_color TEXT, location TEXT NOT NULL,"
    " rule TEXT NOT NULL, evidence TEXT NOT NULL, review TEXT NOT NULL DEFAULT 'pending',"
    " reviewed_by TEXT, reviewed_at_ns BIGINT, review_note TEXT)",
    "CREATE INDEX IF NOT EXISTS violations_review_ts ON violations (review, ts_ns)",
    "CREATE INDEX IF NOT EXISTS violations_ts ON violations (ts_ns)",
    # -- alerts: every change, and the state of each alert
    "CREATE TABLE IF NOT EXISTS alert_changes ("
    " id TEXT PRIMARY KEY, stored_seq BIGINT NOT NULL, alert_id TEXT NOT NULL,"
    " ts_ns BIGINT NOT NULL, status TEXT NOT NULL, category TEXT NOT NULL,"
    " subcategory TEXT NOT NULL, severity TEXT NOT NULL, audience TEXT NOT NULL,"
    " station TEXT, plate TEXT, reading_id TEXT, body {blob} NOT NULL,"
    " stored_ns BIGINT NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS alert_changes_seq ON alert_changes (stored_seq)",
    "CREATE INDEX IF NOT EXISTS alert_changes_alert ON alert_changes (alert_id, stored_seq)",
    "CREATE INDEX IF NOT EXISTS alert_changes_reading ON alert_changes (reading_id)",
    "CREATE INDEX IF NOT EXISTS alert_changes_sub ON alert_changes (subcategory, stored_seq)",
    "CREATE TABLE IF NOT EXISTS alert_state ("
    " alert_id TEXT PRIMARY KEY, site TEXT NOT NULL, device TEXT NOT NULL,"
    " category TEXT NOT NULL, subcategory TEXT NOT NULL, severity TEXT NOT NULL,"
    " audience TEXT NOT NULL, station TEXT, plate TEXT, status TEXT NOT NULL,"
    " level INTEGER NOT NULL, description TEXT NOT NULL, since_ns BIGINT NOT NULL,"
    " last_ts_ns BIGINT NOT NULL, last_seq BIGINT NOT NULL, last_change_id TEXT NOT NULL,"
    " changes INTEGER NOT NULL DEFAULT 1,"
    " ack_by TEXT, ack_at_ns BIGINT, ack_seq BIGINT,"
    " assignee TEXT, assigned_by TEXT, assigned_at_ns BIGINT,"
    " closed_by TEXT, closed_at_ns BIGINT, closed_seq BIGINT)",
    "CREATE INDEX IF NOT EXISTS alert_state_last ON alert_state (last_seq)",
    "CREATE TABLE IF NOT EXISTS operator_actions ("
    " seq {serial}, alert_id TEXT NOT NULL, action TEXT NOT NULL, actor TEXT NOT NULL,"
    " role TEXT NOT NULL, at_ns BIGINT NOT NULL, at_seq BIGINT NOT NULL,"
    " assignee TEXT, note TEXT)",
    "CREATE INDEX IF NOT EXISTS operator_actions_alert ON operator_actions (alert_id, seq)",
    # -- device registry
    "CREATE TABLE IF NOT EXISTS devices ("
    " site TEXT NOT NULL, device TEXT NOT NULL, first_seen_ns BIGINT NOT NULL,"
    " last_seen_ns BIGINT NOT NULL, received_ns BIGINT NOT NULL,"
    " state TEXT, state_ns BIGINT, agent_version TEXT, config_version TEXT, config_ns BIGINT,"
    " heartbeat_ns BIGINT, uptime_s {real}, fps {real}, inference_ms {real},"
    " queue_depth BIGINT, dropped BIGINT, disk_used_bytes BIGINT,"
    " source_state TEXT, source_reconnects BIGINT, dropped_events BIGINT,"
    " ack_ns BIGINT, ack_result TEXT, ack_version TEXT, ack_problems TEXT,"
    " PRIMARY KEY (site, device))",
    # -- watchlist, audit, notifications
    "CREATE TABLE IF NOT EXISTS watchlist ("
    " entry_id TEXT PRIMARY KEY, plate {ctext} NOT NULL, reason TEXT NOT NULL,"
    " owner TEXT NOT NULL, expires_at_ns BIGINT, created_at_ns BIGINT NOT NULL,"
    " updated_at_ns BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS watchlist_plate ON watchlist (plate)",
    "CREATE TABLE IF NOT EXISTS audit_log ("
    " seq {serial}, at_ns BIGINT NOT NULL, actor TEXT NOT NULL, role TEXT NOT NULL,"
    " action TEXT NOT NULL, target TEXT NOT NULL, result_count BIGINT)",
    "CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at_ns)",
    "CREATE INDEX IF NOT EXISTS audit_log_actor ON audit_log (actor, at_ns)",
    "CREATE TABLE IF NOT EXISTS deliveries ("
    " notifier TEXT NOT NULL, change_id TEXT NOT NULL, alert_id TEXT NOT NULL,"
    " stored_seq BIGINT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " next_at_ns BIGINT NOT NULL, last_error TEXT, delivered_at_ns BIGINT,"
    " created_at_ns BIGINT NOT NULL, PRIMARY KEY (notifier, change_id))",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at_ns)",
    "CREATE TABLE IF NOT EXISTS notify_cursor (notifier TEXT PRIMARY KEY, seq BIGINT NOT NULL)",
)

#: ``meta`` keys
WATCHLIST_VERSION: Final = "watchlist_version"
