"""Open data: NGSI-LD entities in the FIWARE Smart Data Models shapes, for anyone.

``GET /ngsi-ld/v1/entities?type=...`` follows the NGSI-LD API's query shape (type,
``limit``/``offset`` paging, ``options=keyValues`` for the simplified form) so an
NGSI-LD consumer can read it as it reads a context broker. No token is needed: open
data carries nothing personal (no plate, image, track or watchlist alert; see
:mod:`cloud.opendata.ngsi`), whatever the caller's role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from cloud.api.context import ApiContext, get_ctx, window
from cloud.api.errors import ApiError
from cloud.opendata import ngsi, queries
from cloud.web.city import city, locations

router = APIRouter(prefix="/ngsi-ld/v1", tags=["open data"])

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000
EntityType = Literal["Alert", "AirQualityObserved", "TrafficFlowObserved", "TrafficViolation"]

DOC = """\
One page of entities of one type, oldest first. Normalized NGSI-LD by default
(Property/GeoProperty/Relationship, `observedAt` on every observed value, `@context`
in the body, `Content-Type: application/ld+json`); `options=keyValues` gives the
simplified form the Smart Data Models schemas describe. `since`/`until` filter on the
observation time (Alert: its last change). When the page is full, a `Link` header
with `rel="next"` names the next one.

Published: alerts of the flood/environment operators and traffic officers (never
watchlist hits or device alerts); hourly air quality per station; traffic flow per
camera, lane and minute; violations not rejected on review, without plate, images,
track or vehicle description. Stations and cameras without coordinates are left out
of AirQualityObserved and TrafficFlowObserved (the models require a location).
"""


def _page(ctx: ApiContext, kind: str, lo: int | None, hi: int | None, limit: int,
          offset: int) -> list[dict[str, object]]:
    c = city()
    places = locations(c)
    devices = {s["id"]: s["device"] for s in c.doc["stations"] if s["device"]}
    devices.update({cam["camera"]: cam["device"] for cam in c.doc["cameras"]})
    page = {"lo": lo, "hi": hi, "limit": limit, "offset": offset}
    if kind == "Alert":
        return queries.alerts(ctx.stores.db, places.get, **page)
    if kind == "TrafficViolation":
        return queries.violations(ctx.stores.db, places.get, **page)
    if ctx.stores.timeseries is None:
        raise ApiError(503, f"no time-series store configured: {kind} needs"
                       " store.timeseries_path")
    reader = queries.SeriesReader(ctx.stores.timeseries.path)
    try:
        if kind == "AirQualityObserved":
            return reader.air_quality(places.get, devices, **page)
        return reader.traffic_flow(places.get, devices, **page)
    finally:
        reader.close()


@router.get("/entities", summary="Open data as NGSI-LD entities", description=DOC,
            responses={200: {"content": {"application/ld+json": {}}}})
async def entities(
    request: Request,
    type: Annotated[EntityType, Query(description="the Smart Data Models entity type")],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    since: Annotated[datetime | None, Query(description="observed at or after")] = None,
    until: Annotated[datetime | None, Query(description="observed before")] = None,
    options: Annotated[Literal["normalized", "keyValues"], Query(
        description="normalized (default) or keyValues (simplified)")] = "normalized",
) -> Response:
    ctx = get_ctx(request)
    lo, hi = window(since, until)
    page = await anyio.to_thread.run_sync(lambda: _page(ctx, type, lo, hi, limit, offset))
    if options == "keyValues":
        page = [ngsi.key_values(e) for e in page]
    headers = {}
    if len(page) == limit:
        params = {k: v for k, v in request.query_params.items() if k != "offset"}
        params["offset"] = str(offset + limit)
        headers["Link"] = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
    return Response(queries.dumps(page), media_type="application/ld+json", headers=headers)
