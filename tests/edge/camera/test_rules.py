"""Each traffic rule on synthetic tracks: positive and negative cases, edge instants.

Ground frame: x across the road, y ahead (metres); traffic goes +y; 10 frames/s.
The stop line is y = 30 across the road.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest

from edge.camera.geometry import Line, Polygon
from edge.camera.rules import (
    VEHICLE_LENGTH_M,
    FrameContext,
    Hit,
    IllegalParkingRule,
    Lane,
    Motion,
    RedLightRule,
    Rule,
    SpeedingRule,
    TrackView,
    WrongLaneRule,
    WrongWayRule,
)
from ioc.contract import VehicleClass, ViolationType

FPS = 10
CAR, MOTO = VehicleClass.CAR, VehicleClass.MOTORBIKE
CAR_LEN = VEHICLE_LENGTH_M[CAR]
UP = np.array([0.0, 1.0])
STOP = Line(np.array([0.0, 30.0]), np.array([12.0, 30.0]), UP)


def rect(name: str, x1: float, x2: float, y1: float, y2: float) -> Polygon:
    return Polygon(name, np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], float))


LANES = [
    Lane("lane-1", rect("lane-1", 0, 3.2, 10, 30), UP, frozenset(VehicleClass)),
    Lane("lane-moto", rect("lane-moto", 3.2, 6.4, 10, 30), UP, frozenset({MOTO})),
]


def drive(rule: Rule, ys: Sequence[float | None], *, x: float = 1.6, cls: VehicleClass = CAR,
          signal: Callable[[int], str | None] = lambda _f: None,
          jitter: float = 0.0) -> list[Hit]:
    """Feed one track's anchor positions (one per frame; None: hidden in that frame, the
    identity kept) to ``rule``; return its hits."""
    rng = np.random.default_rng(0)
    motion = Motion()
    hits = []
    for f, y in enumerate(ys):
        t = f / FPS
        p = None
        if y is not None:
            p = (x, float(y + (rng.uniform(-jitter, jitter) if jitter else 0.0)))
            motion.add(t, p)
        hit = rule.update(TrackView(7, cls, f, t, p, motion), FrameContext(f, t, signal(f)))
        if hit is not None:
            hits.append(hit)
    return hits


def steady(y0: float, speed_ms: float, frames: int) -> list[float]:
    return [y0 + speed_ms * f / FPS for f in range(frames)]


def red_from(frame: int) -> Callable[[int], str]:
    return lambda f: "red" if f >= frame else "yellow"


def red_until(frame: int) -> Callable[[int], str]:
    return lambda f: "red" if f <= frame else "green"


# --- red light ---------------------------------------------------------------------------

# anchor y such that the front (anchor + car length) is exactly on the line at frame 10
_ON_LINE_AT_10 = [30.0 - CAR_LEN + (f - 10) * 1.0 for f in range(30)]  # 10 m/s


@pytest.mark.parametrize(
    ("case", "ys", "signal", "at_frame"),
    [
        ("runs the red at 36 km/h", steady(15, 10, 40), lambda _f: "red", 11),
        ("crosses on green", steady(15, 10, 40), lambda _f: "green", None),
        ("crosses on yellow, red comes later", steady(15, 10, 40), red_from(20), None),
        # front exactly on the line at frame 10: it crosses at frame 11
        ("signal turns red at the crossing instant", _ON_LINE_AT_10, red_from(11), 11),
        ("signal turns green at the crossing instant", _ON_LINE_AT_10, red_until(10), None),
        ("stops with its front exactly on the line", [min(y, 30.0 - CAR_LEN)
                                                      for y in steady(15, 8, 60)],
         lambda _f: "red", None),
        ("first seen past the line", steady(28, 10, 30), lambda _f: "red", None),
        ("oncoming, towards the camera", steady(45, -10, 30), lambda _f: "red", None),
        ("signal unknown", steady(15, 10, 40), lambda _f: None, None),
    ],
)
def test_red_light(case: str, ys: list[float], signal: Callable[[int], str | None],
                   at_frame: int | None) -> None:
    hits = drive(RedLightRule(STOP), ys, signal=signal)
    if at_frame is None:
        assert hits == [], case
    else:
        assert [h.at_frame for h in hits] == [at_frame], case
        assert hits[0].violation is ViolationType.RED_LIGHT
        assert hits[0].params["signal"] == "red"


def hidden(ys: list[float], first: int, last: int) -> list[float | None]:
    """``ys`` with frames ``first``..``last`` hidden (behind another vehicle)."""
    return [None if first <= f <= last else y for f, y in enumerate(ys)]


# front on the line at frame 10 (10 m/s); hidden in frames 6-20, seen again 10 m past it
@pytest.mark.parametrize(
    ("case", "signal", "at_frame"),
    [
        ("hidden while it crosses on red: crossing interpolated over the gap",
         lambda _f: "red", 11),
        ("hidden while it crosses on green", lambda _f: "green", None),
        ("red comes while it is hidden, after the interpolated crossing", red_from(15), None),
        ("red 0.5 s before the interpolated crossing instant", red_from(6), 11),
        ("red 0.2 s before it: too close to tell", red_from(9), None),
        ("green 0.3 s after it: too close to tell", red_until(13), None),
        ("green comes while it is hidden, 0.5 s after it crossed on red", red_until(15), 11),
    ],
)
def test_red_light_across_an_occlusion(case: str, signal: Callable[[int], str | None],
                                       at_frame: int | None) -> None:
    hits = drive(RedLightRule(STOP), hidden(_ON_LINE_AT_10, 6, 20), signal=signal)
    if at_frame is None:
        assert hits == [], case
    else:
        assert [h.at_frame for h in hits] == [at_frame], case
        assert hits[0].params["seen_crossing"] is False


def test_red_light_waits_hidden_and_leaves_on_green() -> None:
    # front 0.3 m before the line, red until frame 40; hidden from frame 10 to 55; on green
    # (frame 41) it pulls away at 2.5 m/s^2 and comes out 6.7 m past the line at frame 56
    wait = 30.0 - CAR_LEN - 0.3
    ys: list[float | None] = [wait] * 41
    ys += [wait + 1.25 * ((f - 40) / FPS) ** 2 for f in range(41, 80)]
    hits = drive(RedLightRule(STOP), hidden(ys, 10, 55), signal=red_until(40))
    assert hits == []


@pytest.mark.parametrize(
    ("case", "ys"),
    [
        ("hidden for 9 s, comes out 23 m past the line at 8 km/h",
         [30.0 - CAR_LEN - 0.9] * 10 + [None] * 90
         + [30.0 - CAR_LEN + 23.0 + 0.23 * f for f in range(20)]),
        ("hidden for 3.5 s while it crossed at 10 m/s", hidden(steady(15, 10, 60), 6, 41)),
    ],
)
def test_red_light_is_not_judged_when_the_gap_cannot_be_explained(case: str,
                                                                   ys: list[float | None]) -> None:
    assert drive(RedLightRule(STOP), ys, signal=lambda _f: "red") == [], case


def test_red_light_a_waiting_vehicle_hidden_and_seen_again_just_past_the_line() -> None:
    # waits 0.3 m before the line, hidden for 2 s, reappears 0.5 m past it and stops
    ys: list[float | None] = [30.0 - CAR_LEN - 0.3] * 20 + [None] * 20
    ys += [30.0 - CAR_LEN + 0.5] * 40
    assert drive(RedLightRule(STOP), ys, signal=lambda _f: "red", jitter=0.3) == []


def test_red_light_ignores_a_vehicle_waiting_at_the_line_with_a_jittering_box() -> None:
    waiting = [min(y, 30.0 - CAR_LEN - 0.3) for y in steady(15, 8, 50)] + [30 - CAR_LEN - 0.3] * 80
    hits = drive(RedLightRule(STOP), waiting, signal=lambda _f: "red", jitter=0.8)
    assert hits == []


def test_red_light_fires_once_per_track_and_again_after_forget() -> None:
    rule = RedLightRule(STOP)
    assert len(drive(rule, steady(15, 10, 40), signal=lambda _f: "red")) == 1
    assert drive(rule, steady(15, 10, 40), signal=lambda _f: "red") == []  # same track id
    rule.forget(7)
    assert len(drive(rule, steady(15, 10, 40), signal=lambda _f: "red")) == 1


# --- wrong lane --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "x", "cls", "frames", "fires"),
    [
        ("car in the motorbike lane for 2 s", 4.8, CAR, 20, True),
        ("car in the motorbike lane for 0.5 s", 4.8, CAR, 5, False),
        ("motorbike in the motorbike lane", 4.8, MOTO, 40, False),
        ("car in the general lane", 1.6, CAR, 40, False),
        ("motorbike in the general lane", 1.6, MOTO, 40, False),
        ("car outside every lane", 8.0, CAR, 40, False),
    ],
)
def test_wrong_lane(case: str, x: float, cls: VehicleClass, frames: int, fires: bool) -> None:
    hits = drive(WrongLaneRule(LANES, min_s=1.0), steady(12, 3, frames), x=x, cls=cls)
    assert (len(hits) == 1) is fires, case
    if fires:
        assert hits[0].params["lane"] == "lane-moto"


def test_wrong_lane_is_withdrawn_when_the_vote_makes_it_a_motorbike() -> None:
    rule = WrongLaneRule(LANES, min_s=1.0)
    assert drive(rule, steady(12, 3, 20), x=4.8, cls=CAR)
    later = TrackView(7, MOTO, 30, 3.0, None, Motion())
    assert rule.still_holds(later) is False
    assert rule.still_holds(TrackView(7, CAR, 30, 3.0, None, Motion())) is True


# --- wrong way ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "ys", "jitter", "fires"),
    [
        ("oncoming at 36 km/h", steady(29, -10, 20), 0.0, True),
        ("oncoming, seen for under a second", steady(29, -10, 6), 0.0, False),
        ("with the traffic", steady(11, 10, 19), 0.0, False),
        ("stationary, jittering box", [20.0] * 60, 0.8, False),
        ("reverses 2 m", steady(20, -2, 10) + [18.0] * 20, 0.0, False),
    ],
)
def test_wrong_way(case: str, ys: list[float], jitter: float, fires: bool) -> None:
    hits = drive(WrongWayRule(LANES, min_distance_m=4.0, min_s=1.0), ys, jitter=jitter)
    assert (len(hits) == 1) is fires, case


# --- illegal parking ---------------------------------------------------------------------

ZONE = rect("kerb", 6.4, 9.0, 20, 30)


@pytest.mark.parametrize(
    ("case", "x", "ys", "fires"),
    [
        ("parks 5 s in the zone", 7.7, steady(15, 5, 15) + [22.0] * 50, True),
        ("stops 2 s in the zone", 7.7, steady(15, 5, 15) + [22.0] * 20 + steady(22, 5, 20),
         False),
        ("parks 5 s outside the zone", 7.7, steady(10, 5, 15) + [17.0] * 50, False),
        ("crawls through the zone at 5 km/h", 7.7, steady(20, 1.4, 70), False),
        ("parks 5 s beside the zone", 1.6, steady(15, 5, 15) + [22.0] * 50, False),
    ],
)
def test_illegal_parking(case: str, x: float, ys: list[float], fires: bool) -> None:
    rule = IllegalParkingRule([ZONE], max_stationary_s=3.0, stationary_kmh=2.0)
    hits = drive(rule, ys, x=x, jitter=0.05)
    assert (len(hits) == 1) is fires, case
    if fires:
        assert hits[0].params["zone"] == "kerb"
        assert hits[0].params["stationary_s"] >= 3.0


@pytest.mark.parametrize("stop_s", [2.6, 3.8])
def test_illegal_parking_counts_from_when_it_stopped(stop_s: float) -> None:
    # brakes at 3 m/s2 from 6 m/s to a standstill at frame 20, stays stop_s, drives on:
    # the stationary time is counted from the stop to the middle of the last second (the
    # speed over it is that of its middle), so 2.6 s is not parking and 3.8 s is, fired
    # when 3 s are seen: about 3.5 s after the stop
    ys = [20.0 + 6.0 * (f / FPS) - 1.5 * (f / FPS) ** 2 for f in range(21)]
    stay = round(stop_s * FPS)
    ys += [ys[-1]] * stay + [ys[-1] + 0.5 * (f + 1) for f in range(15)]
    hits = drive(IllegalParkingRule([ZONE], max_stationary_s=3.0, stationary_kmh=2.0), ys,
                 x=7.7)
    assert len(hits) == (1 if stop_s > 3 else 0)
    for hit in hits:
        assert 3.3 <= hit.at_t - 2.0 <= 3.7


@pytest.mark.parametrize(("stop_s", "fires"), [(2.5, False), (2.6, False), (3.8, True)])
def test_illegal_parking_not_counted_while_it_moves_off(stop_s: float, fires: bool) -> None:
    # brakes to a standstill at frame 20 as above, stands stop_s, then moves off at 2 m/s2
    # (over 2 km/h after 0.3 s): a straight line over the last second still looks
    # stationary for half a second after it started, which must not make a stop under 3 s
    # parking
    ys = [20.0 + 6.0 * (f / FPS) - 1.5 * (f / FPS) ** 2 for f in range(21)]
    ys += [ys[-1]] * round(stop_s * FPS) + [ys[-1] + (f / FPS) ** 2 for f in range(1, 31)]
    hits = drive(IllegalParkingRule([ZONE], max_stationary_s=3.0, stationary_kmh=2.0), ys,
                 x=7.7, jitter=0.03)
    assert len(hits) == (1 if fires else 0)
    for hit in hits:
        assert 3.0 <= hit.params["stationary_s"] <= hit.at_t - 2.0 <= stop_s


@pytest.mark.parametrize(("case", "drift_ms", "fires"), [
    ("stands on behind passing traffic", 0.0, True),
    ("drives off while hidden", 1.5, False),
])
def test_illegal_parking_counts_on_while_its_bottom_edge_is_hidden(case: str, drift_ms: float,
                                                                   fires: bool) -> None:
    # stopped at frame 20 as above; from 1 s later a passing queue hides its bottom edge
    # for 6 s (its box still places it, a metre or so off: the anchor), then it is seen
    # again: its count must neither restart when it is seen again nor wait for that
    ys = [20.0 + 6.0 * (f / FPS) - 1.5 * (f / FPS) ** 2 for f in range(21)]
    rng = np.random.default_rng(1)
    rule = IllegalParkingRule([ZONE], max_stationary_s=3.0, stationary_kmh=2.0)
    motion, hits = Motion(), []
    for f in range(110):
        t = f / FPS
        y = ys[min(f, 20)] + (drift_ms * (t - 3.0) if t > 3.0 else 0.0)
        hidden = 30 <= f < 90
        ground = None if hidden else (7.7, y)
        anchor = (7.7, y + float(rng.uniform(-0.4, 0.4))) if hidden else ground
        if ground is not None:
            motion.add(t, ground)
        hit = rule.update(TrackView(7, CAR, f, t, ground, motion, anchor), FrameContext(f, t))
        hits += [hit] if hit is not None else []
    assert len(hits) == (1 if fires else 0), case
    for hit in hits:
        assert 3.3 <= hit.at_t - 2.0 <= 3.7, case  # while hidden, when 3 s were seen


# --- speeding ----------------------------------------------------------------------------

SPEED_ZONE = rect("speed", 0, 12, 10, 60)


@pytest.mark.parametrize(
    ("case", "kmh", "y0", "fires"),
    [
        ("70 km/h in a 50 zone", 70, 12, True),
        ("45 km/h", 45, 12, False),
        ("55 km/h: limit + tolerance is not over it", 55, 12, False),
        ("57 km/h", 57, 12, True),
        ("70 km/h beyond the measurement zone", 70, 61, False),
    ],
)
def test_speeding(case: str, kmh: float, y0: float, fires: bool) -> None:
    rule = SpeedingRule(SPEED_ZONE, limit_kmh=50, tolerance_kmh=5, window_s=1.0, min_samples=3)
    hits = drive(rule, steady(y0, kmh / 3.6, 25))
    assert (len(hits) == 1) is fires, case
    if fires:
        assert hits[0].params["measured_kmh"] == pytest.approx(kmh, abs=0.5)


@pytest.mark.parametrize(("case", "jump_m", "kmh", "fires"), [
    ("45 km/h, its box jumps 2 m ahead for good", 2.0, 45, False),
    ("45 km/h, its box 1.5 m short for one frame", -1.5, 45, False),
    ("70 km/h, steady", 0.0, 70, True),
])
def test_speeding_not_measured_across_a_box_that_jumped(case: str, jump_m: float, kmh: float,
                                                        fires: bool) -> None:
    # over 0.3 s (the shipped window) a box whose bottom edge was cut short by a vehicle in
    # front and is whole again moves metres in a frame: no vehicle does
    ys = steady(15, kmh / 3.6, 25)
    if jump_m > 0:
        ys = [y + (jump_m if f >= 12 else 0.0) for f, y in enumerate(ys)]
    elif jump_m < 0:
        ys[12] += jump_m
    rule = SpeedingRule(SPEED_ZONE, limit_kmh=50, tolerance_kmh=5, window_s=0.3, min_samples=3)
    hits = drive(rule, ys, jitter=0.03)
    assert (len(hits) == 1) is fires, case


@pytest.mark.parametrize(
    ("case", "rear_y", "signal", "fires"),
    [
        ("waits at the red light, front at the line", 30.0 - CAR_LEN - 0.3, "red", False),
        ("same place, signal green: parked", 30.0 - CAR_LEN - 0.3, "green", True),
        ("parked 3 m before the line during red", 30.0 - CAR_LEN - 3.0, "red", True),
    ],
)
def test_illegal_parking_is_not_waiting_at_the_light(case: str, rear_y: float, signal: str,
                                                     fires: bool) -> None:
    zone = rect("kerb", 6.4, 9.0, 20, 30)
    rule = IllegalParkingRule([zone], 3.0, 2.0, stop_line=STOP, queue_m=1.5)
    hits = drive(rule, [rear_y] * 60, x=7.7, signal=lambda _f: signal, jitter=0.05)
    assert (len(hits) == 1) is fires, case


def _queue(rule: IllegalParkingRule, behind: Sequence[float], ahead: Sequence[float | None],
           *, ahead_x: float = 7.7, hidden_from: int | None = None,
           cls: VehicleClass = CAR) -> list[Hit]:
    """Two vehicles on the kerb, frame by frame: ``ahead`` (track 8; None: gone) and the
    one ``behind`` it (track 7), whose hits are returned. From ``hidden_from`` on, the
    one ahead has its bottom edge hidden by the one behind: no trusted ground position,
    only the detector's estimate (its anchor, 0.8 m off)."""
    motions = {7: Motion(), 8: Motion()}
    hits = []
    for f, (yb, ya) in enumerate(zip(behind, ahead, strict=True)):
        t = f / FPS
        ctx = FrameContext(f, t)
        if ya is not None:
            hidden = hidden_from is not None and f >= hidden_from
            pa = (ahead_x, float(ya))
            if not hidden:
                motions[8].add(t, pa)
            rule.update(TrackView(8, CAR, f, t, None if hidden else pa, motions[8],
                                  (ahead_x, float(ya) + 0.8) if hidden else pa), ctx)
        pb = (7.7, float(yb))
        motions[7].add(t, pb)
        hit = rule.update(TrackView(7, cls, f, t, pb, motions[7], pb), ctx)
        if hit is not None:
            hits.append(hit)
    return hits


