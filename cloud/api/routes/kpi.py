"""KPIs of the IOC: one endpoint with every indicator the city is judged on (vietnam.md §6).

Every role: the answer holds counts, rates and durations only, never a plate, an
image or a track. Alert figures cover the caller's own audiences. Definitions are
in :mod:`cloud.kpi.events` and :mod:`cloud.kpi.air` and in the endpoint's
description below (the OpenAPI document carries it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from cloud.api.auth import AnyUser
from cloud.api.context import ApiContext, get_ctx, window
from cloud.kpi.air import AirKpis
from cloud.kpi.events import Durations, EventKpis
from cloud.stores.times import now_ns

router = APIRouter(prefix="/api/v1", tags=["kpi"])

KPI_DOC = """\
Window: `[since, until)` (both optional, with a zone; default: everything stored up to now).

- **violations**: per local day (UTC offset of the server's config) and type; `automatic`
  counts violations with a plate read and at least one evidence image (a complete case
  file with no one looking for the vehicle); `automatic_share` = automatic / count.
- **plate_reads**: per camera gateway, passes (vehicle tracks) and plate reads in the
  window; `rate` = reads / passes; `valid_share` = valid plates / reads.
- **read_to_watchlist_alert**: for each watchlist alert raised, when the cloud stored it
  minus the event time of the read that caused it (camera → broker → stream → store, in
  seconds; the camera's clock against the cloud's).
- **uptime**: per device, buckets of `bucket_s` seconds (epoch grid) in the window, clipped
  to now and to the device's first heartbeat; `uptime` = buckets with at least one
  heartbeat / buckets. Cameras are devices whose heartbeats carry fps.
- **air**: per air station, hourly VN_AQI points in the window: hours, mean, max, hours per
  band (Decision 1459/QĐ-TCMT), the newest 168 hourly values and every daily value.
- **alerts**: alerts whose first change is in the window, by peak severity and category;
  time to acknowledge (first acknowledge action − when the first change was stored) and to
  clear (earlier of the stored clear change and an operator's clear − the same), in
  seconds, all on the cloud's clock.
"""


class DurationsOut(BaseModel):
    count: int
    mean_s: float | None
    median_s: float | None
    max_s: float | None


class ViolationDayOut(BaseModel):
    day: date
    violation: str
    count: int
    automatic: int
    automatic_share: float


class ViolationKpis(BaseModel):
    total: int
    automatic: int
    automatic_share: float | None
    days: list[ViolationDayOut]


class PlateRateOut(BaseModel):
    site: str
    device: str
    passes: int
    reads: int
    valid_reads: int
    rate: float | None
    valid_share: float | None


class UptimeOut(BaseModel):
    site: str
    device: str
    kind: str = Field(description="camera or sensor")
    buckets_up: int
    buckets: int
    uptime: float | None


class AqiPointOut(BaseModel):
    ts: datetime
    aqi: int
    band: str


class StationAqiOut(BaseModel):
    station: str
    hours: int
    mean: float | None
    max: int | None
    hours_per_band: dict[str, int]
    hourly: list[AqiPointOut]
    daily: list[AqiPointOut]


class AlertKpisOut(BaseModel):
    by_severity: dict[str, int]
    by_category: dict[str, int]
    acknowledge: DurationsOut
    clear: DurationsOut


class KpiOut(BaseModel):
    since: datetime | None
    until: datetime | None
    bucket_s: int
    violations: ViolationKpis
    plate_reads: list[PlateRateOut]
    read_to_watchlist_alert: DurationsOut
    uptime: list[UptimeOut]
    air: list[StationAqiOut]
    alerts: AlertKpisOut


def _durations(d: Durations) -> DurationsOut:
    return DurationsOut(count=d.count, mean_s=d.mean_s, median_s=d.median_s, max_s=d.max_s)


def compute(ctx: ApiContext, lo: int | None, hi: int | None, audiences: tuple[str, ...],
            bucket_s: int) -> dict[str, object]:
    """Every indicator as plain data (blocking: call it from a worker thread)."""
    kpis = EventKpis(ctx.stores.db, utc_offset_hours=ctx.config.local_utc_offset_hours)
    days = kpis.violations_per_day(lo, hi)
    total = sum(d.count for d in days)
    auto = sum(d.automatic for d in days)
    air = []
    if ctx.stores.timeseries is not None:
        store = AirKpis(ctx.stores.timeseries.path)
        try:
            air = store.stations(lo, hi)
        finally:
            store.close()
    alerts = kpis.alerts(lo, hi, audiences)
    return {
        "bucket_s": bucket_s,
        "violations": ViolationKpis(
            total=total, automatic=auto, automatic_share=auto / total if total else None,
            days=[ViolationDayOut(day=d.day, violation=d.violation, count=d.count,
                                  automatic=d.automatic, automatic_share=d.automatic / d.count)
                  for d in days]),
        "plate_reads": [PlateRateOut(site=p.site, device=p.device, passes=p.passes,
                                     reads=p.reads, valid_reads=p.valid_reads, rate=p.rate,
                                     valid_share=p.valid_share)
                        for p in kpis.plate_reads(lo, hi)],
        "read_to_watchlist_alert": _durations(kpis.read_to_watchlist_alert(lo, hi)),
        "uptime": [UptimeOut(site=u.site, device=u.device, kind=u.kind,
                             buckets_up=u.buckets_up, buckets=u.buckets, uptime=u.uptime)
                   for u in kpis.uptime(lo, hi, now_ns=now_ns(), bucket_s=bucket_s)],
        "air": [StationAqiOut(station=s.station, hours=s.hours, mean=s.mean, max=s.max,
                              hours_per_band=s.hours_per_band,
                              hourly=[AqiPointOut(ts=p.ts, aqi=p.aqi, band=p.band)  # type: ignore[arg-type]
                                      for p in s.hourly],
                              daily=[AqiPointOut(ts=p.ts, aqi=p.aqi, band=p.band)  # type: ignore[arg-type]
                                     for p in s.daily])
                for s in air],
        "alerts": AlertKpisOut(by_severity=alerts.by_severity, by_category=alerts.by_category,
                               acknowledge=_durations(alerts.acknowledge),
                               clear=_durations(alerts.clear)),
    }


@router.get("/kpi", response_model=KpiOut, summary="Indicators of the IOC", description=KPI_DOC)
async def kpi(
    request: Request, who: AnyUser,
    since: Annotated[datetime | None, Query(description="from (inclusive, with zone)")] = None,
    until: Annotated[datetime | None, Query(description="to (exclusive, with zone)")] = None,
    bucket_s: Annotated[int, Query(ge=10, le=86_400,
                                   description="uptime bucket in seconds")] = 60,
) -> KpiOut:
    ctx = get_ctx(request)
    lo, hi = window(since, until)
    data = await anyio.to_thread.run_sync(
        lambda: compute(ctx, lo, hi, who.audiences, bucket_s))
    return KpiOut(since=since, until=until, **data)  # type: ignore[arg-type]
