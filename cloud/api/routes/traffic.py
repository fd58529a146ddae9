"""Traffic officers: violations with their evidence, review, and the evidence package.

Traffic officers and admin. The plate inside a violation is shown to admin only
(plate data is for police and admin); a traffic officer reviews on the images.
The evidence package of a *confirmed* violation does carry the plate, because
the law asks for it in the case file (date and time to the second, location,
plate, plate colour, vehicle type, images — vietnam.md §4); every export is audited.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from cloud.api.auth import Principal, TrafficUser
from cloud.api.context import ApiContext, get_ctx, window
from cloud.api.errors import ApiError
from cloud.api.models import EvidenceOut, ReviewIn, ViolationOut, ViolationPage
from cloud.stores.evidence import EXTENSIONS, media_type
from cloud.stores.violations import MAX_LIMIT, ViolationRecord
from ioc.contract import ViolationType
from ioc.plates import format_plate, kinds_for

router = APIRouter(prefix="/api/v1/violations", tags=["traffic"])

ViolationId = Annotated[str, Path(min_length=1, max_length=200)]


def _out(ctx: ApiContext, v: ViolationRecord, who: Principal) -> ViolationOut:
    evidence = [EvidenceOut(image_id=e["image_id"], role=e["role"],
                            taken_at=datetime.fromisoformat(e["taken_at"]), sha256=e["sha256"],
                            stored=ctx.stores.evidence.exists(e["image_id"]))
                for e in v.evidence]
    return ViolationOut(
        id=v.id, ts=v.ts, site=v.site, device=v.device, camera=v.camera, track_id=v.track_id,
        violation=v.violation, vehicle_class=v.vehicle_class,
        plate=v.plate if who.sees_plates else None,
        plate_hidden=v.plate is not None and not who.sees_plates, plate_color=v.plate_color,
        location=v.location, rule=v.rule, evidence=evidence, review=v.review,
        reviewed_by=v.reviewed_by, reviewed_at=v.reviewed_at, review_note=v.review_note)


def _get(ctx: ApiContext, violation_id: str) -> ViolationRecord:
    record = ctx.stores.violations.get(violation_id)
    if record is None:
        raise ApiError(404, f"no violation {violation_id!r} (never stored, or past retention)",
                       "path.violation_id")
    return record


@router.get("", response_model=ViolationPage, summary="Violations, newest first")
def list_violations(
    request: Request, who: TrafficUser,
    review: Annotated[Literal["pending", "confirmed", "rejected"] | None, Query()] = None,
    type: Annotated[ViolationType | None, Query(description="violation type")] = None,
    camera: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")] = None,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> ViolationPage:
    ctx = get_ctx(request)
    lo, hi = window(since, until)
    records = ctx.stores.violations.list(review=review, violation=type.value if type else None,
                                         camera=camera, since_ns=lo, until_ns=hi, limit=limit)
    if who.sees_plates:
        ctx.audit(who, "violations.list", {"review": review, "camera": camera, "limit": limit},
                  len(records))
    return ViolationPage(count=len(records), items=[_out(ctx, v, who) for v in records])


@router.get("/{violation_id}", response_model=ViolationOut, summary="One violation")
def get_violation(request: Request, violation_id: ViolationId, who: TrafficUser) -> ViolationOut:
    ctx = get_ctx(request)
    record = _get(ctx, violation_id)
    if who.sees_plates:
        ctx.audit(who, "violations.get", {"violation_id": violation_id}, 1)
    return _out(ctx, record, who)


@router.post("/{violation_id}/review", response_model=ViolationOut,
             summary="Confirm or reject (once; 409 when already reviewed)")
def review_violation(request: Request, violation_id: ViolationId, body: ReviewIn,
                     who: TrafficUser) -> ViolationOut:
    ctx = get_ctx(request)
    record = ctx.stores.violations.review(violation_id, body.decision, reviewer=who.name,
                                          note=body.note)
    ctx.audit(who, "violations.review", {"violation_id": violation_id,
                                         "decision": body.decision, "note": body.note}, 1)
    return _out(ctx, record, who)


@router.get("/{violation_id}/images/{image_id}", summary="One evidence image",
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
def evidence_image(request: Request, violation_id: ViolationId, who: TrafficUser,
                   image_id: Annotated[str, Path(min_length=1, max_length=200)]) -> Response:
    ctx = get_ctx(request)
    record = _get(ctx, violation_id)
    if image_id not in {e["image_id"] for e in record.evidence}:
        raise ApiError(404, f"violation {violation_id!r} has no image {image_id!r}",
                       "path.image_id")
    data = ctx.stores.evidence.read(image_id)
    if data is None:
        raise ApiError(404, f"image {image_id!r} is not in the evidence store (still on the"
                       " gateway, or past retention)", "path.image_id")
    ctx.audit(who, "violations.image", {"violation_id": violation_id, "image_id": image_id}, 1)
    return Response(data, media_type=media_type(data))


def _manifest(ctx: ApiContext, v: ViolationRecord, who: Principal,
              files: list[dict[str, Any]]) -> dict[str, Any]:
    local = timezone(timedelta(hours=ctx.config.local_utc_offset_hours))
    kinds = kinds_for(v.plate) if v.plate else ()
    return {
        "violation_id": v.id, "violation": v.violation,
        "occurred_at_utc": v.ts.isoformat(),
        "occurred_at_local": v.ts.astimezone(local).isoformat(timespec="seconds"),
        "location": v.location, "site": v.site, "device": v.device, "camera": v.camera,
        "plate": v.plate,
        "plate_display": format_plate(v.plate, kinds[0]) if v.plate and kinds else v.plate,
        "plate_color": v.plate_color, "vehicle_class": v.vehicle_class,
        "rule": v.rule, "track_id": v.track_id,
        "review": {"decision": v.review, "by": v.reviewed_by,
                   "at": v.reviewed_at.isoformat() if v.reviewed_at else None,
                   "note": v.review_note},
        "images": files,
        "exported_by": who.name, "exported_at": datetime.now(UTC).isoformat(),
    }


@router.get("/{violation_id}/package", summary="Evidence package (zip) of a confirmed violation",
            responses={200: {"content": {"application/zip": {}}}})
def evidence_package(request: Request, violation_id: ViolationId, who: TrafficUser) -> Response:
    ctx = get_ctx(request)
    v = _get(ctx, violation_id)
    if v.review != "confirmed":
        raise ApiError(409, f"violation {violation_id!r} is {v.review}; only a confirmed"
                       " violation has an evidence package")
    files: list[dict[str, Any]] = []
    blobs: list[tuple[str, bytes]] = []
    for i, image in enumerate(v.evidence):
        data = ctx.stores.evidence.read(image["image_id"])
        if data is None:
            raise ApiError(409, f"image {image['image_id']!r} ({image['role']}) is not in the"
                           " evidence store; the package would be incomplete")
        digest = hashlib.sha256(data).hexdigest()
        if digest != image["sha256"]:
            raise ApiError(409, f"image {image['image_id']!r} does not match its hash: camera"
                           f" sent {image['sha256']}, store has {digest}")
        name = f"images/{i + 1:02d}-{image['role']}.{EXTENSIONS.get(media_type(data), 'bin')}"
        files.append({**image, "file": name})
        blobs.append((name, data))
    manifest = json.dumps(_manifest(ctx, v, who, files), indent=2, ensure_ascii=False).encode()
    sums = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n"
                   for n, d in [("manifest.json", manifest), *blobs])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", manifest)
        for name, data in blobs:
            z.writestr(name, data)
        z.writestr("SHA256SUMS", sums)
    ctx.audit(who, "violations.export", {"violation_id": violation_id, "plate": v.plate},
              len(blobs))
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in violation_id)
    return Response(buffer.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="violation-{safe}.zip"'})
