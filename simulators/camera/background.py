"""The static part of a scene: road, lanes, stop line, crossing, shoulder, roadside, signal."""

from __future__ import annotations

import random

import cv2
import numpy as np

from simulators.camera.config import SceneConfig, SceneKind
from simulators.camera.geometry import Projector
from simulators.camera.truth import SignalState

_ASPHALT = (88, 90, 92)
_WHITE = (225, 228, 228)
_YELLOW = (40, 190, 230)


def draw_background(cfg: SceneConfig, proj: Projector, rng: random.Random) -> np.ndarray:
    """Render the empty scene (BGR, uint8) once; frames start from a copy of it."""
    cam = cfg.camera
    img = np.empty((cam.height, cam.width, 3), dtype=np.uint8)
    sky_v = int(max(0, cam.horizon))
    img[:sky_v] = (215, 190, 160)
    ground = (70 + rng.randint(-10, 10), 110 + rng.randint(-10, 10), 90)
    img[sky_v:] = ground
    road_w = cfg.lanes * cfg.lane_width_m
    shoulder = road_w + cfg.parking_width_m
    near, far = 0.6, cfg.far_m + 40
    # buildings and sidewalks on both sides
    for side in (-1, 1):
        x0 = -3.5 if side < 0 else shoulder + 0.3
        x1 = x0 + 3.2 * side
        lo, hi = min(x0, x1), max(x0, x1)
        cv2.fillPoly(img, [proj.ground_quad(lo, hi, near, far)], (150, 155, 160))
        d = 4.0
        while d < far:
            depth = rng.uniform(6, 14)
            bx = hi + 0.5 if side > 0 else lo - 0.5
            height = rng.uniform(6, 18)
            colour = (rng.randint(90, 200), rng.randint(90, 200), rng.randint(90, 200))
            face = proj.poly([(bx, d, 0), (bx, d + depth, 0), (bx, d + depth, height),
                              (bx, d, height)])  # fmt: skip
            cv2.fillPoly(img, [face], colour)
            d += depth + rng.uniform(0.5, 3)
    cv2.fillPoly(img, [proj.ground_quad(-0.3, shoulder, near, far)], _ASPHALT)
    if cfg.kind is SceneKind.INTERSECTION:
        _draw_intersection(img, cfg, proj)
    _draw_lanes(img, cfg, proj, near, far)
    return img


def _line(img: np.ndarray, proj: Projector, x: float, d1: float, d2: float, width: float,
          colour: tuple[int, int, int]) -> None:  # fmt: skip
    cv2.fillPoly(img, [proj.ground_quad(x - width / 2, x + width / 2, d1, d2)], colour)


def _draw_lanes(
    img: np.ndarray, cfg: SceneConfig, proj: Projector, near: float, far: float
) -> None:
    road_w = cfg.lanes * cfg.lane_width_m
    stop = cfg.stop_line_m if cfg.kind is SceneKind.INTERSECTION else far
    after = stop + cfg.cross_street_m + 2 if cfg.kind is SceneKind.INTERSECTION else far
    for d1, d2 in ((near, stop), (after, far)):
        _line(img, proj, 0.0, d1, d2, 0.15, _WHITE)
        _line(img, proj, road_w, d1, d2, 0.12, _WHITE)
        for i in range(1, cfg.lanes):
            solid = cfg.motorbike_lane is not None and i in (
                cfg.motorbike_lane,
                cfg.motorbike_lane + 1,
            )
            d = d1
            while d < d2:
                _line(img, proj, i * cfg.lane_width_m, d, min(d2, d + (d2 - d1 if solid else 3.0)),
                      0.12, _WHITE)  # fmt: skip
                d += d2 - d1 if solid else 9.0
    lo, hi = cfg.parking_allowed
    shoulder_x = road_w + cfg.parking_width_m - 0.1
    _line(img, proj, shoulder_x, near, lo, 0.15, _YELLOW)  # no-parking kerb
    _line(img, proj, shoulder_x, hi, stop, 0.15, _YELLOW)
    for d in (lo, hi):
        _line(img, proj, road_w + cfg.parking_width_m / 2, d, d + 0.12, cfg.parking_width_m,
              _WHITE)  # fmt: skip
    if cfg.motorbike_lane is not None:
        x = (cfg.motorbike_lane + 0.5) * cfg.lane_width_m
        u, v = proj.uv(x - 0.9, 16.0)
        scale = proj.scale(16.0) / 60
        cv2.putText(img, "XE MAY", (round(u), round(v)), cv2.FONT_HERSHEY_SIMPLEX, scale, _WHITE,
                    max(1, round(scale * 2)), cv2.LINE_AA)  # fmt: skip


def _draw_intersection(img: np.ndarray, cfg: SceneConfig, proj: Projector) -> None:
    stop = cfg.stop_line_m
    road_w = cfg.lanes * cfg.lane_width_m
    cross = proj.ground_quad(-60, 60, stop + 2.0, stop + 2.0 + cfg.cross_street_m)
    cv2.fillPoly(img, [cross], (80, 82, 84))
    _line(img, proj, road_w / 2, stop, stop + 0.4, road_w, _WHITE)  # stop line, across the lanes
    x = 0.2
    while x < road_w + cfg.parking_width_m:  # zebra crossing just past the stop line
        cv2.fillPoly(img, [proj.ground_quad(x, x + 0.5, stop + 0.8, stop + 2.0)], _WHITE)
        x += 1.0


def draw_signal(img: np.ndarray, cfg: SceneConfig, state: SignalState) -> None:
    """Draw the signal head in the top right corner with the lit lamp."""
    if state is SignalState.NONE:
        return
    w = cfg.camera.width
    r = max(4, w // 90)
    x0, y0 = w - 4 * r, 2 * r
    cv2.rectangle(img, (x0 - 2 * r, y0 - 2 * r), (x0 + 2 * r, y0 + 8 * r), (20, 20, 20), -1)
    lamps = ((SignalState.RED, (40, 40, 255)), (SignalState.YELLOW, (0, 210, 255)),
             (SignalState.GREEN, (90, 230, 60)))  # fmt: skip
    for i, (s, c) in enumerate(lamps):
        colour = c if s is state else (50, 50, 50)
        cv2.circle(img, (x0, y0 + 3 * r * i), r, colour, -1, cv2.LINE_AA)
