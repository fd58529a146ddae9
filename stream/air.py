"""Air-quality state of one station in event time: hourly means, NowCast, O3 8 h, hourly
and daily VN_AQI (:mod:`stream.aqi`), emitted as :class:`ioc.contract.Aggregate`.

Windows. A reading stamped ``ts`` belongs to the hour ``(h, h+1h]`` (the period ending
at its timestamp, as for rain) and to the local day ``(00:00, 24:00]`` at ``utc_offset``
(Asia/Ho_Chi_Minh is +07:00 all year). Each aggregate is stamped with its window end.

Measures (labels): hourly ``mean_1h`` (pollutant), ``nowcast_pm25``, ``nowcast_pm10``,
``mean_8h`` (pollutant=o3), ``vn_aqi_hourly`` and ``vn_aqi_hourly_sub`` (pollutant);
daily ``mean_24h`` (pm25/pm10), ``max_1h`` (gases), ``max_8h`` (o3), ``vn_aqi_daily``
and ``vn_aqi_daily_sub`` (pollutant). Labels hold only series dimensions that never
change for a given window: the band and dominant pollutant would change when a
correction moves the index, and labels are tags of the stored series, so a corrected
point would land in a second series instead of replacing the first. They travel in
:class:`AqiReport` instead (the band is also a pure function of the value).

Watermark. The watermark is the latest event time seen minus ``lateness``. An hour
closes when the watermark reaches its end, a day likewise; only hours that hold a
reading close (a silent hour emits nothing: "no data" stays visible as a gap).

Late data. A reading inside the lateness lands in a still-open hour and simply counts.
One for an hour already closed, but ending after ``watermark - correction``, is added
and every aggregate it changes is emitted again with the same identity (same id,
series and time, so the stores upsert): its hour, the NowCast / O3 8 h / hourly index
of the 11 hours after it, and the days they fall in. Only values that changed are
re-emitted. Older readings are refused with a reason (the flow dead-letters them). A
reading repeated with the same pollutant and timestamp replaces the first
(at-least-once delivery never counts twice).

Cost: one reading is a few dict operations; closing an hour is O(readings in it).
Raw readings are kept only while their hour can still be corrected, hourly means 36 h
longer (what NowCast, O3 8 h and the daily index look back over); nothing else grows.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from ioc.contract import Aggregate, stable_id
from stream.aqi import (
    GASES,
    PM,
    POLLUTANTS,
    AqiResult,
    AqiUnavailableError,
    Band,
    daily_aqi,
    hourly_aqi,
    nowcast,
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR: Final = 3_600_000
_DAY: Final = 24 * _HOUR
_KEEP_MEANS: Final = 36 * _HOUR  # look-back of NowCast (11 h) and a day's O3 8 h (24 + 7 h)
UNIT: Final = "ug/m3"
AQI_UNIT: Final = ""  # a dimensionless index


def _ms(td: timedelta) -> int:
    """Whole milliseconds of a duration (attribute arithmetic: 10x faster than ``//``)."""
    return (td.days * 86_400 + td.seconds) * 1000 + td.microseconds // 1000


def _dt(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def aggregate_id(site: str, station: str, measure: str, labels: dict[str, str],
                 end: datetime) -> str:
    """Identity of an aggregate: its series (site, station, measure, labels) and window end."""
    return stable_id(site, station, measure, *(labels[k] for k in sorted(labels)),
                     end.isoformat())


@dataclass(frozen=True, slots=True)
class AqiReport:
    """A computed hourly or daily VN_AQI with what the aggregates cannot carry (band,
    dominant pollutant), for alert rules and the operators' page."""

    measure: str  # vn_aqi_hourly or vn_aqi_daily
    end: datetime
    aqi: int
    dominant: str
    band: Band
    capped: bool
    revised: bool
    aggregate_id: str


@dataclass(slots=True)
class AirUpdate:
    """What one reading produced: aggregates to store, index reports, notes, refusal."""

    aggregates: list[Aggregate]
    reports: list[AqiReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    late: bool = False
    refused: str | None = None


@dataclass(frozen=True, slots=True)
class _Value:
    measure: str
    labels: dict[str, str]
    window_s: int
    value: float
    unit: str
    samples: int


@dataclass(slots=True)
class _Hour:
    readings: dict[str, dict[int, float]] | None = field(default_factory=dict)
    means: dict[str, tuple[float, int]] = field(default_factory=dict)
    emitted: dict[tuple[str, str], tuple[float, int]] = field(default_factory=dict)

    def recompute(self, pollutant: str) -> None:
        assert self.readings is not None
        vals = self.readings.get(pollutant)
        if vals:
            self.means[pollutant] = (math.fsum(vals.values()) / len(vals), len(vals))


@dataclass(slots=True)
class AirStation:
    """Air-quality state of one station (picklable: Bytewax state and recovery snapshots)."""

    site: str
    station: str
    device: str | None = None
    lateness: timedelta = timedelta(minutes=10)
    correction: timedelta = timedelta(hours=6)
    utc_offset: timedelta = timedelta(hours=7)
    min_daily_hours: int = 18  # PM 24 h mean needs 75 % of the hours (configurable)
    min_o3_8h_hours: int = 6  # O3 8 h mean needs 6 of 8 hours (configurable)
    hours: dict[int, _Hour] = field(default_factory=dict)  # hour end (ms) -> data
    days: dict[int, dict[tuple[str, str], tuple[float, int]]] = field(default_factory=dict)
    open_hours: list[int] = field(default_factory=list)  # heap of hour ends not yet closed
    open_days: list[int] = field(default_factory=list)  # heap of day ends not yet closed
    max_seen: int | None = None  # ms
    _lateness_ms: int = field(init=False, default=0, repr=False)
    _correction_ms: int = field(init=False, default=0, repr=False)
    _offset_ms: int = field(init=False, default=0, repr=False)

    def __post_init__(self) -> None:
        self._lateness_ms = _ms(self.lateness)
        self._correction_ms = _ms(self.correction)
        self._offset_ms = _ms(self.utc_offset)
        if self.lateness < timedelta(0) or self.correction < timedelta(0):
            raise ValueError(f"air station {self.station}: lateness {self.lateness} and"
                             f" correction {self.correction} must be >= 0")
        if _ms(self.utc_offset) % _HOUR:
            raise ValueError(f"air station {self.station}: utc_offset {self.utc_offset} must be"
                             " whole hours (hours are aligned on UTC hours)")
        if not 1 <= self.min_daily_hours <= 24 or not 1 <= self.min_o3_8h_hours <= 8:
            raise ValueError(f"air station {self.station}: min_daily_hours must be 1..24 and"
                             " min_o3_8h_hours 1..8")

    # ----------------------------------------------------------------- time
    def watermark(self) -> int | None:
        """Event time (ms) up to which hours are complete."""
        return None if self.max_seen is None else self.max_seen - self._lateness_ms

    def _day_end(self, hour_end: int) -> int:
        off = self._offset_ms
        return -((-(hour_end + off)) // _DAY) * _DAY - off

    # ----------------------------------------------------------------- input
    def add(self, ts: datetime, quantity: str, value: float,
            device: str | None = None) -> AirUpdate:
        """Add one reading (µg/m³); return the aggregates that closed or were corrected."""
        if quantity not in POLLUTANTS:
            return AirUpdate([], refused=f"air station {self.station}: quantity {quantity!r} is"
                             f" not a VN_AQI pollutant ({', '.join(POLLUTANTS)})")
        if ts.tzinfo is None:
            return AirUpdate([], refused=f"air station {self.station}: naive timestamp"
                             f" {ts.isoformat()} (event time must be UTC)")
        if not math.isfinite(value) or value < 0:
            return AirUpdate([], refused=f"air station {self.station}: {quantity} value"
                             f" {value!r} is not a concentration >= 0")
        t = _ms(ts - _EPOCH)
        end = -((-t) // _HOUR) * _HOUR
        wm = None if self.max_seen is None else self.max_seen - self._lateness_ms
        if wm is not None and end <= wm - self._correction_ms:
            return AirUpdate([], late=True, refused=(
                f"air station {self.station}: {quantity} reading at {ts.isoformat()} is too late:"
                f" its hour ended {_dt(end).isoformat()}, corrections are accepted only for"
                f" hours ending after {_dt(wm - _ms(self.correction)).isoformat()}"
                f" (watermark minus {self.correction})"))
        if device is not None:
            self.device = device
        hour = self.hours.get(end)
        if hour is None:
            hour = self.hours[end] = _Hour()
            if wm is None or end > wm:
                heapq.heappush(self.open_hours, end)
            day = self._day_end(end)
            if day not in self.days:  # a day closed without data gets it here, late
                self.days[day] = {}
                if wm is None or day > wm:
                    heapq.heappush(self.open_days, day)
        assert hour.readings is not None
        vals = hour.readings.get(quantity)
        if vals is None:
            vals = hour.readings[quantity] = {}
        vals[t] = value
        out = AirUpdate([])
        if wm is not None and end <= wm:
            out.late = True
            hour.recompute(quantity)
            self._correct(end, out)
        if self.max_seen is None or t > self.max_seen:
            self.max_seen = t
            wm = t - self._lateness_ms
            if ((self.open_hours and self.open_hours[0] <= wm)
                    or (self.open_days and self.open_days[0] <= wm)):
                self._advance(out)
        return out

    def advance(self, ts: datetime) -> AirUpdate:
        """Move event time to ``ts`` without a reading (e.g. a heartbeat of the station's
        gateway), so a quiet station's last hour and day close."""
        if ts.tzinfo is None:
            return AirUpdate([], refused=f"air station {self.station}: naive time {ts.isoformat()}"
                                 " (event time must be UTC)")
        out = AirUpdate([])
        t = _ms(ts - _EPOCH)
        if self.max_seen is None or t > self.max_seen:
            self.max_seen = t
            self._advance(out)
        return out

    # ----------------------------------------------------------------- closing
    def _advance(self, out: AirUpdate) -> None:
        wm = self.watermark()
        assert wm is not None
        closed = False
        while self.open_hours and self.open_hours[0] <= wm:
            end = heapq.heappop(self.open_hours)
            hour = self.hours[end]
            for p in list(hour.readings or ()):
                hour.recompute(p)
            self._emit_hour(end, out, revised=False)
            closed = True
        while self.open_days and self.open_days[0] <= wm:
            self._emit_day(heapq.heappop(self.open_days), out, revised=False)
            closed = True
        if closed:
            self._prune(wm)

    def _correct(self, end: int, out: AirUpdate) -> None:
        wm = self.watermark()
        assert wm is not None
        for i in range(12):  # NowCast of the 11 hours after; O3 8 h is inside that range
            later = end + i * _HOUR
            if later > wm:
                break
            if later in self.hours:
                self._emit_hour(later, out, revised=True)
        for day in sorted({self._day_end(end), self._day_end(end + 7 * _HOUR)}):
            if day <= wm and day in self.days:
                self._emit_day(day, out, revised=True)

    def _prune(self, wm: int) -> None:
        limit = wm - self._correction_ms
        for end in [e for e in self.hours if e <= limit]:
            if end <= limit - _KEEP_MEANS:
                del self.hours[end]
            else:
                self.hours[end].readings = None
        for day in [d for d in self.days if d <= limit]:
            del self.days[day]

    # ----------------------------------------------------------------- values
    def _mean(self, end: int, pollutant: str) -> tuple[float, int] | None:
        hour = self.hours.get(end)
        return None if hour is None else hour.means.get(pollutant)

    def _o3_8h(self, end: int) -> tuple[float, int] | None:
        vals = [m[0] for i in range(8) if (m := self._mean(end - i * _HOUR, "o3"))]
        if len(vals) < self.min_o3_8h_hours:
            return None
        return math.fsum(vals) / len(vals), len(vals)

    def _hour_values(self, end: int, notes: list[str]) -> tuple[dict[tuple[str, str], _Value],
                                                                 AqiResult | None]:
        vals: dict[tuple[str, str], _Value] = {}
        hour = self.hours[end]
        for p, (mean, n) in hour.means.items():
            vals["mean_1h", p] = _Value("mean_1h", {"pollutant": p}, 3600, round(mean, 3),
                                        UNIT, n)
        ncs: dict[str, float] = {}
        for p in PM:
            nc = nowcast([(m[0] if (m := self._mean(end - i * _HOUR, p)) else None)
                          for i in range(12)])
            if nc is not None:
                ncs[p] = nc.value
                vals[f"nowcast_{p}", ""] = _Value(f"nowcast_{p}", {}, 12 * 3600,
                                                  round(nc.value, 3), UNIT, nc.hours)
        o3_8h = self._o3_8h(end)
        if o3_8h is not None:
            vals["mean_8h", "o3"] = _Value("mean_8h", {"pollutant": "o3"}, 8 * 3600,
                                           round(o3_8h[0], 3), UNIT, o3_8h[1])
        gas = {p: hour.means[p][0] for p in GASES if p in hour.means}
        try:
            res = hourly_aqi(pm25_nowcast=ncs.get("pm25"), pm10_nowcast=ncs.get("pm10"),
                             o3_1h=gas.get("o3"), no2_1h=gas.get("no2"),
                             so2_1h=gas.get("so2"), co_1h=gas.get("co"))
        except AqiUnavailableError as exc:
            notes.append(f"air station {self.station} hour ending {_dt(end).isoformat()}: {exc}")
            return vals, None
        self._index_values(vals, res, "vn_aqi_hourly", 3600)
        notes.extend(f"air station {self.station} hour ending {_dt(end).isoformat()}: {n}"
                     for n in res.notes)
        return vals, res

    @staticmethod
    def _index_values(vals: dict[tuple[str, str], _Value], res: AqiResult, measure: str,
                      window_s: int) -> None:
        vals[measure, ""] = _Value(measure, {}, window_s, float(res.aqi), AQI_UNIT, len(res.subs))
        for p, sub in res.subs.items():
            vals[f"{measure}_sub", p] = _Value(f"{measure}_sub", {"pollutant": p}, window_s,
                                               float(sub.aqi), AQI_UNIT, 1)

    def _day_values(self, day: int, notes: list[str]
                    ) -> tuple[dict[tuple[str, str], _Value], AqiResult | None]:
        ends = [day - i * _HOUR for i in range(24)]
        vals: dict[tuple[str, str], _Value] = {}
        args: dict[str, float] = {}
        for p in POLLUTANTS:
            hourly = [m[0] for e in ends if (m := self._mean(e, p))]
            if not hourly:
                continue
            if p in PM:
                if len(hourly) < self.min_daily_hours:
                    notes.append(f"air station {self.station} day ending {_dt(day).isoformat()}:"
                                 f" {p} has {len(hourly)} hourly means, fewer than"
                                 f" {self.min_daily_hours}: no 24 h mean")
                    continue
                mean = math.fsum(hourly) / len(hourly)
                args[f"{p}_24h"] = mean
                vals["mean_24h", p] = _Value("mean_24h", {"pollutant": p}, 86400,
                                             round(mean, 3), UNIT, len(hourly))
            else:
                args[f"{p}_max_1h"] = max(hourly)
                vals["max_1h", p] = _Value("max_1h", {"pollutant": p}, 86400,
                                           round(max(hourly), 3), UNIT, len(hourly))
        o3_8h = [m[0] for e in ends if e in self.hours and (m := self._o3_8h(e))]
        if o3_8h:
            args["o3_max_8h"] = max(o3_8h)
            vals["max_8h", "o3"] = _Value("max_8h", {"pollutant": "o3"}, 86400,
                                          round(max(o3_8h), 3), UNIT, len(o3_8h))
        if not args:
            return vals, None
        try:
            res = daily_aqi(**args)
        except AqiUnavailableError as exc:
            notes.append(f"air station {self.station} day ending {_dt(day).isoformat()}: {exc}")
            return vals, None
        self._index_values(vals, res, "vn_aqi_daily", 86400)
        notes.extend(f"air station {self.station} day ending {_dt(day).isoformat()}: {n}"
                     for n in res.notes)
        return vals, res

    # ----------------------------------------------------------------- output
    def _emit(self, end: int, vals: dict[tuple[str, str], _Value],
              emitted: dict[tuple[str, str], tuple[float, int]], res: AqiResult | None,
              index_measure: str, revised: bool, out: AirUpdate) -> None:
        end_dt = _dt(end)
        device = self.device or self.station
        for key, v in vals.items():
            if emitted.get(key) == (v.value, v.samples):
                continue
            emitted[key] = (v.value, v.samples)
            agg = Aggregate(
                id=aggregate_id(self.site, self.station, v.measure, v.labels, end_dt),
                site=self.site, device=device, ts=end_dt, station=self.station,
                measure=v.measure, window_s=v.window_s, value=v.value, unit=v.unit,
                samples=v.samples, labels=v.labels)
            out.aggregates.append(agg)
            if res is not None and v.measure == index_measure:
                out.reports.append(AqiReport(index_measure, end_dt, res.aqi, res.dominant,
                                             res.band, res.capped, revised, agg.id))

    def _emit_hour(self, end: int, out: AirUpdate, revised: bool) -> None:
        vals, res = self._hour_values(end, out.notes)
        self._emit(end, vals, self.hours[end].emitted, res, "vn_aqi_hourly", revised, out)

    def _emit_day(self, day: int, out: AirUpdate, revised: bool) -> None:
        vals, res = self._day_values(day, out.notes)
        self._emit(day, vals, self.days.setdefault(day, {}), res, "vn_aqi_daily", revised, out)
