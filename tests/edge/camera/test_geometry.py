"""Image-to-ground geometry: the per-point fast paths agree with the array forms."""

from __future__ import annotations

import numpy as np
import pytest

from edge.camera.geometry import Calibration, Line, unit


def test_point_is_to_ground_of_one_point() -> None:
    # a perspective camera: the far edge of the road is shorter in the image
    cal = Calibration.from_points([(100, 700), (1180, 700), (800, 300), (480, 300)],
                                  [(0, 0), (12, 0), (12, 60), (0, 60)])
    rng = np.random.default_rng(3)
    pts = rng.uniform((0, 300), (1280, 720), (50, 2))
    many = cal.to_ground(pts)
    for (u, v), g in zip(pts.tolist(), many, strict=True):
        x, y = cal.point(u, v)
        assert type(x) is float
        assert (x, y) == pytest.approx((g[0], g[1]), rel=1e-12, abs=1e-12)
    assert cal.point(100, 700) == pytest.approx((0.0, 0.0), abs=1e-9)
    assert cal.point(800, 300) == pytest.approx((12.0, 60.0), abs=1e-9)
    down = Calibration.from_scale(0.05)
    assert down.point(200, 40) == pytest.approx((10.0, 2.0))


def test_line_counts_metres_past_it_along_its_normal() -> None:
    line = Line(np.array([0.0, 30.0]), np.array([12.0, 30.0]), np.array([0.0, 1.0]))
    assert line.signed_distance((5.0, 30.0)) == 0.0  # on the line: not crossed
    assert line.signed_distance((5.0, 28.5)) == pytest.approx(-1.5)
    assert line.signed_distance(np.array([7.0, 31.25])) == pytest.approx(1.25)
    assert line.ahead == pytest.approx(1.0)
    # given the other way round, the normal still points the way that counts as crossing
    back = Line(np.array([12.0, 30.0]), np.array([0.0, 30.0]), np.array([0.0, 1.0]))
    assert back.signed_distance((5.0, 31.0)) == pytest.approx(1.0)


def test_a_vehicle_crossing_at_a_slant_gets_past_by_less_than_it_travels() -> None:
    # travel 30 degrees off the line's normal: a metre along it is cos(30) past the line,
    # so a vehicle's front (its anchor plus its length along the way) is that much past
    way = unit(np.array([np.sin(np.pi / 6), np.cos(np.pi / 6)]))
    line = Line(np.array([0.0, 30.0]), np.array([12.0, 30.0]), way)
    assert line.ahead == pytest.approx(np.cos(np.pi / 6))
    anchor, length = np.array([4.0, 27.0]), 4.4
    front = anchor + way * length
    assert (line.signed_distance(anchor) + length * line.ahead
            == pytest.approx(line.signed_distance(front)))
    assert line.front_past((4.0, 27.0), length) == pytest.approx(line.signed_distance(front))
