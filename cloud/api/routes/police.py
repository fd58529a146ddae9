"""Police: the watchlist (CRUD), plate history search, watchlist hits.

Police and admin only. Every answer that carries a plate, and every watchlist
change, is written to the audit log with the parameters and the result count.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request

from cloud.api.auth import PoliceUser
from cloud.api.context import get_ctx, window
from cloud.api.errors import ApiError, invalid
from cloud.api.models import (
    HitOut,
    HitPage,
    PlateReadOut,
    PlateSearchOut,
    WatchlistIn,
    WatchlistOut,
    WatchlistPage,
    WatchlistPatch,
)
from cloud.stores.plates import MAX_LIMIT, search_plate
from cloud.stores.watchlist import UNSET, WatchlistEntry

router = APIRouter(prefix="/api/v1", tags=["police"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most this many items")]
Since = Annotated[datetime | None, Query(description="from this instant (inclusive, with zone)")]
Until = Annotated[datetime | None, Query(description="to this instant (exclusive, with zone)")]
Camera = Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
EntryId = Annotated[str, Path(min_length=1, max_length=64)]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _entry(entry: WatchlistEntry) -> WatchlistOut:
    return WatchlistOut.model_validate(entry)


def _get(request: Request, entry_id: str) -> WatchlistEntry:
    entry = get_ctx(request).stores.watchlist.get(entry_id)
    if entry is None:
        raise ApiError(404, f"no watchlist entry {entry_id!r}", "path.entry_id")
    return entry


@router.get("/watchlist", response_model=WatchlistPage, summary="List watchlist entries")
def list_watchlist(
    request: Request, who: PoliceUser,
    plate: Annotated[str | None, Query(max_length=32)] = None,
    active: Annotated[bool, Query(description="only entries not expired now")] = False,
    limit: Limit = 100, offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> WatchlistPage:
    ctx = get_ctx(request)
    items = ctx.stores.watchlist.list(plate=plate, now=datetime.now(UTC) if active else None,
                                      limit=limit, offset=offset)
    ctx.audit(who, "watchlist.list", {"plate": plate, "active": active, "limit": limit,
                                      "offset": offset}, len(items))
    return WatchlistPage(count=len(items), items=[_entry(e) for e in items])


def _field_of(exc: ValueError) -> str:
    """Where in the body a store's refusal points: its messages start with the field."""
    first = str(exc).split(" ", 1)[0]
    return f"body.{first}" if first in ("plate", "reason", "owner", "expires_at") else "body"


@router.post("/watchlist", response_model=WatchlistOut, status_code=201,
             summary="Add a plate to the watchlist")
def add_watchlist(request: Request, body: WatchlistIn, who: PoliceUser) -> WatchlistOut:
    ctx = get_ctx(request)
    try:
        entry = ctx.stores.watchlist.add(body.plate, body.reason, body.owner or who.name,
                                         body.expires_at)
    except ValueError as exc:
        raise invalid(_field_of(exc), exc) from None
    ctx.audit(who, "watchlist.add", {"entry_id": entry.entry_id, "plate": entry.plate,
                                     "reason": entry.reason, "owner": entry.owner,
                                     "expires_at": _iso(entry.expires_at)}, 1)
    return _entry(entry)


@router.get("/watchlist/{entry_id}", response_model=WatchlistOut, summary="One watchlist entry")
def get_watchlist(request: Request, entry_id: EntryId, who: PoliceUser) -> WatchlistOut:
    entry = _get(request, entry_id)
    get_ctx(request).audit(who, "watchlist.get", {"entry_id": entry_id}, 1)
    return _entry(entry)


@router.patch("/watchlist/{entry_id}", response_model=WatchlistOut,
              summary="Change reason, owner or expiry")