PARKED_AHEAD = 27.0  # the rear of a car standing still for the whole test
HELD_UP = steady(15, 5, 15) + [PARKED_AHEAD - CAR_LEN - 1.5] * 50  # drives up, stops 1.5 m behind


@pytest.mark.parametrize(
    ("case", "ahead", "ahead_x", "hidden_from", "fires"),
    [
        ("held up 5 s behind a standing car", [PARKED_AHEAD] * 65, 7.7, None, False),
        ("the same, the car ahead hidden by it", [PARKED_AHEAD] * 65, 7.7, 16, False),
        ("no car ahead: parked", [None] * 65, 7.7, None, True),
        ("the car ahead is in the next lane: parked", [PARKED_AHEAD] * 65, 4.5, None, True),
        ("the car ahead leaves, it stays: parked",
         [PARKED_AHEAD] * 20 + steady(PARKED_AHEAD, 5, 45), 7.7, None, True),
        ("the car ahead 6 m beyond its front: parked", [PARKED_AHEAD + 4.5] * 65, 7.7, None,
         True),
    ],
)
def test_illegal_parking_is_not_waiting_in_a_queue(case: str, ahead: list[float | None],
                                                   ahead_x: float, hidden_from: int | None,
                                                   fires: bool) -> None:
    rule = IllegalParkingRule([ZONE], 3.0, 2.0, queue_gap_m=3.0, queue_max_s=60.0)
    hits = _queue(rule, HELD_UP, ahead, ahead_x=ahead_x, hidden_from=hidden_from)
    assert (len(hits) == 1) is fires, case


