"""Traffic officers (review, evidence package), technicians (registry), operators (stations)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import httpx
import pytest

from cloud.stores.bundle import CloudStores
from cloud.stores.timeseries import Point

JPEG = b"\xff\xd8\xff\xe0" + b"red light evidence" * 10
PNG = b"\x89PNG\r\n\x1a\n" + b"plate crop" * 10


@pytest.fixture
def violation(api_stores: CloudStores, make) -> str:
    api_stores.evidence.put("img-at", JPEG)
    api_stores.evidence.put("img-plate", PNG)
    api_stores.events.put([make.violation(
        "v1", images=[("img-at", hashlib.sha256(JPEG).hexdigest()),
                      ("img-plate", hashlib.sha256(PNG).hexdigest())])])
    return "v1"


def test_review_then_export(client: httpx.Client, as_role, violation: str) -> None:
    officer = as_role.headers("traffic_officer")
    listed = client.get("/api/v1/violations", headers=officer, params={"review": "pending"})
    item = listed.json()["items"][0]
    assert (item["id"], item["plate"], item["plate_hidden"]) == ("v1", None, True)
    assert [e["stored"] for e in item["evidence"]] == [True, True]
    assert client.get("/api/v1/violations/v1", headers=as_role.headers("admin")).json()[
        "plate"] == "75A12345"
    early = client.get("/api/v1/violations/v1/package", headers=officer)
    assert early.status_code == 409
    assert "is pending" in early.json()["message"]
    image = client.get("/api/v1/violations/v1/images/img-at", headers=officer)
    assert (image.headers["content-type"], image.content) == ("image/jpeg", JPEG)
    reviewed = client.post("/api/v1/violations/v1/review", headers=officer,
                           json={"decision": "confirmed", "note": "clear red phase"}).json()
    assert (reviewed["review"], reviewed["reviewed_by"]) == (
        "confirmed", as_role.users["traffic_officer"])
    twice = client.post("/api/v1/violations/v1/review", headers=officer,
                        json={"decision": "rejected"})
    assert twice.status_code == 409
    assert "already confirmed by traffic-officer-1" in twice.json()["message"]
    package = client.get("/api/v1/violations/v1/package", headers=officer)
    assert package.status_code == 200
    assert package.headers["content-type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(package.content))
    manifest = json.loads(z.read("manifest.json"))
    # what the law asks for in the case file (vietnam.md §4)
    assert manifest["occurred_at_local"] == "2025-11-03T15:00:00+07:00"
    assert manifest["location"] == "Lê Lợi × Hùng Vương, Huế"
    assert (manifest["plate"], manifest["plate_display"], manifest["plate_color"]) == (
        "75A12345", "75A-123.45", "white")
    assert (manifest["vehicle_class"], manifest["violation"]) == ("car", "red_light")
    assert manifest["review"]["by"] == as_role.users["traffic_officer"]
    assert [(i["file"], i["sha256"]) for i in manifest["images"]] == [
        ("images/01-at.jpg", hashlib.sha256(JPEG).hexdigest()),
        ("images/02-at.png", hashlib.sha256(PNG).hexdigest())]
    assert z.read("images/01-at.jpg") == JPEG
    sums = dict(reversed(line.split("  ")) for line in z.read("SHA256SUMS").decode().splitlines())
    assert sums["manifest.json"] == hashlib.sha256(z.read("manifest.json")).hexdigest()
    audit = client.get("/api/v1/audit", headers=as_role.headers("admin"),
                       params={"action": "violations.export"}).json()["items"]
    assert audit[0]["target"] == {"violation_id": "v1", "plate": "75A12345"}


def test_export_refuses_missing_or_tampered_images(client: httpx.Client, as_role,
                                                   api_stores: CloudStores, violation: str) -> None:
    officer = as_role.headers("traffic_officer")
    client.post("/api/v1/violations/v1/review", headers=officer, json={"decision": "confirmed"})
    api_stores.evidence.put("img-plate", PNG + b"edited")
    tampered = client.get("/api/v1/violations/v1/package", headers=officer)
    assert tampered.status_code == 409
    assert "does not match its hash" in tampered.json()["message"]
    api_stores.evidence.delete("img-plate")
    missing = client.get("/api/v1/violations/v1/package", headers=officer)
    assert missing.status_code == 409
    assert "not in the evidence store" in missing.json()["message"]


def test_device_registry(client: httpx.Client, as_role, api_stores: CloudStores, make) -> None:
    api_stores.events.put([make.status("s1", "camgw-01", "online", config_version="v7"),
                           make.heartbeat("h1", "camgw-01", make.at(1), queue_depth=3),
                           make.status("s2", "sensor-02", "offline")])
    tech = as_role.headers("technician")
    devices = client.get("/api/v1/devices", headers=tech).json()
    assert [(d["device"], d["health"]) for d in devices["items"]] == [
        ("camgw-01", "ok"), ("sensor-02", "offline")]
    one = client.get("/api/v1/devices/hue/camgw-01", headers=tech).json()
    assert (one["config_version"], one["queue_depth"], one["state"]) == ("v7", 3, "online")
    assert one["last_seen"] == "2025-11-03T08:01:00Z"
    offline = client.get("/api/v1/devices", headers=tech, params={"health": "offline"}).json()
    assert [d["device"] for d in offline["items"]] == ["sensor-02"]


def test_station_series(client: httpx.Client, as_role, api_stores: CloudStores, make) -> None:
    assert api_stores.timeseries is not None
    api_stores.timeseries.write(
        [Point("water_level", {"site": "hue", "station": "kimlong", "device": "kl"},
               {"value": 1.0 + i / 10}, make.at(i * 10)) for i in range(6)]
        + [Point("rain_total", {"site": "hue", "station": "kimlong", "window": "3600s"},
                 {"value": 12.5, "samples": 6}, make.at(60))])
    op = as_role.headers("flood_operator")
    levels = client.get("/api/v1/stations/kimlong/readings", headers=op,
                        params={"quantity": "water_level", "since": "2025-11-03T08:10:00Z",
                                "limit": 3}).json()
    assert (levels["unit"], levels["count"], levels["truncated"]) == ("m", 3, True)
    assert [p["value"] for p in levels["points"]] == [1.3, 1.4, 1.5]
    assert (levels["min"], levels["max"], levels["last"]["value"]) == (1.3, 1.5, 1.5)
    rain = client.get("/api/v1/stations/kimlong/aggregates", headers=op,
                      params={"measure": "rain_total", "window_s": 3600}).json()
    assert [(p["value"], p["samples"]) for p in rain["points"]] == [(12.5, 6)]
    none = client.get("/api/v1/stations/kimlong/aggregates", headers=op,
                      params={"measure": "rain_total", "window_s": 60}).json()
    assert (none["count"], none["mean"]) == (0, None)


def test_retention_endpoint_purges_and_is_audited(client: httpx.Client, as_role,
                                                  api_stores: CloudStores, make) -> None:
    api_stores.events.put([make.plate("ancient", "75A12345")])  # 2025: past 30 days
    result = client.post("/api/v1/retention/purge", headers=as_role.headers("admin")).json()
    assert result == {"plate_reads": 1, "hit_plate_reads": 0, "violations": 0, "images": 0}
    assert api_stores.plates.count() == 0
    audit = client.get("/api/v1/audit", headers=as_role.headers("admin"),
                       params={"action": "retention.purge"}).json()["items"]
    assert audit[0]["result_count"] == 1
