"""Air station state: hourly means, NowCast, O3 8 h, hourly/daily VN_AQI in event time,
with watermark, lateness, corrections, refusals, duplicates, local days and pickling."""

from __future__ import annotations

import pickle
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.stores.timeseries import SqliteTimeSeriesStore
from ioc.contract import Aggregate, decode_any, encode
from stream.air import AirStation, AirUpdate, aggregate_id
from stream.sinks import to_point

T0 = datetime(2025, 11, 3, 0, 0, tzinfo=UTC)  # 07:00 in Hue
H = timedelta(hours=1)
M = timedelta(minutes=1)
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
PM25_DAY = [26.9, 24.7, 20.5, 23.5, 19.5, 16.5, 19.0, 16.5, 20.3, 22.4, 19.6, 20.6]

Feed = list[tuple[timedelta, str, float]]


def station(**kw: object) -> AirStation:
    return AirStation(site="hue", station="kimlong-air", device="air-01", **kw)  # type: ignore[arg-type]


def feed(st: AirStation, items: Feed) -> list[AirUpdate]:
    return [st.add(T0 + dt, q, v) for dt, q, v in items]


def aggs(updates: list[AirUpdate]) -> list[Aggregate]:
    return [a for u in updates for a in u.aggregates]


def find(updates: list[AirUpdate], measure: str, end: datetime,
         pollutant: str | None = None) -> list[Aggregate]:
    return [a for a in aggs(updates) if a.measure == measure and a.ts == end
            and (pollutant is None or a.labels.get("pollutant") == pollutant)]


def one(updates: list[AirUpdate], measure: str, end: datetime,
        pollutant: str | None = None) -> Aggregate:
    found = find(updates, measure, end, pollutant)
    assert len(found) == 1, f"{measure} {pollutant} at {end}: {found}"
    return found[0]


def every_5_min(hour: int, quantity: str, value: float) -> Feed:
    """Twelve readings in the hour ending at T0 + ``hour`` h."""
    return [((hour - 1) * H + (5 * i + 2) * M, quantity, value) for i in range(12)]


def test_hour_closes_only_when_the_watermark_passes_its_end() -> None:
    st = station(lateness=timedelta(minutes=10))
    ups = feed(st, every_5_min(1, "pm25", 20.0))
    assert not aggs(ups)
    ups = feed(st, [(H + 9 * M, "pm25", 20.0)])  # watermark 00:59: still open
    assert not aggs(ups)
    ups = feed(st, [(H + 10 * M, "pm25", 20.0)])  # watermark 01:00: closes (00:00, 01:00]
    mean = one(ups, "mean_1h", T0 + H, "pm25")
    assert (mean.value, mean.samples, mean.window_s, mean.unit) == (20.0, 12, 3600, "ug/m3")
    assert mean.id == aggregate_id("hue", "kimlong-air", "mean_1h", {"pollutant": "pm25"}, T0 + H)
    assert (mean.site, mean.station, mean.device) == ("hue", "kimlong-air", "air-01")


@pytest.mark.parametrize("lateness_min", [0, 10, 30])
def test_out_of_order_inside_the_lateness_counts_in_the_open_hour(lateness_min: int) -> None:
    st = station(lateness=timedelta(minutes=lateness_min))
    items = every_5_min(1, "pm25", 10.0)
    items[3] = (items[3][0], "pm25", 70.0)
    late_one = items.pop(3)
    ups = feed(st, items)
    ups += feed(st, [late_one])  # arrives 40 min out of order, before the hour closed
    assert not any(u.late or u.refused for u in ups)
    ups += feed(st, [(H + (lateness_min + 1) * M, "pm25", 10.0)])
    mean = one(ups, "mean_1h", T0 + H, "pm25")
    assert (mean.value, mean.samples) == (15.0, 12)


