"""Configuration of a simulated traffic camera scene: geometry, traffic mix, conditions."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class SceneKind(enum.StrEnum):
    """What the camera looks at."""

    INTERSECTION = "intersection"  # signalised, with stop line and cross street
    SEGMENT = "segment"  # a straight road segment, no signal


class TimeOfDay(enum.StrEnum):
    """Lighting of the scene."""

    DAY = "day"
    DUSK = "dusk"
    NIGHT = "night"


class VehicleClass(enum.IntEnum):
    """Detector classes; the integer is the YOLO class id (plate is 4)."""

    CAR = 0
    MOTORBIKE = 1
    BUS = 2
    TRUCK = 3


PLATE_CLASS_ID = 4
CLASS_NAMES: tuple[str, ...] = ("car", "motorbike", "bus", "truck", "plate")


class ViolationKind(enum.StrEnum):
    """Traffic violations the simulator can stage (vietnam.md §4)."""

    RED_LIGHT = "red_light"
    WRONG_LANE = "wrong_lane"
    WRONG_WAY = "wrong_way"
    ILLEGAL_PARKING = "illegal_parking"
    SPEEDING = "speeding"


@dataclass(frozen=True, slots=True)
class CameraGeometry:
    """Pinhole camera over a flat road. World: x metres across, d metres ahead, z up.

    A ground point (x, d) projects to ``u = width/2 + focal*(x - x_cam)/d`` and
    ``v = horizon + focal*(height_m - z)/d``.
    """

    width: int = 640
    height: int = 360
    focal: float = 720.0
    height_m: float = 6.0
    horizon: float = 10.0
    x_cam: float = 5.0


@dataclass(frozen=True, slots=True)
class SceneConfig:
    """Everything that decides a simulated video; with the same seed, the same frames."""

    seed: int = 0
    kind: SceneKind = SceneKind.INTERSECTION
    fps: float = 10.0
    camera: CameraGeometry = field(default_factory=CameraGeometry)
    lanes: int = 3
    lane_width_m: float = 3.2
    #: Lane index reserved for motorbikes (cars there commit "wrong lane"); None for none.
    motorbike_lane: int | None = 2
    parking_width_m: float = 2.5
    #: Shoulder stretch (d from, d to) where parking is allowed; elsewhere it is illegal.
    parking_allowed: tuple[float, float] = (14.0, 22.0)
    stop_line_m: float = 30.0
    cross_street_m: float = 12.0
    far_m: float = 60.0
    speed_limit_kmh: float = 50.0
    green_s: float = 12.0
    yellow_s: float = 3.0
    red_s: float = 12.0
    #: Share of vehicles by class: motorbikes are the majority, as in Vietnamese streets.
    class_mix: tuple[float, float, float, float] = (0.30, 0.55, 0.07, 0.08)
    spawn_per_s: float = 1.6
    violation_share: float = 0.15
    parking_share: float = 0.05
    #: Share of vehicles that turn left or right into the cross street (intersection only).
    turn_share: float = 0.0
    time_of_day: TimeOfDay | None = None  # None: drawn from the seed
    rain: bool | None = None  # None: drawn from the seed
    blur: float = 0.5  # motion blur strength 0..1
    noise: float = 4.0  # Gaussian sensor noise sigma in grey levels
    jpeg_quality: int | None = 80  # None: no JPEG round trip
    #: Plates are drawn larger than life so that they stay legible at this resolution.
    plate_scale: float = 2.0
    #: Frames simulated before the first frame is returned, so the road is not empty.
    warmup_frames: int = 60
    #: Objects less visible than this (occluded or cut by the frame) leave the ground truth.
    min_visible: float = 0.5
    min_plate_px: int = 12

    def __post_init__(self) -> None:
        _check_positive(self)


def _check_positive(cfg: SceneConfig) -> None:
    """Reject settings that would make the scene meaningless."""
    if cfg.fps <= 0 or cfg.lanes < 1 or cfg.lane_width_m <= 0:
        raise ValueError(f"fps, lanes and lane_width_m must be positive, got {cfg!r}")
    if abs(sum(cfg.class_mix) - 1.0) > 1e-6 or len(cfg.class_mix) != 4:
        raise ValueError(f"class_mix must be 4 shares summing to 1, got {cfg.class_mix}")
    if not 0.0 <= cfg.violation_share <= 1.0:
        raise ValueError(f"violation_share must be within 0..1, got {cfg.violation_share}")
    if cfg.motorbike_lane is not None and not 0 <= cfg.motorbike_lane < cfg.lanes:
        raise ValueError(f"motorbike_lane {cfg.motorbike_lane} outside 0..{cfg.lanes - 1}")
