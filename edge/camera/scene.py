"""From a camera config to ground objects: calibration, lanes and the rule objects."""

from __future__ import annotations

from dataclasses import dataclass

from edge.camera.config import CameraGatewayConfig
from edge.camera.geometry import Calibration, Line, Polygon, ground_direction
from edge.camera.rules import (
    IllegalParkingRule,
    Lane,
    RedLightRule,
    Rule,
    SpeedingRule,
    WrongLaneRule,
    WrongWayRule,
)


@dataclass(frozen=True, slots=True)
class Scene:
    """A camera's ground geometry and the rules it applies."""

    calibration: Calibration
    lanes: tuple[Lane, ...]
    rules: tuple[Rule, ...]


def calibration_of(cfg: CameraGatewayConfig) -> Calibration:
    c = cfg.calibration
    if c.metres_per_pixel is not None:
        return Calibration.from_scale(c.metres_per_pixel)
    assert c.image is not None
    assert c.ground is not None
    return Calibration.from_points(c.image, c.ground)


def build_scene(cfg: CameraGatewayConfig) -> Scene:
    """Ground lanes and fresh rule objects (no per-track state) for ``cfg``.

    Raises ValueError naming the key when a geometry is degenerate.
    """
    cal = calibration_of(cfg)
    lanes = []
    for i, lc in enumerate(cfg.lanes):
        try:
            direction = ground_direction(cal, lc.direction)
        except ValueError as exc:
            raise ValueError(f"lanes.{i}.direction: {exc}") from None
        lanes.append(Lane(lc.name, Polygon(lc.name, cal.to_ground(lc.polygon)), direction,
                          frozenset(lc.allowed)))
    rules: list[Rule] = []
    r = cfg.rules
    stop_line = None
    if r.red_light is not None:
        a, b = cal.to_ground(r.red_light.stop_line)
        arrow = r.red_light.direction
        try:
            direction = (ground_direction(cal, arrow) if arrow is not None
                         else lanes[0].direction)
        except ValueError as exc:
            raise ValueError(f"rules.red_light.direction: {exc}") from None
        stop_line = Line(a, b, direction)
        rules.append(RedLightRule(stop_line, r.red_light.confirm_m,
                                  r.red_light.min_speed_kmh / 3.6))
    if r.wrong_lane is not None:
        rules.append(WrongLaneRule(lanes, r.wrong_lane.min_s))
    if r.wrong_way is not None:
        rules.append(WrongWayRule(lanes, r.wrong_way.min_distance_m, r.wrong_way.min_s))
    if r.illegal_parking is not None:
        p = r.illegal_parking
        zones = [Polygon(z.name, cal.to_ground(z.polygon)) for z in p.zones]
        rules.append(IllegalParkingRule(zones, p.max_stationary_s, p.stationary_kmh,
                                        stop_line=stop_line, queue_m=p.signal_queue_m,
                                        queue_gap_m=p.queue_gap_m,
                                        queue_max_s=p.queue_max_s))
    if r.speeding is not None:
        s = r.speeding
        rules.append(SpeedingRule(Polygon("speed", cal.to_ground(s.zone)), s.limit_kmh,
                                  s.tolerance_kmh, s.window_s, s.min_samples))
    return Scene(cal, tuple(lanes), tuple(rules))