def test_correction_of_a_closed_hour_reemits_the_same_identities() -> None:
    st = station(lateness=timedelta(0), correction=timedelta(hours=3))
    first = feed(st, [(30 * M, "pm25", 10.0), (90 * M, "pm25", 10.0), (150 * M, "pm25", 10.0),
                      (180 * M, "pm25", 10.0)])  # closes 01:00, 02:00, 03:00
    before = {(a.measure, a.ts): a for a in aggs(first) if not a.labels.get("pollutant")
              or a.measure == "mean_1h"}
    late = st.add(T0 + 40 * M, "pm25", 40.0)
    assert late.late
    assert late.refused is None
    fixed = {(a.measure, a.ts): a for a in late.aggregates}
    assert fixed["mean_1h", T0 + H].value == 25.0
    assert fixed["mean_1h", T0 + H].samples == 2
    # NowCast and the hourly index of 02:00 and 03:00 look back at 01:00: corrected too
    for key in [("nowcast_pm25", T0 + 2 * H), ("nowcast_pm25", T0 + 3 * H),
                ("vn_aqi_hourly", T0 + 2 * H)]:
        assert fixed[key].id == before[key].id
        assert fixed[key].value != before[key].value
    assert ("mean_1h", T0 + 2 * H) not in fixed  # unchanged values are not re-emitted
    assert all(r.revised for r in late.reports)
    again = st.add(T0 + 40 * M, "pm25", 40.0)  # the same reading again: nothing changes
    assert not again.aggregates


def test_reading_too_old_is_refused_with_a_reason() -> None:
    st = station(lateness=timedelta(minutes=10), correction=timedelta(hours=2))
    feed(st, [(30 * M, "pm25", 10.0), (5 * H, "pm25", 10.0)])
    up = st.add(T0 + 2 * H, "pm25", 99.0)  # hour ends 02:00 <= 04:50 - 2 h
    assert up.refused is not None
    assert "too late" in up.refused
    assert "kimlong-air" in up.refused
    assert not up.aggregates
    ok = st.add(T0 + 3 * H, "pm25", 99.0)  # hour ends 03:00 > 02:50: corrected
    assert ok.refused is None
    assert ok.late


@pytest.mark.parametrize(("ts", "quantity", "value", "reason"), [
    (T0, "temperature", 20.0, "not a VN_AQI pollutant"),
    (T0, "pm25", -1.0, "not a concentration"),
    (T0, "pm25", float("nan"), "not a concentration"),
    (datetime(2025, 11, 3), "pm25", 1.0, "naive timestamp"),
])
def test_bad_readings_are_refused_not_raised(ts: datetime, quantity: str, value: float,
                                             reason: str) -> None:
    up = station().add(ts, quantity, value)
    assert up.refused is not None
    assert reason in up.refused


def test_duplicate_readings_are_not_counted_twice() -> None:
    st = station(lateness=timedelta(0))
    items = every_5_min(1, "pm25", 12.0)
    ups = feed(st, items + items[:5] + [(H + M, "pm25", 1.0)])
    mean = one(ups, "mean_1h", T0 + H, "pm25")
    assert (mean.value, mean.samples) == (12.0, 12)


def test_only_gases_gives_means_but_no_index_and_says_why() -> None:
    st = station(lateness=timedelta(0))
    ups = feed(st, every_5_min(1, "o3", 136.1) + every_5_min(1, "no2", 118.7)
               + [(H + M, "o3", 1.0)])
    assert one(ups, "mean_1h", T0 + H, "o3").value == pytest.approx(136.1)
    assert not find(ups, "vn_aqi_hourly", T0 + H)
    notes = [n for u in ups for n in u.notes]
    assert any("no PM2.5 or PM10" in n for n in notes)


def test_decision_example_hour_by_hour() -> None:
    """The decision's PM2.5 day (09:00..20:00 local) gives NowCast 20.3 and VN_AQI 41 at 20:00,
    with O3 136.1 → 43 and NO2 118.7 → 59: the index is 59, dominant NO2."""
    st = station(lateness=timedelta(minutes=5))
    start = 1  # the hour ending T0 + 1 h is c12
    ups: list[AirUpdate] = []
    for i, c in enumerate(PM25_DAY):
        end = (start + i) * H
        ups += feed(st, [(end - 30 * M, "pm25", c - 1.0), (end, "pm25", c + 1.0)])
    last = (start + 11) * H
    ups += feed(st, [(last - M, "o3", 136.1), (last - M, "no2", 118.7),
                     (last + 5 * M, "pm25", 0.0)])
    end = T0 + last
    nc = one(ups, "nowcast_pm25", end)
    assert nc.value == pytest.approx(20.3, abs=0.05)
    assert (nc.samples, nc.window_s) == (12, 12 * 3600)
    assert one(ups, "vn_aqi_hourly_sub", end, "pm25").value == 41
    assert one(ups, "vn_aqi_hourly_sub", end, "o3").value == 43
    index = one(ups, "vn_aqi_hourly", end)
    assert index.value == 59
    report = next(r for u in ups for r in u.reports if r.end == end)
    assert (report.aqi, report.dominant, report.band.key, report.band.name_vi) == (
        59, "no2", "moderate", "Trung bình")
    assert report.aggregate_id == index.id


