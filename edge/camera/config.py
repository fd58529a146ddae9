"""Typed config of a camera gateway (``firmware_configs/<site>/cam-*.yaml``).

Geometry is in frame pixels, as a technician draws it on a snapshot: lane
polygons with their direction of travel and allowed vehicle classes, the stop
line, no-parking zones, the speed-measurement zone, and four calibration points
whose ground positions (metres) are known. Every point must lie inside the frame;
an error names the file, line, key path and value (see ``ioc.config``).
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, Field, field_validator, model_validator

from edge.config import BrokerConfig, QueueConfig, Slug
from edge.disk_queue import FullPolicy
from ioc.config import ConfigError, ConfigProblem, StrictModel, fail_at, load_yaml_model
from ioc.contract import VehicleClass, check_filter

Pt = tuple[float, float]
VEHICLES = tuple(VehicleClass)


def _distinct(points: list[Pt]) -> list[Pt]:
    if points[0] == points[1]:
        raise ValueError("the two points are the same: a line needs two distinct points")
    return points


def _segments_cross(p: Pt, q: Pt, r: Pt, s: Pt) -> bool:
    def side(a: Pt, b: Pt, c: Pt) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    return (side(p, q, r) * side(p, q, s) < 0) and (side(r, s, p) * side(r, s, q) < 0)


def _simple_area(points: list[Pt]) -> list[Pt]:
    """A polygon that encloses something and does not cross itself."""
    n = len(points)
    area = sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]
               for i in range(n)) / 2
    if abs(area) < 1.0:
        raise ValueError(f"the polygon encloses {abs(area):g} square pixels: its points are"
                         " on one line or repeated")
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # neighbours through the closing edge
            if _segments_cross(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n]):
                raise ValueError(f"the polygon crosses itself (edges {i} and {j}): give its"
                                 " points in order around it")
    return points


def _iso_time(value: str | None) -> str | None:
    """ISO 8601 with a UTC offset (frame times and signal cycles are absolute)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO 8601 time, e.g. 2025-11-03T08:00:00+07:00") from None
    if parsed.tzinfo is None:
        raise ValueError("needs a UTC offset, e.g. 2025-11-03T08:00:00+07:00")
    return value


Poly = Annotated[list[Pt], Field(min_length=3, max_length=64), AfterValidator(_simple_area)]
Arrow = Annotated[list[Pt], Field(min_length=2, max_length=2), AfterValidator(_distinct)]
IsoTime = Annotated[str | None, AfterValidator(_iso_time)]


class SimulatorSource(StrictModel):
    """The camera simulator as the source (``simulators.camera``): same seed, same video."""

    type: Literal["simulator"]
    seed: int = Field(default=0, ge=0)
    scene: Literal["intersection", "segment"] = "intersection"
    fps: float = Field(default=10.0, gt=0, le=60)
    #: Frame size; the simulator's 640x360 geometry is scaled to it.
    width: int = Field(default=1280, ge=160, le=3840)
    height: int = Field(default=720, ge=90, le=2160)
    #: Pace frames to ``fps`` like a live camera (False: as fast as they can be drawn).
    realtime: bool = True
    max_frames: int | None = Field(default=None, ge=1)
    #: Simulated wall time of frame 0 (ISO 8601 with offset); None: when the agent starts.
    start: IsoTime = None


class UrlSource(StrictModel):
    """A video file, or an RTSP/HTTP stream, opened with OpenCV."""

    type: Literal["url"]
    url: str
    #: For files: the wall time of the first frame (ISO 8601 with offset); None: now.
    start: IsoTime = None
    #: Live streams: retry a dropped stream after this, doubling up to ``retry_max_s``.
    retry_initial_s: float = Field(default=1.0, gt=0, le=60)
    retry_max_s: float = Field(default=30.0, gt=0, le=3600)
    #: A file ends the run at its end; a live stream is retried forever.
    live: bool | None = None  # None: live unless the url is a local file


SourceConfig = Annotated[SimulatorSource | UrlSource, Field(discriminator="type")]


class FrameConfig(StrictModel):
    """The size of the frames the source gives; every zone point must lie inside it."""

    width: int = Field(ge=16, le=7680)
    height: int = Field(ge=16, le=4320)