def test_illegal_parking_behind_a_parked_car_counts_after_queue_max_s() -> None:
    # nose to tail for 10 s: held up for 4 s at most, then its 3 s count: fired at ~7.5 s
    behind = steady(15, 5, 15) + [PARKED_AHEAD - CAR_LEN - 1.5] * 100
    rule = IllegalParkingRule([ZONE], 3.0, 2.0, queue_gap_m=3.0, queue_max_s=4.0)
    hits = _queue(rule, behind, [PARKED_AHEAD] * 115)
    assert len(hits) == 1
    assert 1.5 + 4.0 + 3.0 - 0.5 <= hits[0].at_t <= 1.5 + 4.0 + 3.0 + 1.0
    no_queue = _queue(IllegalParkingRule([ZONE], 3.0, 2.0), behind, [PARKED_AHEAD] * 115)
    assert len(no_queue) == 1
    assert no_queue[0].at_t < hits[0].at_t - 3.0


def test_velocity_over_a_window_spanned_exactly_by_float_stream_times() -> None:
    # 0.3 s of a 0.5 s window is the 60 % it needs, though 52.1 - 51.8 is 0.29999999999999716
    m = Motion()
    for t, y in zip((51.800000000000004, 51.9, 52.0, 52.1), (16.2, 15.1, 14.0, 12.8),
                    strict=True):
        m.add(t, (8.4, y))
    v = m.velocity(0.5, min_points=2)
    assert v is not None
    assert v[1] == pytest.approx(-11.3, abs=0.2)