def test_o3_8h_needs_six_of_eight_hours() -> None:
    st = station(lateness=timedelta(0))
    ups = feed(st, [(h * H, "o3", 10.0 * h) for h in range(1, 6)] + [(6 * H, "pm25", 1.0)])
    assert not find(ups, "mean_8h", T0 + 5 * H)
    ups = feed(st, [(6 * H, "o3", 60.0), (7 * H, "o3", 70.0)])
    o3 = one(ups, "mean_8h", T0 + 6 * H, "o3")
    assert (o3.value, o3.samples, o3.window_s) == (35.0, 6, 8 * 3600)


def _day_of(value: float, local_day_start_utc: datetime, quantity: str = "pm25") -> Feed:
    base = local_day_start_utc - T0
    return [(base + h * H + 30 * M, quantity, value) for h in range(24)]


def test_daily_index_closes_at_local_midnight() -> None:
    st = station(lateness=timedelta(minutes=5))
    day_start = datetime(2025, 11, 3, 0, 0, tzinfo=UTC) - 7 * H  # 00:00 +07:00
    day_end = day_start + 24 * H  # 2025-11-03T17:00Z = 2025-11-04 00:00 in Hue
    items = [*_day_of(55.7, day_start), (day_end - T0 - 2 * H, "no2", 130.8)]
    ups = feed(st, items)
    assert not find(ups, "vn_aqi_daily", day_end)
    ups = feed(st, [(day_end - T0 + 5 * M, "pm25", 1.0)])
    daily = one(ups, "vn_aqi_daily", day_end)
    assert (daily.value, daily.window_s, daily.ts.isoformat()) == (
        110, 86400, "2025-11-03T17:00:00+00:00")
    assert one(ups, "mean_24h", day_end, "pm25").samples == 24
    assert one(ups, "vn_aqi_daily_sub", day_end, "no2").value == 65
    report = next(r for u in ups for r in u.reports if r.measure == "vn_aqi_daily")
    assert (report.aqi, report.dominant, report.band.key) == (110, "pm25", "poor")


@pytest.mark.parametrize(("minute_utc", "day_end_utc"), [
    (16 * 60 + 59, datetime(2025, 11, 3, 17, tzinfo=UTC)),  # 23:59 local, Nov 3
    (17 * 60, datetime(2025, 11, 3, 17, tzinfo=UTC)),  # 00:00 local ends Nov 3 (end-inclusive)
    (17 * 60 + 1, datetime(2025, 11, 4, 17, tzinfo=UTC)),  # 00:01 local, Nov 4
])
def test_day_boundary_in_plus_seven(minute_utc: int, day_end_utc: datetime) -> None:
    st = station(lateness=timedelta(0), min_daily_hours=1)
    ups = feed(st, [(minute_utc * M, "pm25", 30.0)])
    ups += [st.advance(day_end_utc + timedelta(days=1))]
    dailies = [a for a in aggs(ups) if a.measure == "vn_aqi_daily"]
    assert [a.ts for a in dailies] == [day_end_utc]


def test_daily_pm_mean_needs_enough_hours() -> None:
    st = station(lateness=timedelta(0))
    day_start = T0 - 7 * H
    ups = feed(st, _day_of(30.0, day_start)[:10])
    ups.append(st.advance(day_start + 25 * H))
    assert not [a for a in aggs(ups) if a.measure == "vn_aqi_daily"]
    assert any("fewer than 18" in n for u in ups for n in u.notes)


def test_correction_into_a_closed_day_reemits_the_daily_with_the_same_id() -> None:
    st = station(lateness=timedelta(0), correction=timedelta(hours=6))
    day_start = T0 - 7 * H
    day_end = day_start + 24 * H
    ups = feed(st, _day_of(20.0, day_start))
    ups.append(st.advance(day_end + H))
    first = one(ups, "vn_aqi_daily", day_end)
    late = st.add(day_end - 90 * M, "pm25", 500.0)  # a spike 1.5 h before midnight
    fixed = one([late], "vn_aqi_daily", day_end)
    assert fixed.id == first.id
    assert fixed.value > first.value


