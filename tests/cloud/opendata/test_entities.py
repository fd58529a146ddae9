"""Open-data entities from real stores (SQLite and PostgreSQL for events, the time-series
file for air and traffic): each validated against its Smart Data Models schema (the
keyValues form) and the NGSI-LD shape (the normalized form); nothing personal leaks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from cloud.opendata import ngsi, queries
from cloud.stores.bundle import CloudStores
from cloud.stores.times import to_ns
from cloud.stores.timeseries import Point, SqliteTimeSeriesStore
from ioc.contract import EvidenceImage, VehicleClass, Violation, ViolationType

SCHEMAS = Path(ngsi.__file__).with_name("schemas")
T0 = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)
PLACES = {"kimlong": (16.4637, 107.558, "Kim Long (Hương)"),
          "phubai-air": (16.401, 107.703, "Phú Bài air station"),
          "hungvuong-e": (16.4616, 107.5983, "Hùng Vương × Bà Triệu")}


def _registry() -> Registry:
    resources = []
    for path in SCHEMAS.glob("*.json"):
        doc = json.loads(path.read_text())
        resources.append((path.name, Resource.from_contents(doc)))
        resources.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources)


REGISTRY = _registry()


def validate(entity: dict[str, Any]) -> None:
    """The normalized entity has the NGSI-LD shape and its keyValues form its model's."""
    shape = json.loads((SCHEMAS / "ngsi-ld-entity.json").read_text())
    jsonschema.Draft202012Validator(shape, registry=REGISTRY,
                                    format_checker=jsonschema.FormatChecker()).validate(entity)
    model = json.loads((SCHEMAS / f"{entity['type']}.json").read_text())
    jsonschema.Draft202012Validator(model, registry=REGISTRY,
                                    format_checker=jsonschema.FormatChecker()).validate(
        ngsi.key_values(entity))
    assert entity["id"].startswith(f"urn:ngsi-ld:{entity['type']}:hue:")


@pytest.mark.parametrize("kind", ngsi.TYPES)
def test_the_schemas_are_valid_json_schemas(kind: str) -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads((SCHEMAS / f"{kind}.json").read_text()))


@pytest.mark.parametrize(("entity", "problem"), [
    ({"type": "Alert", "category": "flood", "dateIssued": "2025-11-03T08:00:00Z",
      "alertSource": "x"}, "'flood' is not one of"),
    ({"id": "urn:ngsi-ld:AirQualityObserved:hue:x", "type": "AirQualityObserved",
      "dateObserved": "2025-11-03T08:00:00Z"}, "'location' is a required property"),
    ({"id": "urn:ngsi-ld:TrafficFlowObserved:hue:x", "type": "TrafficFlowObserved",
      "intensity": -1}, "-1 is less than the minimum of 0"),
    ({"id": "urn:ngsi-ld:TrafficViolation:hue:x", "type": "TrafficViolation",
      "paymentStatus": "Maybe"}, "'Maybe' is not one of"),
])
def test_the_schemas_refuse_what_the_models_refuse(entity: dict[str, Any], problem: str) -> None:
    model = json.loads((SCHEMAS / f"{entity['type']}.json").read_text())
    with pytest.raises(jsonschema.ValidationError, match=problem):
        jsonschema.Draft202012Validator(model, registry=REGISTRY).validate(entity)


def test_alerts_are_published_without_police_or_device_alerts(stores: CloudStores, make) -> None:
    stores.events.put([
        make.alert("a1-r", "a1", "raised", T0, severity="medium", level=1),
        make.alert("a1-c", "a1", "cleared", T0 + timedelta(hours=5), severity="informational"),
        make.alert("a2-r", "a2", "raised", T0, subcategory="no_data", station="nowhere"),
        make.alert("p1-r", "p1", "raised", T0, audience="police", category="security",
                   subcategory="watchlist", plate="75A12345", station=None),
        make.alert("d1-r", "d1", "raised", T0, audience="technician", station=None),
    ])
    page = queries.alerts(stores.db, PLACES.get, lo=None, hi=None, limit=10, offset=0)
    assert [e["id"] for e in page] == ["urn:ngsi-ld:Alert:hue:a1", "urn:ngsi-ld:Alert:hue:a2"]
    for e in page:
        validate(e)
    flood = ngsi.key_values(page[0])
    assert flood["subCategory"] == "flood"
    assert flood["location"] == {"type": "Point", "coordinates": [107.558, 16.4637]}
    assert flood["validTo"] == "2025-11-03T13:00:00Z"
    assert page[0]["severity"] == {"type": "Property", "value": "informational",
                                   "observedAt": "2025-11-03T13:00:00Z"}
    assert "subCategory" not in page[1]  # no_data has no word in the model's vocabulary
    assert "location" not in page[1]  # a station the map does not know
    assert page[1]["data"]["value"]["subcategory"] == "no_data"
    assert "75A12345" not in json.dumps(page)
    second = queries.alerts(stores.db, PLACES.get, lo=None, hi=None, limit=1, offset=1)
    assert [e["id"] for e in second] == ["urn:ngsi-ld:Alert:hue:a2"]


