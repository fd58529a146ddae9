"""``GET /ngsi-ld/v1/entities`` over real HTTP on SQLite and PostgreSQL: no token needed,
paging with a ``Link`` to the next page, both forms, errors in the API's shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cloud.stores.bundle import CloudStores
from ioc.contract import EvidenceImage, VehicleClass, Violation, ViolationType

T0 = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)


def _violations(n: int) -> list[Violation]:
    return [Violation(id=f"v{i:02d}", site="hue", device="cam-hungvuong-01",
                      ts=T0 + timedelta(minutes=i), camera="hungvuong-e", track_id=i,
                      violation=ViolationType.WRONG_WAY, vehicle_class=VehicleClass.MOTORBIKE,
                      plate="75B112345", location="Hùng Vương × Bà Triệu, Huế",
                      evidence=[EvidenceImage(image_id=f"e{i}", role="at", taken_at=T0,
                                              sha256="c" * 64)])
            for i in range(n)]


def test_pages_of_violations_for_anyone(api_stores: CloudStores, client: httpx.Client) -> None:
    api_stores.events.put(_violations(5))
    first = client.get("/ngsi-ld/v1/entities", params={"type": "TrafficViolation", "limit": 2})
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/ld+json"
    assert [e["id"].rsplit(":", 1)[1] for e in first.json()] == ["v00", "v01"]
    link = first.headers["link"]
    assert link.endswith('; rel="next"')
    nxt = client.get(link[1:link.index(">")])
    assert [e["id"].rsplit(":", 1)[1] for e in nxt.json()] == ["v02", "v03"]
    last = client.get("/ngsi-ld/v1/entities",
                      params={"type": "TrafficViolation", "limit": 2, "offset": 4})
    assert len(last.json()) == 1
    assert "link" not in last.headers
    simple = client.get("/ngsi-ld/v1/entities", params={"type": "TrafficViolation",
                                                        "options": "keyValues", "limit": 1})
    entity = simple.json()[0]
    assert entity["titleCode"] == "wrong_way"
    assert entity["location"] == {"type": "Point", "coordinates": [107.5983, 16.4616]}
    assert "75B112345" not in json.dumps(simple.json() + first.json(), ensure_ascii=False)


def test_the_police_see_no_plate_in_open_data_either(api_stores: CloudStores,
                                                     client: httpx.Client, as_role) -> None:
    api_stores.events.put(_violations(1))
    body = client.get("/ngsi-ld/v1/entities", params={"type": "TrafficViolation"},
                      headers=as_role.headers("police")).text
    assert "75B112345" not in body
    assert "e0" not in body


@pytest.mark.parametrize(("params", "where"), [
    ({}, "query.type"),
    ({"type": "Vehicle"}, "query.type"),
    ({"type": "Alert", "limit": "0"}, "query.limit"),
    ({"type": "Alert", "limit": "1001"}, "query.limit"),
    ({"type": "Alert", "offset": "-1"}, "query.offset"),
    ({"type": "Alert", "options": "sysAttrs"}, "query.options"),
    ({"type": "Alert", "since": "2025-11-03T08:00:00"}, "query.since"),
])
def test_bad_queries_are_refused_naming_the_parameter(client: httpx.Client,
                                                      params: dict[str, str],
                                                      where: str) -> None:
    response = client.get("/ngsi-ld/v1/entities", params=params)
    assert response.status_code == 422
    assert response.json()["problems"][0]["where"] == where
