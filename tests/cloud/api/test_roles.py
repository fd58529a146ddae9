"""Every endpoint checks the role: the admitted roles pass, every other role gets 403,
no token or an unknown token gets 401. The table below is the specification; a
route missing from it fails the coverage test."""

from __future__ import annotations

import httpx
import pytest

from cloud.api.app import route_roles
from cloud.api.server import CloudServer

ALL = {"police", "flood_operator", "traffic_officer", "technician", "admin"}
POLICE = {"police", "admin"}
OPS = {"flood_operator", "admin"}
TRAFFIC = {"traffic_officer", "admin"}
TECH = {"technician", "admin"}
ADMIN = {"admin"}

# (method, route template, concrete URL, JSON body, roles admitted; None = no token needed)
ENDPOINTS: list[tuple[str, str, str, dict[str, object] | None, set[str] | None]] = [
    ("GET", "/api/v1/watchlist", "/api/v1/watchlist", None, POLICE),
    ("POST", "/api/v1/watchlist", "/api/v1/watchlist",
     {"plate": "75A12345", "reason": "stolen"}, POLICE),
    ("GET", "/api/v1/watchlist/{entry_id}", "/api/v1/watchlist/x", None, POLICE),
    ("PATCH", "/api/v1/watchlist/{entry_id}", "/api/v1/watchlist/x", {"reason": "r"}, POLICE),
    ("DELETE", "/api/v1/watchlist/{entry_id}", "/api/v1/watchlist/x", None, POLICE),
    ("GET", "/api/v1/plates/history", "/api/v1/plates/history?plate=75A12345", None, POLICE),
    ("GET", "/api/v1/plates/reads/{read_id}", "/api/v1/plates/reads/x", None, POLICE),
    ("GET", "/api/v1/plates/hits", "/api/v1/plates/hits", None, POLICE),
    ("GET", "/api/v1/alerts", "/api/v1/alerts", None, ALL),
    ("GET", "/api/v1/alerts/stream", "/api/v1/alerts/stream", None, ALL),
    ("GET", "/api/v1/alerts/{alert_id}", "/api/v1/alerts/x", None, ALL),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge", "/api/v1/alerts/x/acknowledge", {}, ALL),
    ("POST", "/api/v1/alerts/{alert_id}/assign", "/api/v1/alerts/x/assign",
     {"assignee": "admin-1"}, ALL),
    ("POST", "/api/v1/alerts/{alert_id}/comments", "/api/v1/alerts/x/comments",
     {"text": "t"}, ALL),
    ("POST", "/api/v1/alerts/{alert_id}/clear", "/api/v1/alerts/x/clear", {}, ALL),
    ("GET", "/api/v1/stations/{station}/readings",
     "/api/v1/stations/kimlong/readings?quantity=water_level", None, OPS),
    ("GET", "/api/v1/stations/{station}/aggregates",
     "/api/v1/stations/kimlong/aggregates?measure=rain_total", None, OPS),
    ("GET", "/api/v1/violations", "/api/v1/violations", None, TRAFFIC),
    ("GET", "/api/v1/violations/{violation_id}", "/api/v1/violations/x", None, TRAFFIC),
    ("POST", "/api/v1/violations/{violation_id}/review", "/api/v1/violations/x/review",
     {"decision": "confirmed"}, TRAFFIC),
    ("GET", "/api/v1/violations/{violation_id}/images/{image_id}",
     "/api/v1/violations/x/images/y", None, TRAFFIC),
    ("GET", "/api/v1/violations/{violation_id}/package", "/api/v1/violations/x/package", None,
     TRAFFIC),
    ("GET", "/api/v1/devices", "/api/v1/devices", None, TECH),
    ("GET", "/api/v1/city", "/api/v1/city", None, ALL),
    ("GET", "/api/v1/kpi", "/api/v1/kpi", None, ALL),
    ("GET", "/ngsi-ld/v1/entities", "/ngsi-ld/v1/entities?type=Alert", None, None),
    ("GET", "/api/v1/devices/{site}/{device}", "/api/v1/devices/hue/gw", None, TECH),
    ("GET", "/api/v1/notifications/deliveries", "/api/v1/notifications/deliveries", None, TECH),
    ("GET", "/api/v1/me", "/api/v1/me", None, ALL),
    ("GET", "/api/v1/audit", "/api/v1/audit", None, ADMIN),
    ("POST", "/api/v1/retention/purge", "/api/v1/retention/purge", None, ADMIN),
    ("GET", "/health", "/health", None, None),
]


def _status(client: httpx.Client, method: str, url: str, body: dict[str, object] | None,
            headers: dict[str, str]) -> int:
    if url.endswith("/stream"):  # an admitted caller would stream forever: read the status only
        with client.stream(method, url, headers=headers) as response:
            return response.status_code
    return client.request(method, url, json=body, headers=headers).status_code


@pytest.mark.parametrize(("method", "template", "url", "body", "roles"), ENDPOINTS,
                         ids=[f"{m} {t}" for m, t, *_ in ENDPOINTS])
def test_role_check(client: httpx.Client, as_role, method: str, template: str, url: str,
                    body: dict[str, object] | None, roles: set[str] | None) -> None:
    wrong: list[str] = []
    for role in sorted(ALL):
        status = _status(client, method, url, body, as_role.headers(role))
        admitted = roles is None or role in roles
        if admitted and status in (401, 403):
            wrong.append(f"{role}: refused with {status}")
        if not admitted and status != 403:
            wrong.append(f"{role}: got {status}, expected 403")
        if status >= 500:
            wrong.append(f"{role}: server error {status}")
    if roles is not None:
        for headers in ({}, {"Authorization": "Bearer not-a-known-token-at-all"},
                        {"Authorization": "Basic dXNlcjpwYXNz"}):
            status = _status(client, method, url, body, headers)
            if status != 401:
                wrong.append(f"{headers or 'no token'}: got {status}, expected 401")
    assert not wrong, wrong


def test_refusal_names_the_allowed_roles(client: httpx.Client, as_role) -> None:
    response = client.get("/api/v1/plates/history?plate=75A12345",
                          headers=as_role.headers("traffic_officer"))
    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden",
        "message": "role traffic_officer may not GET /api/v1/plates/history; allowed: police,"
                   " admin"}
    missing = client.get("/api/v1/me")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.json()["problems"] == [
        {"where": "header.Authorization",
         "message": "no bearer token: send 'Authorization: Bearer <token>'"}]


def test_every_route_is_in_the_table_with_the_roles_it_enforces(server: CloudServer) -> None:
    assert server.app is not None
    enforced = {k: None if v is None else set(v) for k, v in route_roles(server.app).items()}
    specified = {(m, t): r for m, t, _, _, r in ENDPOINTS}
    assert enforced == specified


def test_openapi_lists_the_roles(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/api/v1/plates/history"]["get"]
    assert op["x-roles"] == ["police", "admin"]
    assert "Roles: police, admin." in op["description"]
