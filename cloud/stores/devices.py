"""The device registry the technicians read: every gateway, when it was last heard, its health.

Rows come from :meth:`EventStore.put` (status, heartbeats, and the time of any event
a device sent). ``last_seen`` is the device's own event time; ``received`` is when
the store last got something from it, by the cloud's clock, which is what
"stale" is judged on (a gateway with a wrong clock is still seen to be alive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from cloud.stores.db import Database, Row
from cloud.stores.times import from_ns, now_ns, opt_from_ns

Health = Literal["ok", "stale", "offline", "unknown"]
HEALTHS: Final = ("ok", "stale", "offline", "unknown")
_COLUMNS = ("site, device, first_seen_ns, last_seen_ns, received_ns, state, state_ns,"
            " agent_version, config_version, heartbeat_ns, uptime_s, fps, inference_ms,"
            " queue_depth, dropped, disk_used_bytes, source_state, source_reconnects,"
            " dropped_events, ack_ns, ack_result, ack_version, ack_problems")


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One gateway as the registry knows it."""

    site: str
    device: str
    first_seen: datetime
    last_seen: datetime
    received: datetime
    state: str | None
    state_at: datetime | None
    agent_version: str | None
    config_version: str | None
    heartbeat_at: datetime | None
    uptime_s: float | None
    fps: float | None
    inference_ms: float | None
    queue_depth: int | None
    dropped: int | None
    disk_used_bytes: int | None
    health: Health
    source_state: str | None = None
    source_reconnects: int | None = None
    #: events the device's full queue dropped
    dropped_events: int | None = None
    #: the device's answer to the last config pushed to it
    config_ack_at: datetime | None = None
    config_ack_result: str | None = None
    config_ack_version: str | None = None
    config_ack_problems: tuple[str, ...] = ()


def _record(r: Row, stale_ns: int, now: int) -> DeviceRecord:
    state = r[5]
    health: Health = ("offline" if state == "offline" else
                      "stale" if now - int(r[4]) > stale_ns else
                      "ok" if state == "online" or r[9] is not None else "unknown")
    return DeviceRecord(r[0], r[1], from_ns(r[2]), from_ns(r[3]), from_ns(r[4]), state,
                        opt_from_ns(r[6]), r[7], r[8], opt_from_ns(r[9]), r[10], r[11], r[12],
                        r[13], r[14], r[15], health, r[16], r[17], r[18], opt_from_ns(r[19]),
                        r[20], r[21], tuple(r[22].split("\n")) if r[22] else ())


class DeviceRegistry:
    """Queries over the ``devices`` table."""

    def __init__(self, db: Database, *, stale_after_s: float = 120.0) -> None:
        self.db = db
        self.stale_after_s = stale_after_s

    def list(self, *, site: str | None = None, health: Health | None = None,
             limit: int = 1000) -> list[DeviceRecord]:
        """Devices by site and name (of one site, of one health when given)."""
        sql = f"SELECT {_COLUMNS} FROM devices"
        args: list[object] = []
        if site is not None:
            sql += " WHERE site = ?"
            args.append(site)
        rows = self.db.query(sql + " ORDER BY site, device", args)
        now, stale = now_ns(), int(self.stale_after_s * 1e9)
        records = [_record(r, stale, now) for r in rows]
        if health is not None:
            records = [d for d in records if d.health == health]
        return records[:limit]

    def get(self, site: str, device: str) -> DeviceRecord | None:
        """One device, or None."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM devices WHERE site = ? AND device = ?",
                             (site, device))
        return _record(rows[0], int(self.stale_after_s * 1e9), now_ns()) if rows else None
