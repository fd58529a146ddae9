"""``GET /api/v1/kpi`` over real HTTP on SQLite and PostgreSQL: the numbers of known
inputs, the caller's audiences, and bad parameters answered with the API's error shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cloud.stores.bundle import CloudStores
from cloud.stores.timeseries import Point
from ioc.contract import EvidenceImage, VehicleClass, Violation, ViolationType

T0 = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)


def _violation(i: int, plate: str | None) -> Violation:
    return Violation(id=f"v{i}", site="hue", device="camgw-01", ts=T0 + timedelta(minutes=i),
                     camera="cam-01", track_id=i, violation=ViolationType.RED_LIGHT,
                     vehicle_class=VehicleClass.CAR, plate=plate, location="Huế",
                     evidence=[EvidenceImage(image_id=f"i{i}", role="at", taken_at=T0,
                                             sha256="b" * 64)])


def test_kpis_of_known_inputs(api_stores: CloudStores, client: httpx.Client, as_role,
                              make) -> None:
    api_stores.events.put([
        _violation(1, "75A12345"), _violation(2, None), _violation(3, "75A12346"),
        make.alert("a1", "flood-1", "raised", T0, severity="high"),
        make.alert("p1", "hit-1", "raised", T0, audience="police", category="security",
                   subcategory="watchlist", severity="critical", station=None),
    ])
    assert api_stores.timeseries is not None
    api_stores.timeseries.write([
        Point("vn_aqi_hourly", {"site": "hue", "station": "hue-air", "window": "3600s"},
              {"value": v}, T0 + timedelta(hours=i)) for i, v in enumerate([45.0, 120.0])])
    body = client.get("/api/v1/kpi", headers=as_role.headers("flood_operator")).json()
    assert (body["violations"]["total"], body["violations"]["automatic"]) == (3, 2)
    assert body["violations"]["automatic_share"] == pytest.approx(2 / 3)
    assert body["violations"]["days"] == [{"day": "2025-11-03", "violation": "red_light",
                                           "count": 3, "automatic": 2,
                                           "automatic_share": pytest.approx(2 / 3)}]
    # a flood operator counts the operators' alerts only; admin every audience
    assert body["alerts"]["by_severity"]["high"] == 1
    assert body["alerts"]["by_severity"]["critical"] == 0
    admin = client.get("/api/v1/kpi", headers=as_role.headers("admin")).json()
    assert admin["alerts"]["by_severity"]["critical"] == 1
    air = body["air"][0]
    assert (air["station"], air["hours"], air["max"]) == ("hue-air", 2, 120)
    assert air["hours_per_band"]["good"] == 1
    assert air["hours_per_band"]["poor"] == 1
    windowed = client.get("/api/v1/kpi", params={"since": "2025-11-03T08:02:00Z"},
                          headers=as_role.headers("admin")).json()
    assert windowed["violations"]["total"] == 2  # 08:02 and 08:03
    assert windowed["since"] == "2025-11-03T08:02:00Z"


@pytest.mark.parametrize(("params", "where"), [
    ({"since": "yesterday"}, "query.since"),
    ({"since": "2025-11-03T08:00:00"}, "query.since"),
    ({"since": "2025-11-04T00:00:00Z", "until": "2025-11-03T00:00:00Z"}, "query.until"),
    ({"bucket_s": "5"}, "query.bucket_s"),
    ({"bucket_s": "a minute"}, "query.bucket_s"),
])
def test_bad_parameters_are_refused_naming_them(client: httpx.Client, as_role,
                                                params: dict[str, str], where: str) -> None:
    response = client.get("/api/v1/kpi", params=params, headers=as_role.headers("admin"))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["problems"][0]["where"] == where