def test_velocity_follows_new_and_cut_points_though_fits_are_kept_per_frame() -> None:
    # the fit of a window is kept until the points change: asked again after an add or a
    # cut, it must be the new points' fit, not the one kept from before
    m = _motion([(0.0, 2.0 * f) for f in range(10)])  # 20 m/s along y
    first = m.velocity(0.5)
    assert first is not None
    assert first[1] == pytest.approx(20.0)
    first[1] = -1.0  # a caller's copy: changing it changes nothing kept
    assert m.velocity(0.5)[1] == pytest.approx(20.0)  # type: ignore[index]
    for f in range(10, 16):  # standing still from here
        m.add(f / 10, (0.0, 18.0))
    assert m.velocity(0.5)[1] == pytest.approx(0.0, abs=1e-9)  # type: ignore[index]
    m.cut(0.85)  # back to the moving part
    assert m.velocity(0.5)[1] == pytest.approx(20.0, rel=0.05)  # type: ignore[index]
    assert m.velocity(0.5, min_points=7) is None  # 6 points in the window


@pytest.mark.parametrize(("max_speed_kmh", "fires"), [(110.0, False), (1e9, True)])
def test_wrong_way_not_fired_by_a_track_jumping_back_to_a_nearer_vehicle(
    max_speed_kmh: float, fires: bool,
) -> None:
    # a track follows a car away at 8 m/s, loses it for two frames and takes a nearer car
    # going the same way, 12 m back: no vehicle covers that in 0.3 s
    ys: list[float | None] = [*steady(20, 8, 10), None, None, *steady(17.5, 8, 10)]
    rule = WrongWayRule(LANES, min_distance_m=4.0, min_s=0.3, max_speed_kmh=max_speed_kmh)
    assert (len(drive(rule, ys)) == 1) is fires