class DetectorSettings(StrictModel):
    """The ONNX models and how to run them."""

    model: Path = Path("models/vehicles_192x320.onnx")
    plate_model: Path = Path("models/plates_128.onnx")
    #: Low-score boxes are kept for the tracker's second association (ByteTrack).
    conf: float = Field(default=0.1, gt=0, lt=1)
    iou: float = Field(default=0.5, gt=0, lt=1)
    threads: int = Field(default=2, ge=1, le=64)
    #: Model class name → canonical class (car, motorbike, bus, truck, plate); None: identity.
    class_map: dict[str, Literal["car", "motorbike", "bus", "truck", "plate"]] | None = None


class TrackerSettings(StrictModel):
    """ByteTrack-style association (see ``edge.camera.tracker``)."""

    high_conf: float = Field(default=0.45, gt=0, lt=1)
    new_track_conf: float = Field(default=0.55, gt=0, lt=1)
    match_iou: float = Field(default=0.2, gt=0, lt=1)
    low_match_iou: float = Field(default=0.4, gt=0, lt=1)
    #: A track unseen this long has left: its pass ends.
    lost_s: float = Field(default=1.0, gt=0, le=30)
    #: Frames before a new track counts (filters one-frame false detections).
    min_hits: int = Field(default=3, ge=1, le=30)
    #: A new track that appears where a vehicle lost less than this long ago should be
    #: (ground position, speed, size, class, colour) continues that vehicle's pass; a
    #: pass ends this long after its vehicle was last seen (0: no re-identification).
    rejoin_s: float = Field(default=3.0, ge=0, le=30)
    #: A detection whose colour (hue-saturation histogram, Bhattacharyya distance) is
    #: further than this from a track's vehicle cannot continue that track, however well
    #: the boxes overlap: two vehicles in line with the camera must not swap identities
    #: (0: colour not used).
    max_colour_dist: float = Field(default=0.55, ge=0, le=1)
    #: A track too young to have a velocity (fewer than ``min_hits`` matches) that no
    #: detection overlaps is matched once more on boxes widened by this share of their
    #: size on each side: a fast vehicle near the camera moves further than its own box
    #: between frames (0: off).
    young_buffer: float = Field(default=0.5, ge=0, le=2)
    #: An unmatched detection overlapping a vehicle already boxed in the same frame at
    #: least this much (IoU) does not start a track: an NMS-free detector can box one
    #: vehicle twice under two class guesses (0: every confident detection may).
    duplicate_iou: float = Field(default=0.8, ge=0, le=1)


class PlateSettings(StrictModel):
    """Plate reading: on a track's best frames, once per pass."""

    enabled: bool = True
    #: Crops kept per track (largest vehicle boxes fully inside the frame) and read.
    best_frames: int = Field(default=10, ge=1, le=20)
    #: The largest this many crops are read first; the others only when their vote does
    #: not settle the plate (a valid read of two or more crops, at least
    #: ``settled_conf`` sure). 0: every kept crop is read, always.
    first_reads: int = Field(default=3, ge=0, le=10)
    settled_conf: float = Field(default=0.95, gt=0, le=1)
    #: Crops kept per track of boxes cut by the frame's edge, read only when no whole
    #: crop shows the plate (a vehicle queued or parked at the picture's edge); a plate
    #: found touching the cut side is not read (0: cut boxes are never read).
    cut_frames: int = Field(default=3, ge=0, le=10)
    #: Vehicles whose box is smaller than this (pixels high) are not worth a read.
    min_vehicle_height: int = Field(default=40, ge=8)
    #: A pass tracked in fewer than ``short_pass_frames`` frames publishes its plate
    #: read only when the read is at least ``short_pass_min_conf`` sure. Such a read is
    #: mostly of a fragment of a vehicle (a second box on it, or its far end after its
    #: track broke) whose own pass reads the plate, or of a plate too small to read.
    #: 0 frames: every read is published.
    short_pass_frames: int = Field(default=15, ge=0, le=600)
    short_pass_min_conf: float = Field(default=0.5, ge=0, le=1)
    #: Any other read less sure than ``short_pass_min_conf`` is held this long before it
    #: is published, and dropped if meanwhile a read at least ``settled_conf`` sure
    #: comes from a vehicle that was where this one was last seen (a fragment of a
    #: vehicle whose own pass read its plate). 0: published at once.
    unsure_hold_s: float = Field(default=10.0, ge=0, le=60)
    #: When the grammar-decoded read is not confident, run rapidocr's full detector +
    #: recogniser on the largest crop too (it finds the text lines itself; slower, and
    #: only for those plates; see models/plate_reader.py).
    full_ocr_fallback: bool = True
    #: ... for a pass whose vote is less sure than this; the surer valid read wins. On the
    #: held-out seeds 9150-9173, plates exact: 0.8: 1,487 of 1,574; 0.6 (the reader's own
    #: default, used by ``ioc models eval``): 1,481; 0.45: 1,478; no fallback: 1,458.
    full_ocr_below: float = Field(default=0.8, ge=0, le=1)
    threads: int = Field(default=2, ge=1, le=64)
    #: Line recogniser: "own" (the project's plate model, ``ocr_model``) or "rapidocr"
    #: (PP-OCRv4, a general text recogniser).
    recogniser: Literal["own", "rapidocr"] = "own"
    #: The own recogniser's ONNX file, relative to the config file (default: shipped).
    ocr_model: Path | None = None


