"""Pages of open-data entities read from the stores, oldest first (stable order, so
``offset`` paging is repeatable while the stores only grow).

Alerts and violations come from the event database (SQLite or PostgreSQL), air
quality and traffic flow from the embedded time-series file. Each function returns
normalized entities (:mod:`cloud.opendata.ngsi`); entities the map cannot place
(no coordinates for their station or camera) are still listed where the model does
not require a location (Alert, TrafficViolation) and left out where it does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud.kpi.air import HOURLY
from cloud.opendata import ngsi
from cloud.stores.alerts import AlertBoard
from cloud.stores.db import Database
from cloud.stores.sqlite import ThreadLocalSqlite
from cloud.stores.times import from_ns
from cloud.stores.violations import ViolationBoard
from stream.aqi import band_of

Locate = Callable[[str], ngsi.Location | None]
Entity = dict[str, Any]


def _tags(series: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in series.split(",") if "=" in kv)


def _window(column: str, lo: int | None, hi: int | None) -> tuple[str, list[object]]:
    sql, args = "", []
    if lo is not None:
        sql += f" AND {column} >= ?"
        args.append(lo)
    if hi is not None:
        sql += f" AND {column} < ?"
        args.append(hi)
    return sql, args


def alerts(db: Database, locate: Locate, *, lo: int | None, hi: int | None,
           limit: int, offset: int) -> list[Entity]:
    """Published alerts (see :data:`ngsi.PUBLIC_AUDIENCES`) changed in the window."""
    where, args = _window("s.last_ts_ns", lo, hi)
    marks = ",".join("?" * len(ngsi.PUBLIC_AUDIENCES))
    # in the order the alerts first arrived: stable while alerts change and new ones come
    rows = db.query("SELECT s.alert_id FROM alert_state s WHERE s.audience IN"
                    f" ({marks}){where} ORDER BY (SELECT min(c.stored_seq) FROM alert_changes c"
                    " WHERE c.alert_id = s.alert_id), s.alert_id LIMIT ? OFFSET ?",
                    [*ngsi.PUBLIC_AUDIENCES, *args, limit, offset])
    board = AlertBoard(db)
    out = []
    for (alert_id,) in rows:
        view = board.get(alert_id)
        if view is not None:
            out.append(ngsi.alert(view, locate(view.station) if view.station else None))
    return out


def violations(db: Database, locate: Locate, *, lo: int | None, hi: int | None, limit: int,
               offset: int) -> list[Entity]:
    """Violations not rejected on review, in the window (nothing personal)."""
    where, args = _window("ts_ns", lo, hi)
    rows = db.query(f"SELECT id FROM violations WHERE review <> 'rejected'{where}"
                    " ORDER BY ts_ns, id LIMIT ? OFFSET ?", [*args, limit, offset])
    board = ViolationBoard(db)
    out = []
    for (vid,) in rows:
        record = board.get(vid)
        if record is not None:
            out.append(ngsi.traffic_violation(record, locate(record.camera)))
    return out


class SeriesReader:
    """Open-data pages from the time-series file (opened lazily, per thread)."""

    def __init__(self, path: Path | str) -> None:
        self._db = ThreadLocalSqlite(path, ())

    def _rows(self, sql: str, args: list[object]) -> list[tuple[Any, ...]]:
        conn = self._db.conn()
        exists = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                              " AND name = 'points'").fetchone()[0]
        return conn.execute(sql, args).fetchall() if exists else []

    def _at(self, measure: str, times: list[int]) -> list[tuple[str, int, float]]:
        if not times:
            return []
        marks = ",".join("?" * len(times))
        return [(s, int(t), float(v)) for s, t, v in self._rows(
            "SELECT series, ts_ns, json_extract(fields, '$.value') FROM points"
            f" WHERE measurement = ? AND ts_ns IN ({marks})", [measure, *times])]

    def air_quality(self, locate: Locate, devices: dict[str, str], *, lo: int | None,
                    hi: int | None, limit: int, offset: int) -> list[Entity]:
        """One AirQualityObserved per air station and hour with a VN_AQI."""
        where, args = _window("ts_ns", lo, hi)
        rows = self._rows("SELECT series, ts_ns, json_extract(fields, '$.value') FROM points"
                          f" WHERE measurement = ?{where} ORDER BY ts_ns, series"
                          " LIMIT ? OFFSET ?", [HOURLY, *args, limit, offset])
        means: dict[tuple[str, int], dict[str, float]] = {}
        for s, t, v in self._at("mean_1h", sorted({int(t) for _, t, _ in rows})):
            tags = _tags(s)
            if "pollutant" in tags:
                means.setdefault((tags.get("station", ""), t), {})[tags["pollutant"]] = v
        out = []
        for s, t, v in rows:
            tags = _tags(s)
            site, station = tags.get("site", ""), tags.get("station", "")
            where_ = locate(station)
            if where_ is None:
                continue
            aqi = round(float(v))
            band = band_of(min(aqi, 500)).key
            out.append(ngsi.air_quality(site, station, from_ns(t), aqi, band,
                                        means.get((station, int(t)), {}), where_,
                                        devices.get(station)))
        return out

    def traffic_flow(self, locate: Locate, devices: dict[str, str], *, lo: int | None,
                     hi: int | None, limit: int, offset: int) -> list[Entity]:
        """One TrafficFlowObserved per camera, lane and window with a flow."""
        where, args = _window("ts_ns", lo, hi)
        rows = self._rows("SELECT series, ts_ns FROM points"
                          f" WHERE measurement = 'flow'{where} ORDER BY ts_ns, series"
                          " LIMIT ? OFFSET ?", [*args, limit, offset])
        times = sorted({int(t) for _, t in rows})
        key = lambda tags, t: (tags.get("station", ""), tags.get("lane", ""), t)  # noqa: E731
        counts: dict[tuple[str, str, int], int] = {}
        for s, t, v in self._at("vehicle_count", times):
            k = key(_tags(s), t)
            counts[k] = counts.get(k, 0) + int(v)
        speeds = {key(_tags(s), t): v for s, t, v in self._at("mean_speed", times)}
        index = {key(_tags(s), t): v for s, t, v in self._at("congestion_index", times)}
        out = []
        for s, t in rows:
            tags = _tags(s)
            camera, lane = tags.get("station", ""), tags.get("lane", "")
            where_ = locate(camera)
            if where_ is None:
                continue
            seconds = int(tags.get("window", "60s").rstrip("s") or 60)
            end = from_ns(int(t))
            start = from_ns(int(t) - seconds * 10**9)
            k = (camera, lane, int(t))
            out.append(ngsi.traffic_flow(tags.get("site", ""), camera, lane, start, end,
                                         counts.get(k), speeds.get(k), index.get(k), where_,
                                         devices.get(camera)))
        return out

    def close(self) -> None:
        """Close this thread's connection."""
        self._db.close()


def dumps(entities: list[Entity]) -> bytes:
    """The JSON body of a page (UTF-8, place names as they are written)."""
    return json.dumps(entities, ensure_ascii=False, separators=(",", ":")).encode()
