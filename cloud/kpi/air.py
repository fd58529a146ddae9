"""VN_AQI indicators over the embedded time-series file: hourly and daily VN_AQI per
station, and the hours spent in each band (Decision 1459/QĐ-TCMT, bands and colours
from :data:`stream.aqi.BANDS`).

The stream writes ``vn_aqi_hourly`` (window 3600 s, stamped with the hour's end) and
``vn_aqi_daily`` (window 86400 s, stamped with the local day's end) as points whose
series is ``site=…,station=…,window=…``; a revised hour overwrites its point, so each
hour counts once. The time-series store is SQLite only (a deployment on InfluxDB
reads these with its own tools), so these queries use SQLite's ``json_extract``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cloud.stores.sqlite import ThreadLocalSqlite
from cloud.stores.times import from_ns
from stream.aqi import BANDS

HOURLY: Final = "vn_aqi_hourly"
DAILY: Final = "vn_aqi_daily"
#: the band of a rounded index, as SQL over the column ``v``
_BAND_SQL: Final = ("CASE " + " ".join(f"WHEN v <= {b.hi} THEN '{b.key}'" for b in BANDS)
                    + " ELSE 'above_scale' END")


@dataclass(frozen=True, slots=True)
class AqiPoint:
    """One hourly or daily VN_AQI value (``ts``: the end of its hour or day, ISO UTC)."""

    ts: str
    aqi: int
    band: str


@dataclass(frozen=True, slots=True)
class StationAqi:
    """VN_AQI of one station over the window."""

    station: str
    hours: int
    mean: float | None
    max: int | None
    hours_per_band: dict[str, int]
    hourly: list[AqiPoint]
    daily: list[AqiPoint]


def _station(series: str) -> str:
    tags = dict(kv.split("=", 1) for kv in series.split(",") if "=" in kv)
    return tags.get("station", series)


def _band(aqi: int) -> str:
    for b in BANDS:
        if aqi <= b.hi:
            return b.key
    return "above_scale"


class AirKpis:
    """The VN_AQI indicators of one time-series file (opened lazily, per thread)."""

    def __init__(self, path: Path | str) -> None:
        self._db = ThreadLocalSqlite(path, ())

    def _window(self, lo: int | None, hi: int | None) -> tuple[str, list[object]]:
        sql, args = "", []
        if lo is not None:
            sql += " AND ts_ns >= ?"
            args.append(lo)
        if hi is not None:
            sql += " AND ts_ns < ?"
            args.append(hi)
        return sql, args

    def _has_points(self) -> bool:
        row = self._db.conn().execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'points'"
        ).fetchone()
        return bool(row[0])

    def stations(self, lo: int | None, hi: int | None, *,
                 max_hourly: int = 168) -> list[StationAqi]:
        """Per station: hours, mean and max hourly index, hours per band, the newest
        ``max_hourly`` hourly values and every daily value in the window."""
        if not self._has_points():
            return []
        conn = self._db.conn()
        where, args = self._window(lo, hi)
        value = "CAST(round(json_extract(fields, '$.value')) AS INTEGER)"
        summary = {
            _station(s): (int(n), float(mean) if mean is not None else None,
                          int(top) if top is not None else None)
            for s, n, mean, top in conn.execute(
                f"SELECT series, count(*), avg({value}), max({value}) FROM points"
                f" WHERE measurement = ?{where} GROUP BY series", [HOURLY, *args])}
        bands: dict[str, dict[str, int]] = {}
        for s, band, n in conn.execute(
                f"SELECT series, {_BAND_SQL} AS band, count(*) FROM (SELECT series,"
                f" {value} AS v FROM points WHERE measurement = ?{where}) x"
                " GROUP BY series, band", [HOURLY, *args]):
            bands.setdefault(_station(s), {}).__setitem__(band, int(n))
        series: dict[str, dict[str, list[AqiPoint]]] = {}
        for measure in (HOURLY, DAILY):
            for s, ts, v in conn.execute(
                    f"SELECT series, ts_ns, {value} FROM points WHERE measurement = ?{where}"
                    " ORDER BY series, ts_ns", [measure, *args]):
                point = AqiPoint(from_ns(ts).isoformat(), int(v), _band(int(v)))
                series.setdefault(_station(s), {}).setdefault(measure, []).append(point)
        out = []
        for station in sorted(set(summary) | set(series)):
            n, mean, top = summary.get(station, (0, None, None))
            per_band = {b.key: bands.get(station, {}).get(b.key, 0) for b in BANDS}
            hourly = series.get(station, {}).get(HOURLY, [])
            out.append(StationAqi(station, n, mean, top, per_band, hourly[-max_hourly:],
                                  series.get(station, {}).get(DAILY, [])))
        return out

    def close(self) -> None:
        """Close this thread's connection."""
        self._db.close()
