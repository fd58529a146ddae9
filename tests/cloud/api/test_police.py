"""Police endpoints and the audit log: every plate query and watchlist change is recorded."""

from __future__ import annotations

import httpx

from cloud.stores.bundle import CloudStores


def _audit(client: httpx.Client, as_role, **params: str) -> list[dict[str, object]]:
    response = client.get("/api/v1/audit", params=params, headers=as_role.headers("admin"))
    assert response.status_code == 200
    return response.json()["items"]  # type: ignore[no-any-return]


def test_watchlist_crud_is_audited(client: httpx.Client, as_role, api_stores: CloudStores) -> None:
    police = as_role.headers("police")
    version = api_stores.watchlist.version()
    created = client.post("/api/v1/watchlist", headers=police,
                          json={"plate": "75a-123.45", "reason": "stolen",
                                "expires_at": "2030-01-01T00:00:00+07:00"})
    assert created.status_code == 201
    entry = created.json()
    assert entry["plate"] == "75A12345"
    assert entry["owner"] == as_role.users["police"]  # the caller by default
    assert entry["expires_at"] == "2029-12-31T17:00:00Z"
    assert api_stores.watchlist.version() == version + 1  # the stream will see it
    entry_id = entry["entry_id"]
    patched = client.patch(f"/api/v1/watchlist/{entry_id}", headers=police,
                           json={"expires_at": None, "owner": "unit-7"})
    assert patched.json()["expires_at"] is None
    assert patched.json()["owner"] == "unit-7"
    assert client.get("/api/v1/watchlist", headers=police).json()["count"] == 1
    assert client.get(f"/api/v1/watchlist/{entry_id}", headers=police).status_code == 200
    assert client.delete(f"/api/v1/watchlist/{entry_id}", headers=police).json()["plate"] == (
        "75A12345")
    assert client.get("/api/v1/watchlist", headers=police).json()["count"] == 0
    entries = _audit(client, as_role, actor=as_role.users["police"])
    assert [(e["action"], e["result_count"]) for e in reversed(entries)] == [
        ("watchlist.add", 1), ("watchlist.update", 1), ("watchlist.list", 1),
        ("watchlist.get", 1), ("watchlist.delete", 1), ("watchlist.list", 0)]
    add = entries[-1]
    assert add["role"] == "police"
    assert add["target"]["plate"] == "75A12345"
    assert add["target"]["reason"] == "stolen"
    assert entries[-2]["target"] == {"entry_id": entry_id, "plate": "75A12345",
                                     "expires_at": None, "owner": "unit-7"}


def test_history_search_and_its_audit(client: httpx.Client, as_role, api_stores: CloudStores,
                                      make) -> None:
    api_stores.events.put([make.plate("r1", "75A12345", make.at(0)),
                           make.plate("r2", "75A1234S", make.at(5), camera="cam-02"),
                           make.plate("r3", "75A99999", make.at(9))])
    police = as_role.headers("police")
    exact = client.get("/api/v1/plates/history", headers=police,
                       params={"plate": "75A-123.45"}).json()
    assert (exact["plate"], exact["count"], exact["items"][0]["id"]) == ("75A12345", 1, "r1")
    fuzzy = client.get("/api/v1/plates/history", headers=police,
                       params={"plate": "75A12345", "match": "one_off",
                               "since": "2025-11-03T15:00:00+07:00"}).json()
    assert [(i["id"], i["match_distance"], i["camera"]) for i in fuzzy["items"]] == [
        ("r2", 1, "cam-02"), ("r1", 0, "cam-01")]
    prefix = client.get("/api/v1/plates/history", headers=police,
                        params={"plate": "75A9", "match": "prefix", "camera": "cam-01"}).json()
    assert [i["id"] for i in prefix["items"]] == ["r3"]
    one = client.get("/api/v1/plates/reads/r2", headers=police).json()
    assert one["plate"] == "75A1234S"
    entries = _audit(client, as_role, action="plates.history")
    assert [(e["target"]["match"], e["result_count"]) for e in reversed(entries)] == [
        ("exact", 1), ("one_off", 2), ("prefix", 1)]
    assert entries[1]["target"]["since"] == "2025-11-03T15:00:00+07:00"
    assert entries[0]["actor"] == as_role.users["police"]
    assert _audit(client, as_role, action="plates.read")[0]["target"] == {"read_id": "r2"}


def test_hits_list_and_masking_for_other_roles(client: httpx.Client, as_role,
                                               api_stores: CloudStores, make) -> None:
    read = make.plate("r1", "75A1234S")
    api_stores.events.put([read, make.hit("h1", read, "75A12345", distance=1),
                           make.alert("f1", "flood")])
    hits = client.get("/api/v1/plates/hits", headers=as_role.headers("police")).json()
    assert hits["count"] == 1
    hit = hits["items"][0]
    assert (hit["plate"], hit["match_distance"], hit["reading_id"]) == ("75A12345", 1, "r1")
    assert hit["read"]["plate"] == "75A1234S"
    police_alerts = client.get("/api/v1/alerts", headers=as_role.headers("police")).json()
    assert [(a["alert_id"], a["plate"]) for a in police_alerts["items"]] == [
        ("hit-r1", "75A12345")]
    flood = client.get("/api/v1/alerts", headers=as_role.headers("flood_operator")).json()
    assert [a["alert_id"] for a in flood["items"]] == ["flood"]
    hidden = client.get("/api/v1/alerts/hit-r1", headers=as_role.headers("flood_operator"))
    assert hidden.status_code == 404
    admin = client.get("/api/v1/alerts/hit-r1", headers=as_role.headers("admin")).json()
    assert admin["alert"]["plate"] == "75A12345"
    assert admin["changes"][0]["reading_id"] == "r1"
    actions = [e["action"] for e in _audit(client, as_role)]
    assert {"plates.hits", "alerts.list", "alerts.get"} <= set(actions)
