"""Embedded stores: idempotent writes, queries, several writer threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.stores.events import SqliteEventStore
from cloud.stores.timeseries import Point, SqliteTimeSeriesStore
from ioc.contract import DeviceStatus

T0 = datetime(2025, 11, 3, tzinfo=UTC)


def test_points_upsert_by_identity(tmp_path: Path) -> None:
    store = SqliteTimeSeriesStore(tmp_path / "ts.sqlite")
    p = Point("water_level", {"station": "kimlong", "site": "hue"}, {"value": 3.5}, T0)
    store.write([p, p])
    store.write([Point("water_level", {"site": "hue", "station": "kimlong"}, {"value": 3.54}, T0)])
    got = store.query("water_level", {"station": "kimlong"})
    assert [(q.ts, q.fields["value"]) for q in got] == [(T0, 3.54)]  # one point, last value
    assert store.count() == 1
    assert store.measurements() == {"water_level": 1}


def test_query_by_tags_and_time(tmp_path: Path) -> None:
    store = SqliteTimeSeriesStore(tmp_path / "ts.sqlite")
    store.write([Point("rain", {"station": s}, {"value": float(i)}, T0 + timedelta(minutes=i))
                 for i in range(10) for s in ("aluoi", "hue-city")])
    got = store.query("rain", {"station": "aluoi"}, start=T0 + timedelta(minutes=2),
                      end=T0 + timedelta(minutes=5))
    assert [q.fields["value"] for q in got] == [2.0, 3.0, 4.0]
    assert store.count(["rain"]) == 20
    assert store.count(["water_level"]) == 0


def test_points_refuse_naive_time_and_empty_fields() -> None:
    with pytest.raises(ValueError, match="naive"):
        Point("rain", {}, {"value": 1.0}, datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="no fields"):
        Point("rain", {}, {}, T0)


def test_concurrent_writers(tmp_path: Path) -> None:
    store = SqliteTimeSeriesStore(tmp_path / "ts.sqlite")

    def write(worker: int) -> None:
        for i in range(50):
            store.write([Point("rain", {"w": str(worker)}, {"value": 1.0},
                               T0 + timedelta(seconds=i))])
        store.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 200


def test_events_are_stored_once(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "ev.sqlite")
    a = DeviceStatus(id="s1", site="hue", device="cam-01", ts=T0, state="online")
    b = DeviceStatus(id="s2", site="hue", device="cam-01", ts=T0, state="offline")
    assert store.put([a, b]) == 2
    assert store.put([a, b]) == 0
    assert store.list("status") == [a, b]
    assert store.counts() == {"status": 2}
