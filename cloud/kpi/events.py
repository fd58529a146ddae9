"""Indicators over the event database: violations, plate reads, watchlist latency,
device uptime, alerts and how fast operators act on them.

Definitions (they are what ``GET /api/v1/kpi`` documents):

- *Violations per day by type*: violations whose event time falls in the window,
  grouped by local day (``utc_offset_hours``, Hue +07:00) and type. A violation is
  *handled automatically* when the camera read its plate and sent at least one
  evidence image: the case file is complete without anyone looking for the vehicle.
- *Plate-read rate*, per camera gateway: plate reads / vehicle passes in the window
  (one :class:`~ioc.contract.VehicleTrack` per pass, one read at most per pass), and
  the share of reads that are valid Vietnamese plates.
- *Read to watchlist alert*: for every watchlist alert raised in the window, when the
  cloud stored it (the cloud's clock) minus the event time of the plate read that
  caused it (the camera gateway's clock, NTP-synchronised in a deployment): the whole
  path camera → broker → stream → store, as the police experience it.
- *Uptime*, per device: the window (clipped to ``now``, and starting no earlier than
  the device's first heartbeat ever) is cut into buckets of ``bucket_s`` seconds on
  the epoch grid; uptime = buckets holding at least one heartbeat / buckets. A
  gateway sends a heartbeat every ``heartbeat_s`` (30 s shipped), so with the default
  60 s bucket a running agent fills every bucket; queued heartbeats delivered after
  an outage keep their own times, so uptime measures the agent, not its uplink.
  Camera or sensor: a device whose heartbeats carry ``fps`` is a camera.
- *Alerts by severity*: alerts whose first change falls in the window, by the
  highest severity they reached.
- *Time to acknowledge*: an alert's first ``acknowledge`` action minus when its first
  change was stored. *Time to clear*: the earlier of when the stream's ``cleared``
  change was stored and an operator's ``clear`` action, minus the same. All on the
  cloud's clock, so they hold when a scenario replays a past date too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median
from typing import Final

from cloud.stores.db import Database

DAY_NS: Final = 86_400 * 10**9
_EPOCH_DAY: Final = date(1970, 1, 1)
SEVERITIES: Final = ("informational", "low", "medium", "high", "critical")
_RANK_SQL: Final = ("CASE severity " + " ".join(f"WHEN '{s}' THEN {i}"
                                               for i, s in enumerate(SEVERITIES)) + " END")


@dataclass(frozen=True, slots=True)
class ViolationDay:
    """Violations of one type on one local day."""

    day: date
    violation: str
    count: int
    automatic: int


@dataclass(frozen=True, slots=True)
class PlateRate:
    """Plate reading at one camera gateway."""

    site: str
    device: str
    passes: int
    reads: int
    valid_reads: int

    @property
    def rate(self) -> float | None:
        """Reads per pass (None without passes)."""
        return self.reads / self.passes if self.passes else None

    @property
    def valid_share(self) -> float | None:
        """Valid plates among the reads (None without reads)."""
        return self.valid_reads / self.reads if self.reads else None


@dataclass(frozen=True, slots=True)
class Durations:
    """Summary of a set of durations in seconds (all None when there are none)."""

    count: int
    mean_s: float | None
    median_s: float | None
    max_s: float | None

    @classmethod
    def of(cls, ns: list[int]) -> Durations:
        """The summary of durations given in nanoseconds."""
        if not ns:
            return cls(0, None, None, None)
        seconds = [n / 1e9 for n in ns]
        return cls(len(seconds), sum(seconds) / len(seconds), float(median(seconds)),
                   max(seconds))


@dataclass(frozen=True, slots=True)
class Uptime:
    """How much of the window one device was heard from (see the module doc)."""

    site: str
    device: str
    kind: str  # camera | sensor
    buckets_up: int
    buckets: int

    @property
    def uptime(self) -> float | None:
        """Share of buckets with a heartbeat (None when the span is empty)."""
        return self.buckets_up / self.buckets if self.buckets else None


@dataclass(frozen=True, slots=True)
class AlertKpis:
    """Alert counts by peak severity and category, and operators' reaction times."""

    by_severity: dict[str, int]
    by_category: dict[str, int]
    acknowledge: Durations
    clear: Durations


def _window(column: str, lo: int | None, hi: int | None) -> tuple[list[str], list[object]]:
    where: list[str] = []
    args: list[object] = []
    if lo is not None:
        where.append(f"{column} >= ?")
        args.append(lo)
    if hi is not None:
        where.append(f"{column} < ?")
        args.append(hi)
    return where, args


def _and(where: list[str]) -> str:
    return " AND ".join(where) if where else "1 = 1"


