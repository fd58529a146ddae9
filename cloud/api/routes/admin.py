"""Admin and housekeeping: who am I, the audit log, the retention purge, notification deliveries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from cloud.api.auth import AdminUser, AnyUser, TechnicianUser
from cloud.api.context import get_ctx, window
from cloud.api.errors import invalid
from cloud.api.models import AuditOut, AuditPage, DeliveryOut, DeliveryPage, MeOut, PurgeOut
from cloud.notify.deliveries import DeliveryLog
from cloud.stores.audit import MAX_LIMIT
from cloud.stores.db import DatabaseError

router = APIRouter(tags=["admin"])


@router.get("/health", summary="Liveness and store reachability (no token needed; HEAD too)")
def health(request: Request) -> JSONResponse:
    try:
        get_ctx(request).stores.db.query("SELECT 1")
    except DatabaseError as exc:
        return JSONResponse({"status": "unavailable", "store": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.head("/health", include_in_schema=False)
def health_head(request: Request) -> JSONResponse:
    """What uptime monitors ask: the same status, without the body."""
    return health(request)


@router.get("/api/v1/me", response_model=MeOut, summary="The caller's name, role and visibility")
def me(who: AnyUser) -> MeOut:
    return MeOut(name=who.name, role=who.role, sees_plates=who.sees_plates,
                 audiences=list(who.audiences))


@router.get("/api/v1/audit", response_model=AuditPage, summary="The audit log, newest first")
def audit_log(
    request: Request, who: AdminUser,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64, examples=["plates.history"])] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> AuditPage:
    lo, hi = window(since, until)
    entries = get_ctx(request).stores.audit.query(actor=actor, action=action, since_ns=lo,
                                                  until_ns=hi, limit=limit)
    return AuditPage(count=len(entries), items=[AuditOut.model_validate(e) for e in entries])


@router.post("/api/v1/retention/purge", response_model=PurgeOut,
             summary="Delete now what is past its retention period")
async def purge(request: Request, who: AdminUser) -> PurgeOut:
    if (await request.body()).strip():  # e.g. {"days": 1}: it would have been ignored
        raise invalid("body", "this action takes no body: the retention periods are the"
                              " cloud config's (retention.plate_reads_days, evidence_days)")
    ctx = get_ctx(request)

    def run() -> PurgeOut:
        result = PurgeOut.model_validate(ctx.retention().purge(datetime.now(UTC)))
        ctx.audit(who, "retention.purge", result.model_dump(),
                  result.plate_reads + result.hit_plate_reads + result.violations)
        return result

    return await anyio.to_thread.run_sync(run)


@router.get("/api/v1/notifications/deliveries", response_model=DeliveryPage,
            summary="Alert deliveries to webhooks, MQTT and text gateways")
def deliveries(
    request: Request, who: TechnicianUser,
    notifier: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[Literal["pending", "sending", "delivered", "failed"] | None, Query()] = None,
    alert_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> DeliveryPage:
    rows = DeliveryLog(get_ctx(request).stores.db).list(notifier=notifier, state=state,
                                                        alert_id=alert_id, limit=limit)
    return DeliveryPage(count=len(rows), items=[DeliveryOut.model_validate(d) for d in rows])
