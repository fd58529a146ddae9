"""Camera traffic state: per-minute counts, flow, speed and congestion by lane, violations
per hour, with watermark, lateness, corrections, refusals, duplicates and pickling."""

from __future__ import annotations

import itertools
import pickle
import re
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from ioc.contract import (
    Aggregate,
    VehicleClass,
    VehicleTrack,
    Violation,
    ViolationType,
    decode_any,
    encode,
)
from stream.air import aggregate_id
from stream.traffic import CameraTraffic, TrafficUpdate

T0 = datetime(2025, 11, 3, 3, 0, tzinfo=UTC)  # 10:00 in Hue
S = timedelta(seconds=1)
M = timedelta(minutes=1)
H = timedelta(hours=1)
LABEL_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_ids = itertools.count()


def camera(**kw: object) -> CameraTraffic:
    return CameraTraffic(site="hue", camera="cam-leloi", **kw)  # type: ignore[arg-type]


def track(at: timedelta, lane: str | None = "1", cls: str = "car",
          speed: float | None = 40.0, camera_id: str = "cam-leloi",
          event_id: str | None = None) -> VehicleTrack:
    n = next(_ids)
    last = T0 + at
    return VehicleTrack(id=event_id or f"trk-{n}", site="hue", device="gw-leloi", ts=last,
                        camera=camera_id, track_id=n, vehicle_class=VehicleClass(cls), lane=lane,
                        first_seen=last - 3 * S, last_seen=last, speed_kmh=speed,
                        confidence=0.9)


def violation(at: timedelta, kind: str = "red_light", event_id: str | None = None) -> Violation:
    n = next(_ids)
    return Violation(id=event_id or f"vio-{n}", site="hue", device="gw-leloi", ts=T0 + at,
                     camera="cam-leloi", track_id=n, violation=ViolationType(kind),
                     vehicle_class=VehicleClass.MOTORBIKE, location="Lê Lợi x Hùng Vương")


def aggs(updates: list[TrafficUpdate]) -> list[Aggregate]:
    return [a for u in updates for a in u.aggregates]


def series(updates: list[TrafficUpdate], end: datetime) -> dict[tuple[str, ...], Aggregate]:
    out = {}
    for a in aggs(updates):
        if a.ts == end:
            out[(a.measure, *(a.labels[k] for k in sorted(a.labels)))] = a
    return out


def test_minute_closes_on_the_watermark_with_counts_flow_and_speed() -> None:
    cam = camera(lateness=30 * S)
    ups = [cam.add(track(10 * S, cls="car", speed=30.0)),
           cam.add(track(20 * S, cls="car", speed=50.0)),
           cam.add(track(30 * S, cls="motorbike", speed=None)),
           cam.add(track(40 * S, lane="2", cls="bus", speed=20.0)),
           cam.add(track(M + 29 * S, lane="2"))]
    assert not aggs(ups)  # watermark 10:00:59
    ups.append(cam.add(track(M + 30 * S, lane="2")))  # watermark 10:01:00 closes the minute
    got = series(ups, T0 + M)
    assert got["vehicle_count", "1", "car"].value == 2
    assert got["vehicle_count", "1", "motorbike"].value == 1
    assert got["vehicle_count", "2", "bus"].value == 1
    assert (got["flow", "1"].value, got["flow", "1"].unit, got["flow", "1"].samples) == (
        180.0, "veh/h", 3)
    assert (got["mean_speed", "1"].value, got["mean_speed", "1"].samples) == (40.0, 2)
    assert got["mean_speed", "2"].value == 20.0
    assert len(got) == 3 + 2 + 2 + 2  # counts, flow, speed and congestion per lane
    a = got["vehicle_count", "1", "car"]
    assert (a.station, a.window_s, a.device) == ("cam-leloi", 60, "gw-leloi")
    assert a.id == aggregate_id("hue", "cam-leloi", "vehicle_count",
                                {"lane": "1", "vehicle_class": "car"}, T0 + M)