def test_wrong_way_seen_far_then_again_after_a_gap() -> None:
    # oncoming from 45 m, in the lanes for 0.3 s, hidden 2 s, seen 0.3 s more near the camera
    ys: list[float | None] = [29.5, 28.6, 27.7] + [None] * 20 + [16.0, 14.9, 13.8, 12.7]
    hits = drive(WrongWayRule(LANES, min_distance_m=4.0, min_s=0.5), ys)
    assert len(hits) == 1


@pytest.mark.parametrize(
    ("case", "after", "fires"),
    [
        # at 35 km/h: seen 0.3 s in the lanes, hidden 1.8 s, seen in one or two frames more
        ("one frame after the gap, 18 m nearer", [11.0], True),
        ("two frames after the gap", [11.0, 10.1], True),
        ("seen again where it was hidden: no travel against the lane", [27.0, 27.0], False),
        ("seen again farther away: with the traffic", [29.5, 29.6], False),
    ],
)
def test_wrong_way_judged_across_a_gap_when_seen_again_briefly(
    case: str, after: list[float], fires: bool,
) -> None:
    # the half second after the gap holds too few places for a speed: the way it moves
    # is then taken over the last 3 s, across the gap
    ys: list[float | None] = [29.5, 29.0, 28.0, 27.0] + [None] * 14 + list(after)
    hits = drive(WrongWayRule(LANES, min_distance_m=4.0, min_s=0.5), ys)
    assert (len(hits) == 1) is fires, case