class CalibrationConfig(StrictModel):
    """Pixels to ground metres: four image points and where they lie on the road, or a scale."""

    image: Annotated[list[Pt], Field(min_length=4, max_length=4)] | None = None
    ground: Annotated[list[Pt], Field(min_length=4, max_length=4)] | None = None
    metres_per_pixel: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_way(self) -> CalibrationConfig:
        points = self.image is not None and self.ground is not None
        if points == (self.metres_per_pixel is not None):
            raise ValueError("give either image + ground points or metres_per_pixel")
        return self


class SimulatorSignal(StrictModel):
    """Signal state from the simulator (its controller is part of the scene)."""

    source: Literal["simulator"]


class ScheduleSignal(StrictModel):
    """A fixed-time controller: green, yellow, red repeating from ``epoch`` + ``offset_s``."""

    source: Literal["schedule"]
    green_s: float = Field(gt=0)
    yellow_s: float = Field(ge=0)
    red_s: float = Field(gt=0)
    offset_s: float = 0.0
    epoch: Annotated[str, AfterValidator(_iso_time)] = "2025-01-01T00:00:00+07:00"


class MqttSignal(StrictModel):
    """The signal controller publishes its phase on an MQTT topic (payload red/yellow/green,
    or JSON with a ``state`` field). The topic is the controller's, not the contract's."""

    source: Literal["mqtt"]
    topic: Annotated[str, Field(min_length=1, max_length=512), AfterValidator(check_filter)]
    #: The state is unknown (no red-light rule) when nothing arrived for this long.
    stale_s: float = Field(default=10.0, gt=0)


SignalConfig = Annotated[SimulatorSignal | ScheduleSignal | MqttSignal,
                         Field(discriminator="source")]


class LaneConfig(StrictModel):
    """One lane: its polygon, the direction of travel (pixel arrow tail → head), who may use it."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    polygon: Poly
    direction: Arrow
    allowed: list[VehicleClass] = Field(default_factory=lambda: list(VEHICLES))


class RedLightRule(StrictModel):
    """Crossing ``stop_line`` (front of the vehicle) while the signal is red."""

    stop_line: Arrow
    #: Direction that counts as crossing (pixel arrow); None: the first lane's direction.
    direction: Arrow | None = None
    #: Metres the estimated front must be past the line, and the speed the vehicle must
    #: have, before the crossing counts (a vehicle waiting at the line, its box jittering
    #: or half hidden by the one behind, has not crossed).
    confirm_m: float = Field(default=2.0, ge=0, le=10)
    min_speed_kmh: float = Field(default=7.0, gt=0, le=100)


class WrongLaneRule(StrictModel):
    """A vehicle class not allowed in a lane (``lanes[].allowed``) for at least ``min_s``."""

    min_s: float = Field(default=1.0, ge=0, le=60)


class WrongWayRule(StrictModel):
    """Moving against the lane's direction by at least ``min_distance_m`` within the lanes."""

    min_distance_m: float = Field(default=4.0, gt=0, le=100)
    min_s: float = Field(default=1.0, ge=0, le=60)


