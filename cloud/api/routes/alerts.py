"""Alerts: list and filter, one alert with its history, operator actions, the live stream.

Every role reaches these endpoints but sees only its audiences (flood operators
the operators' alerts, police the watchlist hits, traffic officers traffic,
technicians device alerts, admin all). An alert outside the caller's audiences
is answered as unknown (404). Plates inside alerts are shown to police and admin
only, and when shown the query is audited.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse

from cloud.api.auth import AnyUser, Principal
from cloud.api.context import ApiContext, get_ctx, window
from cloud.api.errors import ApiError, invalid
from cloud.api.models import (
    ActionOut,
    AlertDetail,
    AlertOut,
    AlertPage,
    AssignIn,
    CommentIn,
    NoteIn,
)
from cloud.stores.alerts import MAX_LIMIT, AlertChange, AlertView

router = APIRouter(prefix="/api/v1", tags=["alerts"])

AlertId = Annotated[str, Path(min_length=1, max_length=200)]
Slug = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def _out(view: AlertView, who: Principal) -> AlertOut:
    out = AlertOut.model_validate(view)
    return out if who.sees_plates else out.model_copy(update={"plate": None})


def _change(change: AlertChange, who: Principal) -> dict[str, Any]:
    event = dict(change.event)
    if not who.sees_plates:
        event.pop("plate", None)
    return {"seq": change.seq, **event}


def _visible(ctx: ApiContext, alert_id: str, who: Principal) -> AlertView:
    view = ctx.stores.alerts.get(alert_id)
    if view is None or view.audience not in who.audiences:
        raise ApiError(404, f"no alert {alert_id!r} for role {who.role}", "path.alert_id")
    return view


@router.get("/alerts", response_model=AlertPage, summary="Alerts, most recently changed first")
def list_alerts(
    request: Request, who: AnyUser,
    state: Annotated[Literal["open", "acknowledged", "cleared"] | None, Query()] = None,
    category: Annotated[Literal["weather", "environment", "traffic", "security", "health",
                                "agriculture"] | None, Query()] = None,
    severity: Annotated[Literal["informational", "low", "medium", "high", "critical"] | None,
                        Query()] = None,
    station: Annotated[str | None, Query(pattern=Slug)] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="changed at or after")] = None,
    until: Annotated[datetime | None, Query(description="began before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> AlertPage:
    ctx = get_ctx(request)
    lo, hi = window(since, until)
    views = ctx.stores.alerts.list(audiences=who.audiences, state=state, category=category,
                                   severity=severity, station=station, assignee=assignee,
                                   since_ns=lo, until_ns=hi, limit=limit)
    if who.sees_plates and any(v.plate for v in views):
        ctx.audit(who, "alerts.list", {"state": state, "category": category,
                                       "station": station, "limit": limit},
                  sum(1 for v in views if v.plate))
    return AlertPage(count=len(views), items=[_out(v, who) for v in views])


@router.get("/alerts/stream", summary="Live alert changes (server-sent events)",
            response_description="text/event-stream: one `alert` event per stored change,"
                                 " `id` = its stored sequence number",
            responses={200: {"content": {"text/event-stream": {}}}})
async def alert_stream(
    request: Request, who: AnyUser,
    after: Annotated[int | None, Query(
        ge=0, le=2**63 - 1,
        description="resume after this sequence number (default: only new changes)")] = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    ctx = get_ctx(request)
    board = ctx.stores.alerts
    cursor: int
    if last_event_id is not None:
        if not re.fullmatch(r"[0-9]{1,19}", last_event_id) or int(last_event_id) > 2**63 - 1:
            raise invalid("header.Last-Event-ID", f"{last_event_id!r} is not a sequence number")
        cursor = int(last_event_id)
    elif after is not None:
        cursor = after
    else:
        cursor = await anyio.to_thread.run_sync(board.latest_seq)
    if who.sees_plates:
        await anyio.to_thread.run_sync(
            lambda: ctx.audit(who, "alerts.stream", {"after": cursor}, None))
    settings = ctx.config.alert_stream

    async def events() -> AsyncIterator[str]:
        position = cursor
        yield f"retry: 2000\n: connected after {position}\n\n"
        quiet = 0.0
        while not ctx.stopping.is_set() and not await request.is_disconnected():
            changes = await anyio.to_thread.run_sync(
                board.changes_after, position, who.audiences, 100)
            for change in changes:
                position = change.seq
                data = json.dumps(_change(change, who), separators=(",", ":"))
                yield f"id: {change.seq}\nevent: alert\ndata: {data}\n\n"
            if changes:
                quiet = 0.0
                continue
            await anyio.sleep(settings.poll_s)
            quiet += settings.poll_s
            if quiet >= settings.keepalive_s:
                quiet = 0.0
                yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/alerts/{alert_id}", response_model=AlertDetail,
            summary="One alert with every state change and operator action")
def get_alert(request: Request, alert_id: AlertId, who: AnyUser) -> AlertDetail:
    ctx = get_ctx(request)
    view = _visible(ctx, alert_id, who)
    if who.sees_plates and view.plate:
        ctx.audit(who, "alerts.get", {"alert_id": alert_id}, 1)
    return AlertDetail(
        alert=_out(view, who),
        changes=[_change(c, who) for c in ctx.stores.alerts.changes(alert_id)],
        actions=[ActionOut.model_validate(a) for a in ctx.stores.alerts.actions(alert_id)])


def _act(request: Request, alert_id: str, who: Principal,
         action: Literal["acknowledge", "assign", "comment", "clear"], *,
         note: str | None = None, assignee: str | None = None) -> AlertOut:
    ctx = get_ctx(request)
    _visible(ctx, alert_id, who)
    view = ctx.stores.alerts.act(alert_id, action, actor=who.name, role=who.role, note=note,
                                 assignee=assignee)
    ctx.audit(who, f"alert.{action}", {"alert_id": alert_id, "assignee": assignee,
                                       "note": note}, 1)
    return _out(view, who)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut,
             summary="Acknowledge (409 if already acknowledged since its last change, or cleared)")
def acknowledge(request: Request, alert_id: AlertId, who: AnyUser,
                body: NoteIn | None = None) -> AlertOut:
    return _act(request, alert_id, who, "acknowledge", note=body.note if body else None)


@router.post("/alerts/{alert_id}/assign", response_model=AlertOut,
             summary="Assign to a configured user")
def assign(request: Request, alert_id: AlertId, body: AssignIn, who: AnyUser) -> AlertOut:
    if body.assignee not in get_ctx(request).tokens.names:
        raise invalid("body.assignee", f"unknown user {body.assignee!r}")
    return _act(request, alert_id, who, "assign", note=body.note, assignee=body.assignee)


@router.post("/alerts/{alert_id}/comments", response_model=AlertOut, summary="Add a comment")
def comment(request: Request, alert_id: AlertId, body: CommentIn, who: AnyUser) -> AlertOut:
    return _act(request, alert_id, who, "comment", note=body.text)


@router.post("/alerts/{alert_id}/clear", response_model=AlertOut,
             summary="Clear in the console (a newer change from the stream reopens it)")
def clear(request: Request, alert_id: AlertId, who: AnyUser,
          body: NoteIn | None = None) -> AlertOut:
    return _act(request, alert_id, who, "clear", note=body.note if body else None)
