"""Stations: readings and the stream's aggregates over a time range, with a summary.

Flood operators and admin. Read from the embedded time-series store the stream
writes (``store.timeseries_path``); a deployment on InfluxDB reads it with its own
tools, and these endpoints answer 503 when no file is configured.
"""

from __future__ import annotations

from datetime import datetime
from statistics import fmean
from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Query, Request

from cloud.api.auth import OperatorUser
from cloud.api.context import get_ctx, window
from cloud.api.errors import ApiError, invalid
from cloud.api.models import PointOut, SeriesOut
from cloud.stores.timeseries import Point, SqliteTimeSeriesStore
from ioc.contract import QUANTITIES

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])

Station = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Since = Annotated[datetime | None, Query(description="from (inclusive, with zone)")]
Until = Annotated[datetime | None, Query(description="to (exclusive, with zone)")]
MaxPoints = Annotated[int, Query(ge=1, le=100_000, description="the newest this many points")]
_TAGS = frozenset({"site", "station", "device", "window"})


def _series(request: Request) -> SqliteTimeSeriesStore:
    store = get_ctx(request).stores.timeseries
    if store is None:
        raise ApiError(503, "no time-series store configured (store.timeseries_path)")
    return store


def _summary(station: str, name: str, unit: str | None, points: list[Point],
             limit: int, aggregate: bool) -> SeriesOut:
    truncated = len(points) > limit
    points = points[-limit:]
    out = [PointOut(ts=p.ts, value=float(p.fields["value"]),
                    samples=int(p.fields["samples"]) if aggregate and "samples" in p.fields
                    else None,
                    labels={k: v for k, v in p.tags.items() if k not in _TAGS} if aggregate
                    else {})
           for p in points if isinstance(p.fields.get("value"), int | float)]
    values = [p.value for p in out]
    return SeriesOut(station=station, name=name, unit=unit, count=len(out), truncated=truncated,
                     min=min(values) if values else None, max=max(values) if values else None,
                     mean=fmean(values) if values else None, first=out[0] if out else None,
                     last=out[-1] if out else None, points=out)


@router.get("/{station}/readings", response_model=SeriesOut,
            summary="Readings of one quantity at a station, with min/max/mean")
async def readings(
    request: Request, station: Station, who: OperatorUser,
    quantity: Annotated[str, Query(description=f"one of {', '.join(QUANTITIES)}")],
    since: Since = None, until: Until = None, limit: MaxPoints = 10_000,
) -> SeriesOut:
    if quantity not in QUANTITIES:
        raise invalid("query.quantity", f"{quantity!r} is not one of {', '.join(QUANTITIES)}")
    window(since, until)
    store = _series(request)
    points = await anyio.to_thread.run_sync(
        lambda: store.query(quantity, {"station": station}, start=since, end=until))
    return _summary(station, quantity, QUANTITIES[quantity].unit, points, limit, False)


@router.get("/{station}/aggregates", response_model=SeriesOut,
            summary="An aggregate the stream computed (rain totals, rate of rise, ...)")
async def aggregates(
    request: Request, station: Station, who: OperatorUser,
    measure: Annotated[str, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$",
                                  examples=["rain_total", "rate_of_rise"])],
    window_s: Annotated[int | None, Query(ge=1, le=31 * 86400,
                                          description="only this window length")] = None,
    since: Since = None, until: Until = None, limit: MaxPoints = 10_000,
) -> SeriesOut:
    window(since, until)
    store = _series(request)
    tags = {"station": station, **({"window": f"{window_s}s"} if window_s else {})}
    points = await anyio.to_thread.run_sync(
        lambda: store.query(measure, tags, start=since, end=until))
    return _summary(station, measure, None, points, limit, True)
