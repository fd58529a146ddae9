"""Bad input gets a 4xx with a JSON body saying what and where, never a 500."""

from __future__ import annotations

import httpx
import pytest

PLATES = "/api/v1/plates/history"

# (role, method, url, how the body is sent, expected status, expected `where`, text in message)
CASES: list[tuple[str, str, str, dict[str, object], int, str, str]] = [
    ("police", "GET", f"{PLATES}?plate=75A!2345", {}, 422, "query.plate",
     "characters no plate carries"),
    ("police", "GET", f"{PLATES}?plate=75", {}, 422, "query.plate", "needs 4 to 12"),
    ("police", "GET", f"{PLATES}", {}, 422, "query.plate", "Field required"),
    ("police", "GET", f"{PLATES}?plate=75A12345&match=fuzzy", {}, 422, "query.match",
     "'exact', 'one_off' or 'prefix'"),
    ("police", "GET", f"{PLATES}?plate=75A12345&since=2025-11-04T00:00:00Z"
     "&until=2025-11-03T00:00:00Z", {}, 422, "query.until", "is not before until"),
    ("police", "GET", f"{PLATES}?plate=75A12345&since=2025-11-04T00:00:00", {}, 422,
     "query.since", "has no timezone"),
    ("police", "GET", f"{PLATES}?plate=75A12345&since=yesterday", {}, 422, "query.since",
     "datetime"),
    ("police", "GET", f"{PLATES}?plate=75A12345&limit=0", {}, 422, "query.limit",
     "greater than or equal to 1"),
    ("police", "GET", f"{PLATES}?plate=75A12345&camera=CAM%2001", {}, 422, "query.camera",
     "pattern"),
    ("police", "POST", "/api/v1/watchlist", {"json": {"plate": "75A1234X", "reason": "r"}}, 422,
     "body.plate", "not a Vietnamese plate"),
    ("police", "POST", "/api/v1/watchlist", {"json": {"plate": "75A12345"}}, 422,
     "body.reason", "Field required"),
    ("police", "POST", "/api/v1/watchlist",
     {"json": {"plate": "75A12345", "reason": "r", "colour": "red"}}, 422, "body.colour",
     "unknown field"),
    ("police", "POST", "/api/v1/watchlist",
     {"json": {"plate": "75A12345", "reason": "r", "expires_at": "2026-01-01T00:00:00"}}, 422,
     "body.expires_at", "timezone"),
    ("police", "POST", "/api/v1/watchlist",
     {"content": b'{"plate": "75A12345", "reason": ', "headers": {
         "Content-Type": "application/json"}}, 422, "body", "not valid JSON"),
    ("police", "POST", "/api/v1/watchlist",
     {"content": b"plate=75A12345&reason=r",
      "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415,
     "header.Content-Type", "must be application/json"),
    ("police", "POST", "/api/v1/watchlist",
     {"content": b'{"plate": "75A12345", "reason": "r"}'}, 415, "header.Content-Type",
     "no Content-Type"),
    ("police", "POST", "/api/v1/watchlist",
     {"json": {"plate": "75A12345", "reason": "x" * 5000}}, 413, "header.Content-Length",
     "larger than 4096 bytes"),
    ("police", "POST", "/api/v1/watchlist", {"json": ["75A12345"]}, 422, "body",
     "valid dictionary"),
    ("police", "PATCH", "/api/v1/watchlist/nope", {"json": {"reason": "r"}}, 404,
     "path.entry_id", "no watchlist entry 'nope'"),
    ("police", "PATCH", "/api/v1/watchlist/nope", {"json": {}}, 422, "body", "nothing to change"),
    ("police", "GET", "/api/v1/watchlist/nope", {}, 404, "path.entry_id", "no watchlist entry"),
    ("police", "DELETE", "/api/v1/watchlist/nope", {}, 404, "path.entry_id",
     "no watchlist entry"),
    ("police", "GET", "/api/v1/plates/reads/nope", {}, 404, "path.read_id", "no plate read"),
    ("flood_operator", "GET", "/api/v1/alerts/nope", {}, 404, "path.alert_id", "no alert 'nope'"),
    ("flood_operator", "POST", "/api/v1/alerts/nope/acknowledge", {}, 404, "path.alert_id",
     "no alert"),
    ("flood_operator", "GET", "/api/v1/alerts?state=closed", {}, 422, "query.state", "'open'"),
    ("flood_operator", "GET", "/api/v1/alerts/stream", {"headers": {"Last-Event-ID": "abc"}},
     422, "header.Last-Event-ID", "not a sequence number"),
    ("flood_operator", "POST", "/api/v1/alerts/x/assign", {"json": {"assignee": "nobody-9"}},
     422, "body.assignee", "unknown user 'nobody-9'"),
    ("flood_operator", "GET", "/api/v1/stations/kimlong/readings?quantity=depth", {}, 422,
     "query.quantity", "is not one of"),
    ("flood_operator", "GET", "/api/v1/stations/Kim%20Long/readings?quantity=rain", {}, 422,
     "path.station", "pattern"),
    ("traffic_officer", "POST", "/api/v1/violations/nope/review",
     {"json": {"decision": "maybe"}}, 422, "body.decision", "'confirmed' or 'rejected'"),
    ("traffic_officer", "POST", "/api/v1/violations/nope/review",
     {"json": {"decision": "confirmed"}}, 404, "", "no violation 'nope'"),
    ("traffic_officer", "GET", "/api/v1/violations/nope/package", {}, 404, "path.violation_id",
     "no violation"),
    ("traffic_officer", "GET", "/api/v1/violations?type=speeding-ish", {}, 422, "query.type",
     "red_light"),
    ("technician", "GET", "/api/v1/devices/hue/nope", {}, 404, "path.device",
     "no device hue/nope"),
    ("admin", "GET", "/api/v1/audit?since=2025-11-04T00:00:00Z&until=2025-11-04T00:00:00Z", {},
     422, "query.until", "is not before"),
    ("admin", "GET", "/api/v1/nowhere", {}, 404, "", "no such endpoint: GET /api/v1/nowhere"),
    ("police", "GET", f"{PLATES}?plate=75A12345&until=9999-01-01T00:00:00Z", {}, 422,
     "query.until", "outside the times a store keeps"),
    ("police", "GET", f"{PLATES}?plate=75A12345&since=1900-01-01T00:00:00Z", {}, 422,
     "query.since", "outside the times a store keeps"),
    ("police", "POST", "/api/v1/watchlist",
     {"json": {"plate": "75A12345", "reason": "r", "expires_at": "9999-01-01T00:00:00Z"}}, 422,
     "body.expires_at", "outside the times a store keeps"),
    ("police", "POST", "/api/v1/watchlist", {"json": {"plate": "75A12345", "reason": "a\x00b"}},
     422, "body", "NUL characters are not allowed"),
    ("flood_operator", "GET", "/api/v1/alerts/a%00b", {}, 422, "path",
     "NUL characters are not allowed"),
    ("flood_operator", "GET", "/api/v1/alerts?station=a%00", {}, 422, "query",
     "NUL characters are not allowed"),
    ("flood_operator", "GET", "/api/v1/alerts/stream?after=99999999999999999999", {}, 422,
     "query.after", "less than or equal to"),
    ("flood_operator", "GET", "/api/v1/alerts/stream",
     {"headers": {"Last-Event-ID": "99999999999999999999"}}, 422, "header.Last-Event-ID",
     "not a sequence number"),
    ("admin", "PUT", "/api/v1/me", {}, 405, "", "PUT is not allowed on /api/v1/me"),
    # near year 1 or 9999 with an offset, converting to UTC overflowed (it was a 500)
    ("police", "POST", "/api/v1/watchlist",
     {"json": {"plate": "75A12345", "reason": "r", "expires_at": "0001-01-01T00:00:00+14:00"}},
     422, "body.expires_at", "outside the times a store keeps"),
    ("police", "POST", "/api/v1/watchlist",
     {"json": {"plate": "75A12345", "reason": "r", "expires_at": "9999-12-31T23:59:59-14:00"}},
     422, "body.expires_at", "outside the times a store keeps"),
    # a store's refusal names its field; an unknown entry is a 404 whatever the body says
    ("police", "POST", "/api/v1/watchlist", {"json": {"plate": "75A12345", "reason": "  "}},
     422, "body.reason", "reason is empty"),
    ("police", "PATCH", "/api/v1/watchlist/nope", {"json": {"reason": "   "}}, 404,
     "path.entry_id", "no watchlist entry 'nope'"),
    # digits that are digits to str.isdigit() but not to int() or a plate (were 500 / stored)
    ("flood_operator", "GET", "/api/v1/alerts/stream",
     {"headers": {"Last-Event-ID": "1\xb9".encode("latin-1")}}, 422, "header.Last-Event-ID",
     "not a sequence number"),
    ("flood_operator", "GET", "/api/v1/alerts/stream",
     {"headers": {"Last-Event-ID": "1" * 5000}}, 422, "header.Last-Event-ID",
     "not a sequence number"),
    ("police", "POST", "/api/v1/watchlist", {"json": {"plate": "75A1234\uff15", "reason": "r"}},
     422, "body.plate", "not a Vietnamese plate"),
    ("police", "POST", "/api/v1/watchlist",
     {"json": {"plate": "\u0667\u0665A\u0661\u0662\u0663\u0664\u0665", "reason": "r"}},
     422, "body.plate", "not a Vietnamese plate"),
    # the JSON parser's recursion limit answered 400 without saying why
    ("police", "POST", "/api/v1/watchlist",
     {"content": b'{"plate":' + b"[" * 2000 + b"]" * 2000 + b"}",
      "headers": {"Content-Type": "application/json"}}, 422, "body", "deeper than 32 levels"),
    ("police", "POST", "/api/v1/watchlist",
     {"json": {"plate": "75A12345", "reason": "r", "owner": ""}}, 422, "body.owner",
     "at least 1 character"),
    # a body the action does not take was ignored: {"days": 1} purged by the config's periods
    ("admin", "POST", "/api/v1/retention/purge", {"json": {"days": 1}}, 422, "body",
     "this action takes no body"),
    ("flood_operator", "POST", "/api/v1/alerts/x/comments", {"json": {"text": "   "}}, 422,
     "body.text", "not only spaces"),
]


@pytest.mark.parametrize(("role", "method", "url", "send", "status", "where", "text"), CASES,
                         ids=[f"{c[1]} {c[2][:50]} {c[5]}" for c in CASES])
def test_bad_input_is_a_clear_4xx(client: httpx.Client, as_role, role: str, method: str,
                                  url: str, send: dict[str, object], status: int, where: str,
                                  text: str) -> None:
    headers = {**as_role.headers(role), **send.get("headers", {})}  # type: ignore[dict-item]
    kwargs = {k: v for k, v in send.items() if k != "headers"}
    response = client.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"error", "message", "problems"}
    assert text in body["message"], body
    if where:
        assert where in [p["where"] for p in body["problems"]], body


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(client: httpx.Client,
                                                              as_role) -> None:
    """``\\u0000`` in JSON is a backslash and the text u0000, which a store keeps."""
    body = b'{"plate": "75A12345", "reason": "see C:\\\\u0000dir"}'
    response = client.post("/api/v1/watchlist", content=body, headers={
        **as_role.headers("police"), "Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["reason"] == "see C:\\u0000dir"


def test_health_answers_head_for_monitors(client: httpx.Client) -> None:
    response = client.head("/health")
    assert response.status_code == 200
    assert response.content == b""


def test_body_larger_than_declared_is_cut_off(client: httpx.Client, as_role) -> None:
    """A chunked body (no Content-Length) is counted as it arrives."""

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"plate": "75A12345", "reason": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = client.post("/api/v1/watchlist", content=chunks(),
                           headers={**as_role.headers("police"),
                                    "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["problems"] == [{"where": "body",
                                            "message": "body is larger than 4096 bytes"}]
