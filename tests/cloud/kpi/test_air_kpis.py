"""VN_AQI indicators over the time-series file: known hourly and daily points, exact numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.kpi.air import AirKpis, AqiPoint
from cloud.stores.times import to_ns
from cloud.stores.timeseries import Point, SqliteTimeSeriesStore

H0 = datetime(2025, 11, 3, 1, 0, tzinfo=UTC)
HOURLY = [40, 50, 51, 101, 160.4, 320]  # good, good, moderate, poor, bad, hazardous


def _points(station: str, values: list[float], measure: str = "vn_aqi_hourly",
            window: str = "3600s", step: timedelta = timedelta(hours=1)) -> list[Point]:
    return [Point(measure, {"site": "hue", "station": station, "window": window},
                  {"value": float(v), "samples": 1}, H0 + i * step)
            for i, v in enumerate(values)]


@pytest.fixture
def air(tmp_path: Path) -> AirKpis:
    store = SqliteTimeSeriesStore(tmp_path / "ts.sqlite")
    store.write([
        *_points("phubai-air", HOURLY),
        *_points("phubai-air", [119], measure="vn_aqi_daily", window="86400s"),
        *_points("hue-air", [30, 30]),
        # a revised hour overwrites its point: it counts once, with the new value
        *_points("hue-air", [45]),
        # sub-indices per pollutant are another measure: never counted
        Point("vn_aqi_hourly_sub", {"site": "hue", "station": "hue-air", "window": "3600s",
                                    "pollutant": "pm25"}, {"value": 400.0}, H0),
    ])
    store.close()
    kpis = AirKpis(tmp_path / "ts.sqlite")
    yield kpis
    kpis.close()


@pytest.mark.parametrize(("lo_h", "hi_h", "station", "hours", "mean", "top", "bands"), [
    (None, None, "phubai-air", 6, 722 / 6, 320,
     {"good": 2, "moderate": 1, "poor": 1, "bad": 1, "very_bad": 0, "hazardous": 1}),
    (None, None, "hue-air", 2, 37.5, 45,
     {"good": 2, "moderate": 0, "poor": 0, "bad": 0, "very_bad": 0, "hazardous": 0}),
    (3, 5, "phubai-air", 2, 130.5, 160,
     {"good": 0, "moderate": 0, "poor": 1, "bad": 1, "very_bad": 0, "hazardous": 0}),
])
def test_hours_per_band_and_summary(air: AirKpis, lo_h: int | None, hi_h: int | None,
                                    station: str, hours: int, mean: float, top: int,
                                    bands: dict[str, int]) -> None:
    lo = None if lo_h is None else to_ns(H0 + timedelta(hours=lo_h))
    hi = None if hi_h is None else to_ns(H0 + timedelta(hours=hi_h))
    got = {s.station: s for s in air.stations(lo, hi)}[station]
    assert (got.hours, got.max, got.hours_per_band) == (hours, top, bands)
    assert got.mean == pytest.approx(mean)


def test_hourly_and_daily_series(air: AirKpis) -> None:
    phubai = {s.station: s for s in air.stations(None, None, max_hourly=2)}["phubai-air"]
    assert phubai.hourly == [
        AqiPoint((H0 + timedelta(hours=4)).isoformat(), 160, "bad"),
        AqiPoint((H0 + timedelta(hours=5)).isoformat(), 320, "hazardous")]
    assert phubai.daily == [AqiPoint(H0.isoformat(), 119, "poor")]


def test_a_file_without_points_has_no_stations(tmp_path: Path) -> None:
    kpis = AirKpis(tmp_path / "empty.sqlite")
    assert kpis.stations(None, None) == []
    kpis.close()
