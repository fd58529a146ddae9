"""Re-identification of broken tracks on synthetic sightings: each gate, the choice
among candidates, expiry."""

from __future__ import annotations

import numpy as np
import pytest

from edge.camera.reid import (
    Rejoiner,
    RejoinSettings,
    Sighting,
    colour_distance,
    colour_histogram,
)

CAR, MOTO = 0, 1
RED = np.zeros(32)
RED[2] = 1.0
BLUE = np.zeros(32)
BLUE[21] = 1.0
REDDISH = 0.8 * RED + 0.2 * BLUE


def seen(identity: int, t: float, x: float, y: float, *, v: tuple[float, float] | None = None,
         cls: int = CAR, width: float | None = 1.8,
         colour: np.ndarray | None = RED) -> Sighting:
    return Sighting(identity, t, np.array([x, y]), None if v is None else np.array(v),
                    {cls: 3.0}, width, colour)


# a car lost at (1.6, 20) at t = 1 s, going 10 m/s ahead (+y)
LOST = seen(1, 1.0, 1.6, 20.0, v=(0.0, 10.0))


@pytest.mark.parametrize(
    ("case", "new", "joins"),
    [
        ("where it should be 1 s later", seen(9, 2.0, 1.6, 30.0), True),
        ("braked: 4 m short after 1 s", seen(9, 2.0, 1.6, 26.0), True),
        ("8 m short after 1 s", seen(9, 2.0, 1.6, 22.0), False),
        ("next lane over, 0.3 s later", seen(9, 1.3, 5.0, 23.0), False),
        ("where it should be, but 4 s later", seen(9, 5.0, 1.6, 60.0), False),
        ("a motorbike where the car should be", seen(9, 2.0, 1.6, 30.0, cls=MOTO), False),
        ("twice as wide", seen(9, 2.0, 1.6, 30.0, width=3.6), False),
        ("a little wider (box jitter)", seen(9, 2.0, 1.6, 30.0, width=2.2), True),
        ("width not measured", seen(9, 2.0, 1.6, 30.0, width=None), True),
        ("another colour", seen(9, 2.0, 1.6, 30.0, colour=BLUE), False),
        ("a similar colour", seen(9, 2.0, 1.6, 30.0, colour=REDDISH), True),
        ("seen before it was lost", seen(9, 0.5, 1.6, 15.0), False),
    ],
)
def test_gates(case: str, new: Sighting, joins: bool) -> None:
    r = Rejoiner(RejoinSettings(max_gap_s=3.0, base_m=2.5, grow_ms=3.0))
    r.lost(LOST)
    assert (r.match(new) == 1) is joins, case


def test_a_vehicle_lost_without_a_measured_speed_is_looked_for_where_it_was() -> None:
    r = Rejoiner()
    r.lost(seen(1, 1.0, 1.6, 20.0, v=None))
    assert r.match(seen(9, 1.5, 1.6, 21.0)) == 1


@pytest.mark.parametrize(
    ("case", "new", "joins"),
    [
        ("where it stood, 2 s later", seen(9, 3.0, 1.6, 20.5), True),
        ("moved off: 4 m on after 2 s", seen(9, 3.0, 1.6, 24.0), True),
        # a vehicle going by 6 m on, 2 s later: a moving one might have got that far,
        # one standing still (a car parked or queued) does not
        ("6 m on after 2 s", seen(9, 3.0, 1.6, 26.0), False),
    ],
)
def test_a_vehicle_lost_standing_still_is_looked_for_near_where_it_stood(
        case: str, new: Sighting, joins: bool) -> None:
    r = Rejoiner(RejoinSettings(max_gap_s=3.0, base_m=2.5, grow_ms=3.0, still_grow_ms=1.0))
    r.lost(seen(1, 1.0, 1.6, 20.0, v=(0.0, 0.2)))
    assert (r.match(new) == 1) is joins, case
    moving = Rejoiner(RejoinSettings(max_gap_s=3.0, base_m=2.5, grow_ms=3.0))
    moving.lost(seen(1, 1.0, 1.6, 20.0, v=None))  # no speed measured: it may have moved
    assert moving.match(new) == 1, case


def test_the_cheapest_candidate_wins_and_is_joined_once() -> None:
    r = Rejoiner()
    r.lost(seen(1, 1.0, 1.6, 20.0, v=(0.0, 10.0)))  # predicted at y = 25 at t = 1.5
    r.lost(seen(2, 1.0, 1.6, 22.0, v=(0.0, 10.0)))  # predicted at y = 27
    assert r.match(seen(9, 1.5, 1.6, 26.8)) == 2
    assert r.match(seen(10, 1.5, 1.6, 26.8)) == 1  # 2 is taken: the other one
    assert r.match(seen(11, 1.5, 1.6, 26.8)) is None
    assert r.joined == 2


def test_seen_and_expire_remove_candidates() -> None:
    r = Rejoiner(RejoinSettings(max_gap_s=2.0))
    r.lost(seen(1, 1.0, 1.6, 20.0))
    r.lost(seen(2, 2.5, 5.0, 20.0))
    r.seen(2)  # its own track found it again
    assert r.waiting() == {1}
    assert r.expire(3.0) == []
    assert r.expire(3.1) == [1]
    assert r.waiting() == set()


def test_colour_histogram_of_a_box_ignores_its_edges() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    img[:, :] = (0, 0, 200)  # red road around...
    img[20:80, 20:80] = (200, 0, 0)  # ...a blue vehicle filling the box's middle
    blue = colour_histogram(img, (10, 10, 90, 90))
    assert blue is not None
    assert blue.sum() == pytest.approx(1.0)
    ref = colour_histogram(img, (30, 30, 70, 70))
    assert ref is not None
    assert colour_distance(blue, ref) == pytest.approx(0.0, abs=1e-6)
    assert colour_histogram(img, (10, 10, 11, 11)) is None  # nothing inside