class EventKpis:
    """The indicators of :mod:`cloud.kpi.events` over one event database."""

    def __init__(self, db: Database, *, utc_offset_hours: float = 7.0) -> None:
        self.db = db
        self.offset_ns = round(utc_offset_hours * 3600) * 10**9

    def violations_per_day(self, lo: int | None, hi: int | None) -> list[ViolationDay]:
        """Violations per local day and type, oldest day first."""
        where, args = _window("ts_ns", lo, hi)
        rows = self.db.query(
            f"SELECT (ts_ns + ?) / {DAY_NS} AS day, violation, count(*),"
            " sum(CASE WHEN plate IS NOT NULL AND evidence <> '[]' THEN 1 ELSE 0 END)"
            f" FROM violations WHERE {_and(where)} GROUP BY 1, 2 ORDER BY 1, 2",
            [self.offset_ns, *args])
        return [ViolationDay(_EPOCH_DAY + timedelta(days=int(d)), v, int(n), int(a))
                for d, v, n, a in rows]

    def plate_reads(self, lo: int | None, hi: int | None) -> list[PlateRate]:
        """Passes and plate reads per camera gateway, by site and device."""
        where, args = _window("ts_ns", lo, hi)
        passes = {(s, d): int(n) for s, d, n in self.db.query(
            f"SELECT site, device, count(*) FROM events WHERE kind = 'vehicle'"
            f" AND {_and(where)} GROUP BY site, device", args)}
        reads = {(s, d): (int(n), int(v)) for s, d, n, v in self.db.query(
            "SELECT site, device, count(*), sum(CASE WHEN valid <> 0 THEN 1 ELSE 0 END)"
            f" FROM plate_reads WHERE {_and(where)} GROUP BY site, device", args)}
        return [PlateRate(s, d, passes.get((s, d), 0), *reads.get((s, d), (0, 0)))
                for s, d in sorted(set(passes) | set(reads))]

    def read_to_watchlist_alert(self, lo: int | None, hi: int | None) -> Durations:
        """From a plate read to the watchlist alert it raised (see the module doc)."""
        where, args = _window("c.ts_ns", lo, hi)
        rows = self.db.query(
            "SELECT c.stored_ns - r.ts_ns FROM alert_changes c JOIN plate_reads r"
            " ON r.id = c.reading_id WHERE c.subcategory = 'watchlist' AND c.status = 'raised'"
            f" AND {_and(where)}", args)
        return Durations.of([int(d) for (d,) in rows])

    def uptime(self, lo: int | None, hi: int | None, *, now_ns: int,
               bucket_s: int = 60) -> list[Uptime]:
        """Uptime of every registered device (see the module doc). Two grouped queries,
        whatever the number of devices: a device has no heartbeat before its first, so
        counting buckets from ``lo`` counts them from ``max(lo, first)``."""
        bucket = bucket_s * 10**9
        end = now_ns if hi is None else min(hi, now_ns)
        first = {(s, d): int(t) for s, d, t in self.db.query(
            "SELECT site, device, min(ts_ns) FROM events WHERE kind = 'heartbeat'"
            " GROUP BY site, device")}
        where, args = _window("ts_ns", lo, end)
        up = {(s, d): int(n) for s, d, n in self.db.query(
            "SELECT site, device, count(DISTINCT ts_ns / ?) FROM events"
            f" WHERE kind = 'heartbeat' AND {_and(where)} GROUP BY site, device",
            [bucket, *args])}
        out: list[Uptime] = []
        for site, device, kind in self.db.query(
                "SELECT site, device, CASE WHEN fps IS NULL THEN 'sensor' ELSE 'camera' END"
                " FROM devices ORDER BY site, device"):
            start = first.get((site, device))
            if start is not None and lo is not None:
                start = max(lo, start)
            if start is None or start >= end:
                out.append(Uptime(site, device, kind, 0, 0))
                continue
            buckets = (end - 1) // bucket - start // bucket + 1
            out.append(Uptime(site, device, kind, up.get((site, device), 0), int(buckets)))
        return out

    def alerts(self, lo: int | None, hi: int | None,
               audiences: tuple[str, ...]) -> AlertKpis:
        """Alert counts and reaction times for alerts first seen in the window."""
        marks = ",".join("?" * len(audiences))
        having, hargs = _window("min(ts_ns)", lo, hi)
        rows = self.db.query(
            f"SELECT peak, category, count(*) FROM (SELECT alert_id, max({_RANK_SQL}) AS peak,"
            " max(category) AS category FROM alert_changes"
            f" WHERE audience IN ({marks}) GROUP BY alert_id HAVING {_and(having)}) x"
            " GROUP BY peak, category", [*audiences, *hargs])
        by_severity = dict.fromkeys(SEVERITIES, 0)
        by_category: dict[str, int] = {}
        for peak, category, n in rows:
            by_severity[SEVERITIES[int(peak)]] += int(n)
            by_category[category] = by_category.get(category, 0) + int(n)
        first = ("SELECT alert_id, min(stored_ns) AS first_ns FROM alert_changes"
                 f" WHERE audience IN ({marks}) GROUP BY alert_id HAVING {_and(having)}")
        ack = self.db.query(
            f"SELECT min(a.at_ns) - f.first_ns FROM operator_actions a JOIN ({first}) f"
            " ON f.alert_id = a.alert_id WHERE a.action = 'acknowledge'"
            " GROUP BY a.alert_id, f.first_ns", [*audiences, *hargs])
        clear = self.db.query(
            f"SELECT min(x.t) - f.first_ns FROM ({first}) f JOIN ("
            " SELECT alert_id, stored_ns AS t FROM alert_changes WHERE status = 'cleared'"
            " UNION ALL SELECT alert_id, at_ns AS t FROM operator_actions"
            " WHERE action = 'clear') x ON x.alert_id = f.alert_id"
            " GROUP BY f.alert_id, f.first_ns", [*audiences, *hargs])
        return AlertKpis(by_severity, dict(sorted(by_category.items())),
                         Durations.of([int(d) for (d,) in ack]),
                         Durations.of([int(d) for (d,) in clear]))