@pytest.mark.parametrize(("passes", "expected"), [
    ([("car", 50.0)] * 3, 3 * 60 / 1800),  # free flow: volume term only
    ([("car", 80.0)] * 3, 3 * 60 / 1800),  # faster than free flow: speed term clamps at 0
    ([("car", 10.0)] * 5, 0.8),  # crawling: speed term 1 - 10/50
    ([("car", 50.0)] * 30, 1.0),  # at capacity
    ([("car", 50.0)] * 45, 1.0),  # above capacity: capped
    ([("car", 5.0)], 60 / 1800),  # one slow car is not a jam (fewer than 3 speeds)
    ([("motorbike", 40.0)] * 20, 0.2),  # 6 PCU/min = 360 PCU/h -> 0.2; speed term 0.2
    ([("car", None)] * 10, 600 / 1800),  # no speeds: volume term only
    ([("bus", 45.0)] * 2 + [("truck", 45.0)] * 2, (2 * 2.5 + 2 * 2.0) * 60 / 1800),
])
def test_congestion_index(passes: list[tuple[str, float | None]], expected: float) -> None:
    cam = camera(lateness=timedelta(0))
    ups = [cam.add(track(i * S + S, cls=c, speed=v)) for i, (c, v) in enumerate(passes)]
    ups.append(cam.advance(T0 + M))
    assert series(ups, T0 + M)["congestion_index", "1"].value == pytest.approx(expected, abs=1e-3)


def test_out_of_order_inside_the_lateness_counts() -> None:
    cam = camera(lateness=30 * S)
    ups = [cam.add(track(50 * S)), cam.add(track(M + 20 * S)),
           cam.add(track(10 * S))]  # 70 s out of order, the minute is still open
    assert not any(u.late or u.refused for u in ups)
    ups.append(cam.advance(T0 + M + 30 * S))
    assert series(ups, T0 + M)["vehicle_count", "1", "car"].value == 2


def test_correction_of_a_closed_minute_reemits_the_same_ids() -> None:
    cam = camera(lateness=timedelta(0), correction=5 * M)
    first = [cam.add(track(10 * S, speed=30.0)), cam.add(track(3 * M))]
    before = series(first, T0 + M)
    late = cam.add(track(20 * S, speed=10.0))
    assert late.late
    assert late.refused is None
    fixed = series([late], T0 + M)
    assert set(fixed) == {("vehicle_count", "1", "car"), ("flow", "1"), ("mean_speed", "1"),
                          ("congestion_index", "1")}
    for key, agg in fixed.items():
        assert agg.id == before[key].id
    assert fixed["vehicle_count", "1", "car"].value == 2
    assert fixed["mean_speed", "1"].value == 20.0


def test_event_too_old_is_refused_with_a_reason() -> None:
    cam = camera(lateness=timedelta(0), correction=5 * M)
    cam.add(track(10 * M))
    up = cam.add(track(4 * M + 59 * S))  # window ends 10:05 <= 10:10 - 5 min
    assert not up.aggregates
    assert up.refused is not None
    assert "too late" in up.refused
    ok = cam.add(track(5 * M + S))
    assert ok.refused is None
    assert ok.late


@pytest.mark.parametrize("closed", [False, True])
def test_duplicate_events_are_not_counted_twice(closed: bool) -> None:
    cam = camera(lateness=timedelta(0))
    one = track(10 * S, event_id="trk-same")
    ups = [cam.add(one), cam.add(track(20 * S))]
    if closed:
        ups.append(cam.advance(T0 + 2 * M))
    again = cam.add(one)
    assert again.duplicate
    assert not again.aggregates
    ups += [again, cam.advance(T0 + 2 * M)]
    assert series(ups, T0 + M)["vehicle_count", "1", "car"].value == 2


def test_violations_per_type_per_hour() -> None:
    cam = camera(lateness=timedelta(0), violation_correction=2 * H)
    ups = [cam.add(violation(5 * M)), cam.add(violation(25 * M)),
           cam.add(violation(30 * M, "wrong_lane")), cam.add(violation(59 * M, event_id="v-x")),
           cam.add(violation(59 * M, event_id="v-x"))]  # repeated delivery
    ups.append(cam.add(violation(H + 10 * M, "wrong_way")))
    got = series(ups, T0 + H)
    assert (got["violations", "red_light"].value, got["violations", "red_light"].window_s) == (
        3, 3600)
    assert got["violations", "wrong_lane"].value == 1
    assert ("violations", "wrong_way") not in got  # its hour is still open
    late = cam.add(violation(40 * M, "wrong_lane"))  # an hour later than its hour closed
    assert late.late
    assert series([late], T0 + H)["violations", "wrong_lane"].id == got["violations",
                                                                        "wrong_lane"].id
    assert series([late], T0 + H)["violations", "wrong_lane"].value == 2
    cam.advance(T0 + 4 * H)
    assert cam.add(violation(50 * M)).refused is not None


