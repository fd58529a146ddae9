"""Time-series store: the small interface the stream writes points through, and its
embedded default, a single SQLite file (no server to run).

A point's identity is (measurement, tags, time): writing the same point twice leaves
one point with the last fields, so replays after a crash change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from cloud.stores.sqlite import ThreadLocalSqlite
from cloud.stores.times import from_ns, to_ns


@dataclass(frozen=True, slots=True)
class Point:
    """One point of one series: ``measurement`` + ``tags`` name the series."""

    measurement: str
    tags: Mapping[str, str]
    fields: Mapping[str, float | int | str | bool]
    ts: datetime
    series: str = field(init=False)

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ValueError(f"point {self.measurement} has a naive timestamp {self.ts}")
        if not self.fields:
            raise ValueError(f"point {self.measurement} at {self.ts} has no fields")
        object.__setattr__(
            self, "series", ",".join(f"{k}={v}" for k, v in sorted(self.tags.items()))
        )

    @property
    def ts_ns(self) -> int:
        """Time in integer nanoseconds since the epoch (exact for microsecond datetimes)."""
        return to_ns(self.ts)


class TimeSeriesStore(Protocol):
    """What the stream needs of a time-series store."""

    def write(self, points: Sequence[Point]) -> None:
        """Write points idempotently (upsert by identity)."""

    def close(self) -> None:
        """Flush and release resources."""


class SqliteTimeSeriesStore:
    """The embedded default: one SQLite file, safe for several writer threads or processes."""

    def __init__(self, path: Path | str) -> None:
        # Key order (measurement, time, series): the stream writes every series' newest
        # point, so a batch lands on the last pages of the tree instead of one page per
        # series (3x cheaper per point in small commits, and a third of the WAL), and a
        # query by measurement and time range is one ordered range scan. Files made with
        # the older key order (measurement, series, time) keep it and work the same.
        self._db = ThreadLocalSqlite(path, [
            "CREATE TABLE IF NOT EXISTS points ("
            " measurement TEXT NOT NULL, series TEXT NOT NULL, ts_ns INTEGER NOT NULL,"
            " fields TEXT NOT NULL, PRIMARY KEY (measurement, ts_ns, series)) WITHOUT ROWID",
        ])
        self.path = self._db.path
        self._conn = self._db.conn

    def write(self, points: Sequence[Point]) -> None:
        """Upsert points in one transaction."""
        if not points:
            return
        self.write_rows([
            (p.measurement, p.series, p.ts_ns, json.dumps(p.fields, separators=(",", ":")))
            for p in points
        ])

    def write_rows(self, rows: Sequence[tuple[str, str, int, str]]) -> None:
        """Upsert ready-made rows ``(measurement, series, ts_ns, fields_json)`` in one
        transaction: the stream's hot path builds them without :class:`Point` objects.
        ``series`` must be ``Point.series`` of the same tags (sorted ``k=v`` joined by ``,``)."""
        if not rows:
            return
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO points (measurement, series, ts_ns, fields) VALUES (?,?,?,?)"
                " ON CONFLICT (measurement, series, ts_ns) DO UPDATE SET fields=excluded.fields",
                rows,
            )

    def query(
        self,
        measurement: str,
        tags: Mapping[str, str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Point]:
        """Points of a measurement whose tags include ``tags``, in time order, start <= ts < end."""
        sql = "SELECT series, ts_ns, fields FROM points WHERE measurement = ?"
        args: list[object] = [measurement]
        if start is not None:
            sql += " AND ts_ns >= ?"
            args.append(to_ns(start))
        if end is not None:
            sql += " AND ts_ns < ?"
            args.append(to_ns(end))
        sql += " ORDER BY ts_ns, series"
        wanted = dict(tags or {})
        out: list[Point] = []
        for series, ts_ns, fields in self._conn().execute(sql, args):
            series_tags = dict(kv.split("=", 1) for kv in series.split(",") if kv)
            if any(series_tags.get(k) != v for k, v in wanted.items()):
                continue
            out.append(Point(measurement, series_tags, json.loads(fields), from_ns(ts_ns)))
        return out

    def count(self, measurements: Iterable[str] | None = None) -> int:
        """Number of points, over all measurements or the given ones."""
        if measurements is None:
            return int(self._conn().execute("SELECT count(*) FROM points").fetchone()[0])
        names = list(measurements)
        marks = ",".join("?" * len(names))
        row = self._conn().execute(
            f"SELECT count(*) FROM points WHERE measurement IN ({marks})", names
        ).fetchone()
        return int(row[0])

    def measurements(self) -> dict[str, int]:
        """Point count per measurement."""
        rows = self._conn().execute(
            "SELECT measurement, count(*) FROM points GROUP BY measurement ORDER BY measurement"
        )
        return {m: int(n) for m, n in rows}

    def close(self) -> None:
        """Close this thread's connection."""
        self._db.close()