def test_wrong_way_not_judged_across_a_gap_after_standing_still() -> None:
    # parked at 19 m, hidden 2.8 s, and the identity comes back 6.6 m nearer on a
    # vehicle going with the traffic (a wrong re-identification): nothing moved against
    # the lane before the gap, so the gap alone does not make it wrong way
    ys: list[float | None] = [19.3] * 30 + [None] * 27 + [12.7 + 0.85 * f for f in range(8)]
    hits = drive(WrongWayRule(LANES, min_distance_m=4.0, min_s=0.5), ys, x=4.8)
    assert hits == []


def _motion(xys: Sequence[tuple[float, float]]) -> Motion:
    m = Motion()
    for f, p in enumerate(xys):
        m.add(f / FPS, p)
    return m


@pytest.mark.parametrize(
    ("case", "xys", "turned_at"),
    [
        ("away at 6 m/s, then towards at 6 m/s from 1.0 s",
         [(1.6, 10 + 0.6 * f) for f in range(11)] + [(1.6, 16 - 0.6 * f) for f in range(1, 8)],
         1.0),
        ("brakes to a stop", [(1.6, 10 + 0.6 * f) for f in range(11)] + [(1.6, 16.0)] * 8,
         None),
        ("turns round at walking pace",
         [(1.6, 10 + 0.1 * f) for f in range(11)] + [(1.6, 11 - 0.1 * f) for f in range(1, 8)],
         None),
        ("turns right", [(1.6, 10 + 0.6 * f) for f in range(11)]
         + [(1.6 + 0.6 * f, 16.0) for f in range(1, 8)], None),
        ("seen for under a second", [(1.6, 10 + 0.6 * f) for f in range(4)]
         + [(1.6, 11.8 - 0.6 * f) for f in range(1, 3)], None),
    ],
)
def test_motion_reversal(case: str, xys: list[tuple[float, float]],
                         turned_at: float | None) -> None:
    got = _motion(xys).reversal(window_s=0.5, min_speed_ms=3.0)
    if turned_at is None:
        assert got is None, case
    else:
        assert got == pytest.approx(turned_at), case