class NoParkingZone(StrictModel):
    """A polygon where stopping longer than the rule's ``max_stationary_s`` is a violation."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    polygon: Poly


class IllegalParkingRule(StrictModel):
    """Stationary inside a no-parking zone longer than ``max_stationary_s``."""

    zones: Annotated[list[NoParkingZone], Field(min_length=1)]
    max_stationary_s: float = Field(default=3.0, gt=0, le=3600)
    #: Slower than this (km/h, measured over one second) counts as stationary.
    stationary_kmh: float = Field(default=2.0, gt=0, le=20)
    #: With a red-light stop line: a vehicle whose front is within this many metres of it
    #: while the signal is red or yellow is waiting for the light (0: no exemption).
    signal_queue_m: float = Field(default=1.5, ge=0, le=100)
    #: A vehicle whose front is within this many metres behind another vehicle standing
    #: still waits in a queue, not parking (0: no exemption) ...
    queue_gap_m: float = Field(default=3.0, ge=0, le=20)
    #: ... for at most this many seconds: still there after that, both are parked.
    queue_max_s: float = Field(default=60.0, gt=0, le=3600)


class SpeedingRule(StrictModel):
    """Faster than ``limit_kmh + tolerance_kmh`` inside the measurement ``zone``."""

    limit_kmh: float = Field(gt=0, le=200)
    tolerance_kmh: float = Field(default=5.0, ge=0, le=50)
    zone: Poly
    #: Speed is the slope of a straight-line fit over this window (at least 3 positions).
    window_s: float = Field(default=0.5, gt=0, le=10)
    #: Consecutive over-limit measurements before it counts.
    min_samples: int = Field(default=2, ge=1, le=100)


class RulesConfig(StrictModel):
    """The rules this camera applies; a rule left out is off."""

    red_light: RedLightRule | None = None
    wrong_lane: WrongLaneRule | None = None
    wrong_way: WrongWayRule | None = None
    illegal_parking: IllegalParkingRule | None = None
    speeding: SpeedingRule | None = None


class EvidenceConfig(StrictModel):
    """Evidence images kept on the gateway, and for how long."""

    dir: Path = Path("var/evidence")
    jpeg_quality: int = Field(default=85, ge=10, le=100)
    before_s: float = Field(default=1.0, ge=0, le=10)
    after_s: float = Field(default=1.0, ge=0, le=10)
    #: A violation is published once the vehicle has left or this long after it fired,
    #: so its plate can be read on the vehicle's best frames.
    max_wait_s: float = Field(default=5.0, ge=0, le=60)
    max_images: int = Field(default=20_000, ge=10)
    max_bytes: int = Field(default=2 * 1024**3, ge=1024 * 1024)
    max_age_days: float = Field(default=30.0, gt=0)


class CameraGatewayConfig(StrictModel):
    """A traffic camera gateway."""

    kind: Literal["camera_gateway"]
    version: int = Field(default=1, ge=1, le=2**63 - 1)  # (an ack carries it: 64 chars)
    site: Slug
    device: Slug
    camera: Slug
    location: Annotated[str, Field(min_length=1, max_length=200)]
    timezone: str = "Asia/Ho_Chi_Minh"
    broker: BrokerConfig = BrokerConfig()
    queue: QueueConfig | None = None
    source: SourceConfig
    frame: FrameConfig
    detector: DetectorSettings = DetectorSettings()
    tracker: TrackerSettings = TrackerSettings()
    plates: PlateSettings = PlateSettings()
    calibration: CalibrationConfig
    signal: SignalConfig | None = None
    lanes: Annotated[list[LaneConfig], Field(min_length=1)]
    rules: RulesConfig = RulesConfig()
    evidence: EvidenceConfig = EvidenceConfig()
    heartbeat_s: float = Field(default=30.0, ge=1, le=86400)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        _check_timezone(value)
        return value

    @model_validator(mode="after")
    def _checks(self) -> CameraGatewayConfig:
        problems: list[tuple[tuple[str | int, ...], object, str]] = []
        src = self.source
        if isinstance(src, SimulatorSource) and (src.width, src.height) != (
                self.frame.width, self.frame.height):
            problems.append((("frame",), f"{self.frame.width}x{self.frame.height}",
                             f"the simulator source draws {src.width}x{src.height}"
                             " (source.width/height)"))
        if self.rules.red_light is not None and self.signal is None:
            problems.append((("rules", "red_light"), "",
                             "needs a signal source (signal: ...)"))
        fail_at(problems, "CameraGatewayConfig")
        return self


def _points_of(cfg: CameraGatewayConfig) -> list[tuple[str, list[Pt]]]:
    out: list[tuple[str, list[Pt]]] = []
    for i, lane in enumerate(cfg.lanes):
        out += [(f"lanes.{i}.polygon", lane.polygon), (f"lanes.{i}.direction", lane.direction)]
    r = cfg.rules
    if r.red_light is not None:
        out.append(("rules.red_light.stop_line", r.red_light.stop_line))
        if r.red_light.direction is not None:
            out.append(("rules.red_light.direction", r.red_light.direction))
    if r.illegal_parking is not None:
        for i, z in enumerate(r.illegal_parking.zones):
            out.append((f"rules.illegal_parking.zones.{i}.polygon", z.polygon))
    if r.speeding is not None:
        out.append(("rules.speeding.zone", r.speeding.zone))
    if cfg.calibration.image is not None:
        out.append(("calibration.image", cfg.calibration.image))
    return out


def zone_problems(cfg: CameraGatewayConfig) -> list[tuple[str, str]]:
    """(key path, value) of every zone point outside the frame."""
    w, h = cfg.frame.width, cfg.frame.height
    bad = []
    for key, pts in _points_of(cfg):
        for i, (u, v) in enumerate(pts):
            if not (0 <= u <= w and 0 <= v <= h) or not (math.isfinite(u) and math.isfinite(v)):
                bad.append((f"{key}.{i}", f"[{u:g}, {v:g}]"))
    return bad


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"timezone {name!r} is unknown: {exc}") from None


def key_lines(text: str) -> dict[str, int]:
    """Line of every key path (dotted, list items by index) in a YAML text."""
    out: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                path = f"{prefix}.{k.value}" if prefix else str(k.value)
                out[path] = k.start_mark.line + 1
                walk(v, path)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                out[f"{prefix}.{i}"] = item.start_mark.line + 1
                walk(item, f"{prefix}.{i}")

    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is not None:
        walk(node, "")
    return out


def load_camera_config(path: Path | str, *, text: str | None = None) -> CameraGatewayConfig:
    """Load and validate a camera gateway config (file, or ``text`` named as ``path``).

    Zone points outside the frame are reported one per point, with their line.
    """
    cfg = load_yaml_model(CameraGatewayConfig, path, text=text)
    bad = zone_problems(cfg)
    w, h = cfg.frame.width, cfg.frame.height
    problems = [(key, value, f"point outside the {w}x{h} frame (frame.width/height)")
                for key, value in bad]
    if not problems:  # the geometry on the ground: a degenerate calibration or arrow
        from edge.camera.scene import build_scene

        try:
            build_scene(cfg)
        except ValueError as exc:
            key, sep, message = str(exc).partition(": ")
            if not sep or " " in key:
                key, message = "calibration", str(exc)
            problems.append((key, "", message))
    if problems:
        if text is None:
            text = Path(path).read_text(encoding="utf-8")
        lines = key_lines(text)
        raise ConfigError([ConfigProblem(str(path), _line_of(lines, key), key, value, message)
                           for key, value, message in problems])
    return cfg


def _line_of(lines: dict[str, int], key: str) -> int | None:
    """The line of ``key``, or of its nearest parent in the file."""
    while key:
        if key in lines:
            return lines[key]
        key = key.rpartition(".")[0]
    return None


__all__ = ["CameraGatewayConfig", "FullPolicy", "load_camera_config"]