def test_violations_carry_nothing_personal(stores: CloudStores) -> None:
    def violation(i: int, kind: str, at: datetime) -> Violation:
        return Violation(id=f"v{i}", site="hue", device="cam-hungvuong-01", ts=at,
                         camera="hungvuong-e", track_id=40 + i, violation=ViolationType(kind),
                         vehicle_class=VehicleClass.CAR, plate=f"75A1234{i}",
                         plate_color="white", location="Hùng Vương × Bà Triệu, Huế",
                         evidence=[EvidenceImage(image_id=f"img{i}", role="at", taken_at=at,
                                                 sha256="a" * 64)])
    stores.events.put([violation(1, "red_light", T0), violation(2, "speeding", T0 + timedelta(1)),
                       violation(3, "wrong_way", T0 + timedelta(2))])
    stores.violations.review("v2", "rejected", reviewer="officer")
    page = queries.violations(stores.db, PLACES.get, lo=None, hi=None, limit=10, offset=0)
    assert [e["id"] for e in page] == ["urn:ngsi-ld:TrafficViolation:hue:v1",
                                       "urn:ngsi-ld:TrafficViolation:hue:v3"]
    for e in page:
        validate(e)
    text = json.dumps(page, ensure_ascii=False)
    for personal in ("75A1234", "img1", "white", "track", "mediaURL", "car"):
        assert personal not in text, personal
    kv = ngsi.key_values(page[0])
    assert (kv["titleCode"], kv["equipmentId"], kv["observationDateTime"]) == (
        "red_light", "hungvuong-e", "2025-11-03T08:00:00Z")
    windowed = queries.violations(stores.db, PLACES.get, lo=to_ns(T0 + timedelta(hours=1)),
                                  hi=None, limit=10, offset=0)
    assert [e["id"] for e in windowed] == ["urn:ngsi-ld:TrafficViolation:hue:v3"]


@pytest.fixture
def series(tmp_path: Path) -> queries.SeriesReader:
    store = SqliteTimeSeriesStore(tmp_path / "ts.sqlite")
    hour = T0 + timedelta(hours=1)
    minute = T0 + timedelta(minutes=1)
    tags = {"site": "hue", "station": "phubai-air", "window": "3600s"}
    cam = {"site": "hue", "station": "hungvuong-e", "window": "60s"}
    store.write([
        Point("vn_aqi_hourly", tags, {"value": 158.0, "samples": 4}, hour),
        Point("vn_aqi_hourly", {**tags, "station": "unplaced"}, {"value": 20.0}, hour),
        *[Point("mean_1h", {**tags, "pollutant": p}, {"value": v}, hour)
          for p, v in (("pm25", 71.2), ("pm10", 96.0), ("co", 1200.0))],
        Point("flow", {**cam, "lane": "lane-1"}, {"value": 420.0}, minute),
        Point("flow", {**cam, "lane": "lane-moto"}, {"value": 900.0}, minute),
        Point("vehicle_count", {**cam, "lane": "lane-1", "vehicle_class": "car"}, {"value": 4.0},
              minute),
        Point("vehicle_count", {**cam, "lane": "lane-1", "vehicle_class": "motorbike"},
              {"value": 3.0}, minute),
        Point("vehicle_count", {**cam, "lane": "lane-moto", "vehicle_class": "motorbike"},
              {"value": 15.0}, minute),
        Point("mean_speed", {**cam, "lane": "lane-1"}, {"value": 31.25}, minute),
        Point("congestion_index", {**cam, "lane": "lane-1"}, {"value": 0.2}, minute),
        Point("congestion_index", {**cam, "lane": "lane-moto"}, {"value": 0.75}, minute),
    ])
    store.close()
    reader = queries.SeriesReader(tmp_path / "ts.sqlite")
    yield reader
    reader.close()


def test_air_quality_per_station_and_hour(series: queries.SeriesReader) -> None:
    page = series.air_quality(PLACES.get, {"phubai-air": "aqi-phubai-01"}, lo=None, hi=None,
                              limit=10, offset=0)
    assert [e["id"] for e in page] == ["urn:ngsi-ld:AirQualityObserved:hue:phubai-air:"
                                       "20251103T0900Z"]
    validate(page[0])
    kv = ngsi.key_values(page[0])
    assert (kv["airQualityIndex"], kv["airQualityLevel"], kv["pm25"], kv["pm10"], kv["co"]) == (
        158, "bad", 71.2, 96.0, 1200.0)
    assert kv["refDevice"] == "urn:ngsi-ld:Device:hue:aqi-phubai-01"
    assert page[0]["pm25"]["unitCode"] == "GQ"
    assert page[0]["pm25"]["observedAt"] == "2025-11-03T09:00:00Z"


def test_traffic_flow_per_camera_lane_and_minute(series: queries.SeriesReader) -> None:
    page = series.traffic_flow(PLACES.get, {}, lo=None, hi=None, limit=10, offset=0)
    assert len(page) == 2
    for e in page:
        validate(e)
    lane1, moto = (ngsi.key_values(e) for e in page)
    assert (lane1["laneId"], lane1["intensity"], lane1["averageVehicleSpeed"],
            lane1["congested"]) == (1, 7, 31.25, False)
    assert lane1["dateObserved"] == "2025-11-03T08:00:00Z/2025-11-03T08:01:00Z"
    assert "laneId" not in moto
    assert (moto["intensity"], moto["congested"], moto["name"]) == (
        15, True, "Hùng Vương × Bà Triệu: lane-moto")
    assert series.traffic_flow(PLACES.get, {}, lo=None, hi=None, limit=1, offset=1) == [page[1]]