def test_motion_cut_hands_over_the_points_after_the_instant() -> None:
    m = _motion([(0.0, float(f)) for f in range(10)])
    rest = m.cut(0.55)
    assert [p[0] for p in m.points] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert [p[2] for p in rest.points] == [6.0, 7.0, 8.0, 9.0]
    assert [p[2] for p in m.cut(0.3).points] == [3.0, 4.0, 5.0]  # the turning point in both
    assert [p[2] for p in m.points] == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    ("case", "before", "fires"),
    [
        # a truck going away at 4 m/s at 29-30 m; its track jumps 11 m nearer in a frame
        # (to a vehicle in front of it), is lost 2.8 s and comes back 6 m nearer still on a
        # car going with the traffic (a wrong re-identification): the velocity across the
        # jump (-13 m/s) is no vehicle's, so nothing moved against the lane before the gap
        ("a jump, then the gap", [*steady(28.5, 4, 7), 19.2], False),
        # the same places after the gap, from a vehicle that did come at the camera from
        # 30 m before it was hidden: judged across the gap as before
        ("coming at the camera, then the gap", [30.0, 29.0, 28.0, 27.0, 26.0], True),
    ],
)
def test_wrong_way_not_judged_across_a_gap_from_a_velocity_across_a_jump(
    case: str, before: list[float], fires: bool,
) -> None:
    ys: list[float | None] = [*before, *[None] * 27, *steady(13.2, 9, 8)]
    hits = drive(WrongWayRule(LANES, min_distance_m=4.0, min_s=0.5), ys)
    assert (len(hits) == 1) is fires, case
