"""Operators: alert list and filters, actions with who/when, the live stream (SSE)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx

from cloud.stores.bundle import CloudStores


def test_operator_actions(client: httpx.Client, as_role, api_stores: CloudStores, make) -> None:
    api_stores.events.put([make.alert("c1", "flood-kimlong"),
                           make.alert("c2", "flood-phuoc", station="phuoc")])
    op = as_role.headers("flood_operator")
    listed = client.get("/api/v1/alerts", headers=op, params={"state": "open"}).json()
    assert {a["alert_id"] for a in listed["items"]} == {"flood-kimlong", "flood-phuoc"}
    acked = client.post("/api/v1/alerts/flood-kimlong/acknowledge", headers=op,
                        json={"note": "watching"})
    assert acked.status_code == 200
    assert acked.json()["state"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == as_role.users["flood_operator"]
    again = client.post("/api/v1/alerts/flood-kimlong/acknowledge", headers=op)
    assert again.status_code == 409
    assert "already acknowledged by flood-operator-1" in again.json()["message"]
    assigned = client.post("/api/v1/alerts/flood-kimlong/assign", headers=op,
                           json={"assignee": as_role.users["technician"]}).json()
    assert assigned["assignee"] == as_role.users["technician"]
    assert client.post("/api/v1/alerts/flood-kimlong/comments", headers=op,
                       json={"text": "pump team called"}).status_code == 200
    assert client.get("/api/v1/alerts", headers=op, params={"state": "open"}).json()["count"] == 1
    by_station = client.get("/api/v1/alerts", headers=op, params={"station": "phuoc"}).json()
    assert [a["alert_id"] for a in by_station["items"]] == ["flood-phuoc"]
    cleared = client.post("/api/v1/alerts/flood-kimlong/clear", headers=op).json()
    assert cleared["state"] == "cleared"
    detail = client.get("/api/v1/alerts/flood-kimlong", headers=op).json()
    assert [(a["action"], a["note"]) for a in detail["actions"]] == [
        ("acknowledge", "watching"), ("assign", None), ("comment", "pump team called"),
        ("clear", None)]
    assert [c["status"] for c in detail["changes"]] == ["raised"]
    audit = client.get("/api/v1/audit", headers=as_role.headers("admin"),
                       params={"actor": as_role.users["flood_operator"]}).json()
    assert [e["action"] for e in reversed(audit["items"])] == [
        "alert.acknowledge", "alert.assign", "alert.comment", "alert.clear"]


def _events(response: httpx.Response) -> Iterator[dict[str, object]]:
    """Parse server-sent events from a streaming response."""
    event: dict[str, object] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif line.startswith("id: "):
            event["id"] = int(line[4:])
        elif line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])


def test_live_stream_delivers_new_changes_for_the_callers_audience(
        client: httpx.Client, as_role, api_stores: CloudStores, make) -> None:
    api_stores.events.put([make.alert("old", "before-connect")])
    read = make.plate("r1", "75A12345")

    def later() -> None:
        time.sleep(0.5)
        api_stores.events.put([read, make.hit("h1", read, "75A12345"),
                               make.alert("c1", "flood", at=make.at(1))])
        time.sleep(0.3)
        api_stores.events.put([make.alert("c2", "flood", "escalated", make.at(2), level=2)])

    writer = threading.Thread(target=later)
    got: list[dict[str, object]] = []
    with client.stream("GET", "/api/v1/alerts/stream",
                       headers=as_role.headers("flood_operator"), timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        writer.start()
        for event in _events(response):
            got.append(event)
            if len(got) == 2:
                break
    writer.join()
    assert [(e["event"], e["data"]["id"], e["data"]["status"]) for e in got] == [  # type: ignore[index]
        ("alert", "c1", "raised"), ("alert", "c2", "escalated")]
    assert got[0]["id"] < got[1]["id"]  # type: ignore[operator]
    # resuming after the first one (as a browser does with Last-Event-ID) gives the second
    with client.stream("GET", "/api/v1/alerts/stream", timeout=10,
                       headers={**as_role.headers("admin"),
                                "Last-Event-ID": str(got[0]["id"])}) as response:
        resumed = next(_events(response))
    assert resumed["data"]["id"] == "c2"  # type: ignore[index]
    # police see the hit (with its plate); the stream from the start shows everything in order
    with client.stream("GET", "/api/v1/alerts/stream", params={"after": 0}, timeout=10,
                       headers=as_role.headers("police")) as response:
        first = next(_events(response))
    assert (first["data"]["id"], first["data"]["plate"]) == ("h1", "75A12345")  # type: ignore[index]