def update_watchlist(request: Request, entry_id: EntryId, body: WatchlistPatch,
                     who: PoliceUser) -> WatchlistOut:
    ctx = get_ctx(request)
    given = body.model_fields_set
    if not given:
        raise invalid("body", "nothing to change: give reason, owner or expires_at")
    if "reason" in given and body.reason is None:
        raise invalid("body.reason", "reason cannot be null")
    if "owner" in given and body.owner is None:
        raise invalid("body.owner", "owner cannot be null")
    _get(request, entry_id)  # an unknown entry is a 404 whatever the body says
    try:
        entry = ctx.stores.watchlist.update(
            entry_id, reason=body.reason, owner=body.owner,
            expires_at=body.expires_at if "expires_at" in given else UNSET)
    except ValueError as exc:
        raise invalid(_field_of(exc), exc) from None
    if entry is None:
        raise ApiError(404, f"no watchlist entry {entry_id!r}", "path.entry_id")
    changes: dict[str, Any] = {k: getattr(body, k) for k in sorted(given)}
    if "expires_at" in changes:
        changes["expires_at"] = _iso(body.expires_at)
    ctx.audit(who, "watchlist.update", {"entry_id": entry_id, "plate": entry.plate, **changes}, 1)
    return _entry(entry)


@router.delete("/watchlist/{entry_id}", response_model=WatchlistOut,
               summary="Remove a watchlist entry (returns what was removed)")
def delete_watchlist(request: Request, entry_id: EntryId, who: PoliceUser) -> WatchlistOut:
    ctx = get_ctx(request)
    entry = _get(request, entry_id)
    if not ctx.stores.watchlist.delete(entry_id):
        raise ApiError(404, f"no watchlist entry {entry_id!r}", "path.entry_id")
    ctx.audit(who, "watchlist.delete", {"entry_id": entry_id, "plate": entry.plate}, 1)
    return _entry(entry)


@router.get("/plates/history", response_model=PlateSearchOut, summary="Search plate reads")
def plate_history(
    request: Request, who: PoliceUser,
    plate: Annotated[str, Query(min_length=1, max_length=32, examples=["75A-123.45"])],
    match: Annotated[Literal["exact", "one_off", "prefix"], Query(
        description="exact; one_off: also one OCR confusion away (0/O/D, 8/B, 1/I/L ...);"
                    " prefix: plates starting with it")] = "exact",
    since: Since = None, until: Until = None, camera: Camera = None, limit: Limit = 100,
) -> PlateSearchOut:
    ctx = get_ctx(request)
    window(since, until)
    try:
        term = search_plate(plate, match)
    except ValueError as exc:
        raise invalid("query.plate", exc) from None
    reads = ctx.stores.plates.search(term, mode=match, since=since, until=until, camera=camera,
                                     limit=limit)
    ctx.audit(who, "plates.history", {"plate": term, "match": match, "since": _iso(since),
                                      "until": _iso(until), "camera": camera, "limit": limit},
              len(reads))
    return PlateSearchOut(plate=term, match=match, count=len(reads),
                          items=[PlateReadOut.model_validate(r) for r in reads])


@router.get("/plates/reads/{read_id}", response_model=PlateReadOut, summary="One plate read")
def plate_read(request: Request, who: PoliceUser,
               read_id: Annotated[str, Path(min_length=1, max_length=200)]) -> PlateReadOut:
    ctx = get_ctx(request)
    read = ctx.stores.plates.get(read_id)
    ctx.audit(who, "plates.read", {"read_id": read_id}, 0 if read is None else 1)
    if read is None:
        raise ApiError(404, f"no plate read {read_id!r} (never stored, or past retention)",
                       "path.read_id")
    return PlateReadOut.model_validate(read)


@router.get("/plates/hits", response_model=HitPage, summary="Watchlist hits, newest first")
def watchlist_hits(
    request: Request, who: PoliceUser,
    plate: Annotated[str | None, Query(max_length=32)] = None,
    since: Since = None, until: Until = None, limit: Limit = 100,
) -> HitPage:
    ctx = get_ctx(request)
    lo, hi = window(since, until)
    hits = ctx.stores.plates.hits(plate=plate, since_ns=lo, until_ns=hi, limit=limit)
    ctx.audit(who, "plates.hits", {"plate": plate, "since": _iso(since), "until": _iso(until),
                                   "limit": limit}, len(hits))
    return HitPage(count=len(hits), items=[HitOut.model_validate(h) for h in hits])