def test_capped_concentration_is_flagged() -> None:
    st = station(lateness=timedelta(0))
    ups = feed(st, [(30 * M, "pm10", 2900.0), (90 * M, "pm10", 2900.0), (2 * H, "pm10", 1.0)])
    ups += [st.add(T0 + 3 * H, "pm10", 1.0)]
    report = next(r for u in ups for r in u.reports if r.end == T0 + 2 * H)
    assert (report.aqi, report.capped, report.band.key) == (500, True, "hazardous")
    assert any("capped at 500" in n for u in ups for n in u.notes)


def test_aggregates_pass_the_wire_contract() -> None:
    st = station(lateness=timedelta(0), min_daily_hours=1)
    items = [(h * H + 10 * M, q, v) for h in range(30)
             for q, v in (("pm25", 30.0), ("pm10", 60.0), ("o3", 100.0), ("no2", 50.0),
                          ("so2", 20.0), ("co", 5000.0))]
    ups = feed(st, items)
    out = aggs(ups)
    assert {a.measure for a in out} >= {"mean_1h", "nowcast_pm25", "nowcast_pm10", "mean_8h",
                                        "vn_aqi_hourly", "vn_aqi_hourly_sub", "vn_aqi_daily",
                                        "vn_aqi_daily_sub", "mean_24h", "max_1h", "max_8h"}
    assert len({a.id for a in out}) == len(out)  # one id per series and time
    for a in out:
        assert all(LABEL_KEY.match(k) for k in a.labels)
        assert decode_any("t", encode(a)) == a


def test_pickled_state_mid_stream_gives_the_same_results() -> None:
    items: Feed = []
    for h in range(40):
        for k, q in enumerate(("pm25", "pm10", "o3", "no2")):
            items.append((h * H + (7 * k + 3) * M, q, 10.0 + (h * 7 + k * 3) % 50))
    items.insert(100, (5 * H + 20 * M, "pm25", 90.0))  # a correction
    items.insert(60, items[50])  # a duplicate
    plain = station(lateness=timedelta(minutes=10), min_daily_hours=12)
    expected = feed(plain, items)
    split = station(lateness=timedelta(minutes=10), min_daily_hours=12)
    got = feed(split, items[:77])
    split = pickle.loads(pickle.dumps(split))
    got += feed(split, items[77:])
    assert got == expected
    assert any(u.late for u in got)
    assert any(a.measure == "vn_aqi_daily" for a in aggs(got))


def test_memory_stays_bounded_over_many_days() -> None:
    st = station(lateness=timedelta(minutes=10), correction=timedelta(hours=6))
    for h in range(24 * 10):
        for m in (10, 30, 50):
            st.add(T0 + h * H + m * M, "pm25", 20.0)
    assert len(st.hours) <= 6 + 36 + 2
    assert sum(1 for h in st.hours.values() if h.readings is not None) <= 6 + 2
    assert len(st.days) <= 2


def test_long_silence_does_not_emit_empty_hours() -> None:
    st = station(lateness=timedelta(0))
    feed(st, [(30 * M, "pm25", 5.0)])
    up = st.add(T0 + timedelta(days=30, minutes=30), "pm25", 5.0)
    assert {a.ts for a in up.aggregates} <= {T0 + H, T0 - 7 * H + 24 * H}


@pytest.mark.parametrize("kw", [{"lateness": -M}, {"utc_offset": timedelta(minutes=30)},
                                {"min_daily_hours": 0}, {"min_o3_8h_hours": 9}])
def test_bad_parameters_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="air station kimlong-air"):
        station(**kw)


def test_a_correction_replaces_the_stored_point(tmp_path: Path) -> None:
    """The stores upsert by series and time: after a correction one point per series
    remains, holding the corrected value."""
    store = SqliteTimeSeriesStore(tmp_path / "ts.sqlite")
    try:
        st = station(lateness=timedelta(0), correction=timedelta(hours=3))
        ups = feed(st, [(30 * M, "pm25", 10.0), (90 * M, "pm25", 10.0), (150 * M, "pm25", 10.0)])
        store.write([to_point(a) for a in aggs(ups)])
        n_before = store.count()
        late = st.add(T0 + 40 * M, "pm25", 40.0)
        store.write([to_point(a) for a in late.aggregates])
        assert store.count() == n_before
        points = store.query("mean_1h", {"pollutant": "pm25"}, T0 + H, T0 + H + M)
        assert [(p.fields["value"], p.fields["samples"]) for p in points] == [(25.0, 2)]
    finally:
        store.close()


def test_advance_with_a_naive_time_is_refused() -> None:
    up = station().advance(datetime(2025, 11, 3))
    assert up.refused is not None
    assert "naive time" in up.refused