def test_lane_none_is_counted_as_unassigned() -> None:
    cam = camera(lateness=timedelta(0))
    ups = [cam.add(track(10 * S, lane=None)), cam.advance(T0 + M)]
    assert series(ups, T0 + M)["vehicle_count", "unassigned", "car"].value == 1


@pytest.mark.parametrize(("event", "reason"), [
    (lambda: track(S, camera_id="cam-other"), "got an event of camera 'cam-other'"),
    (lambda: track(S, lane="a,b"), "is not a lane name"),
    (lambda: track(S, lane="x" * 65), "is not a lane name"),
    (lambda: msgspec.structs.replace(track(S), first_seen=T0 + H), "before first_seen"),
])
def test_bad_events_are_refused_not_raised(event: object, reason: str) -> None:
    up = camera().add(event())  # type: ignore[operator]
    assert up.refused is not None
    assert reason in up.refused
    assert not up.aggregates


def _stream() -> list[VehicleTrack | Violation]:
    events: list[VehicleTrack | Violation] = []
    for i in range(600):
        at = i * 7 * S + (i % 5) * 3 * S
        events.append(track(at, lane=str(i % 3), cls=("car", "motorbike", "bus")[i % 3],
                            speed=None if i % 4 == 0 else 10.0 + i % 40, event_id=f"p-{i}"))
        if i % 50 == 0:
            events.append(violation(at, event_id=f"v-{i}"))
    events.insert(300, track(20 * M, event_id="p-late"))  # a correction
    events.insert(200, events[150])  # a duplicate
    return events


def test_pickled_state_mid_stream_gives_the_same_results() -> None:
    events = _stream()
    plain = camera(lateness=10 * S, correction=15 * M)
    expected = [plain.add(e) for e in events]
    split = camera(lateness=10 * S, correction=15 * M)
    got = [split.add(e) for e in events[:333]]
    split = pickle.loads(pickle.dumps(split))
    got += [split.add(e) for e in events[333:]]
    assert got == expected
    assert any(u.late for u in got)
    assert any(u.duplicate for u in got)


def test_aggregates_pass_the_wire_contract() -> None:
    cam = camera(lateness=10 * S, correction=15 * M)
    out = aggs([cam.add(e) for e in _stream()])
    assert {a.measure for a in out} == {"vehicle_count", "flow", "mean_speed", "congestion_index",
                                        "violations"}
    for a in out:
        assert all(LABEL_KEY.match(k) for k in a.labels)
        assert decode_any("t", encode(a)) == a
    assert all(0.0 <= a.value <= 1.0 for a in out if a.measure == "congestion_index")


def test_memory_stays_bounded() -> None:
    cam = camera(lateness=30 * S, correction=10 * M, violation_correction=2 * H)
    for i in range(20_000):
        cam.add(track(i * S, lane=str(i % 4)))
        if i % 100 == 0:
            cam.add(violation(i * S))
    assert len(cam.minutes) <= 10 + 2
    assert sum(len(w.ids) for w in cam.minutes.values()) <= 12 * 60
    assert len(cam.hours) <= 2 + 1


@pytest.mark.parametrize("kw", [{"window": 7 * M}, {"window": timedelta(0)},
                                {"lateness": -S}, {"free_flow_kmh": 0.0},
                                {"lane_capacity_pcu_h": -1.0}, {"min_speed_samples": 0},
                                {"pcu": {"car": 1.0}}])
def test_bad_parameters_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="camera cam-leloi"):
        camera(**kw)


def test_advance_with_a_naive_time_is_refused() -> None:
    up = camera().advance(datetime(2025, 11, 3))
    assert up.refused is not None
    assert "naive time" in up.refused
