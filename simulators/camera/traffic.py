"""Vehicles moving along lanes: spawning, car following, the signal, parking, violations.

Pure world-space simulation (metres, seconds); drawing lives in ``render``. A
seeded ``random.Random`` drives every choice, so a seed gives the same traffic.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field

from ioc.plates import Plate, PlateColour, VehicleKind, random_plate
from simulators.camera.config import SceneConfig, SceneKind, VehicleClass, ViolationKind
from simulators.camera.truth import SignalState, Violation

logger = logging.getLogger(__name__)

# width, length, height in metres
_SIZES: dict[VehicleClass, tuple[float, float, float]] = {
    VehicleClass.CAR: (1.8, 4.4, 1.5),
    VehicleClass.MOTORBIKE: (0.75, 1.9, 1.65),
    VehicleClass.BUS: (2.5, 10.5, 3.2),
    VehicleClass.TRUCK: (2.4, 7.0, 3.3),
}
_PARK_STOP_S = 3.0  # stopped this long outside the allowed stretch = illegal parking


@dataclass(slots=True)
class Agent:
    """One vehicle in world coordinates; ``d`` is the distance of its camera-side face."""

    track_id: int
    cls: VehicleClass
    plate: Plate
    lane: int  # lanes..: index of the parking shoulder
    x: float
    d: float
    speed: float
    desired: float
    width: float
    length: float
    height: float
    colour: tuple[int, int, int]
    oncoming: bool = False
    intent: ViolationKind | None = None
    park_at: float | None = None
    park_frames: int = 0
    stopped_frames: int = 0
    crossed_stop: bool = False
    #: -1 turns left, +1 right into the cross street, 0 goes straight on.
    turn: int = 0
    active: dict[ViolationKind, Violation] = field(default_factory=dict)

    @property
    def speed_kmh(self) -> float:
        """Current speed in km/h."""
        return self.speed * 3.6


class SignalCycle:
    """Fixed-time signal: green, yellow, red, with a phase offset from the seed."""

    def __init__(self, cfg: SceneConfig, offset_s: float) -> None:
        self._cfg = cfg
        self._offset = offset_s
        self._cycle = cfg.green_s + cfg.yellow_s + cfg.red_s

    def state(self, t: float) -> SignalState:
        """Signal state at time ``t`` seconds."""
        if self._cfg.kind is not SceneKind.INTERSECTION:
            return SignalState.NONE
        phase = (t + self._offset) % self._cycle
        if phase < self._cfg.green_s:
            return SignalState.GREEN
        if phase < self._cfg.green_s + self._cfg.yellow_s:
            return SignalState.YELLOW
        return SignalState.RED


class Traffic:
    """All vehicles of one scene, stepped one frame at a time."""

    def __init__(self, cfg: SceneConfig, rng: random.Random) -> None:
        self.cfg = cfg
        self.rng = rng
        self.dt = 1.0 / cfg.fps
        self.frame = -cfg.warmup_frames - 1  # the first frame read is frame 0
        self.agents: list[Agent] = []
        self.violations: list[Violation] = []
        self.signal = SignalCycle(cfg, rng.uniform(0, cfg.green_s + cfg.yellow_s + cfg.red_s))
        cam = cfg.camera
        self.d_min = cam.focal * cam.height_m / (cam.height - cam.horizon)
        self._next_id = 1

    @property
    def t(self) -> float:
        """Simulated time in seconds (0 at the first returned frame)."""
        return self.frame * self.dt

    # --- spawning -------------------------------------------------------------------

    def _lane_x(self, lane: int) -> float:
        cfg = self.cfg
        if lane >= cfg.lanes:
            return cfg.lanes * cfg.lane_width_m + cfg.parking_width_m / 2
        return (lane + 0.5) * cfg.lane_width_m

    def _pick_intent(self, cls: VehicleClass) -> ViolationKind | None:
        cfg = self.cfg
        if self.rng.random() >= cfg.violation_share:
            return None
        kinds = [ViolationKind.WRONG_WAY, ViolationKind.SPEEDING]
        if cfg.kind is SceneKind.INTERSECTION:
            kinds.append(ViolationKind.RED_LIGHT)
        if cls is not VehicleClass.MOTORBIKE and cfg.motorbike_lane is not None:
            kinds.append(ViolationKind.WRONG_LANE)
        if cls in (VehicleClass.CAR, VehicleClass.MOTORBIKE):
            kinds.append(ViolationKind.ILLEGAL_PARKING)
        return self.rng.choice(kinds)

    def _new_agent(self) -> Agent:
        cfg, rng = self.cfg, self.rng
        cls = VehicleClass(rng.choices(list(VehicleClass), weights=cfg.class_mix)[0])
        intent = self._pick_intent(cls)
        kind = VehicleKind.MOTORBIKE if cls is VehicleClass.MOTORBIKE else VehicleKind.CAR
        colour = None
        if cls in (VehicleClass.BUS, VehicleClass.TRUCK):
            colour = PlateColour.YELLOW if rng.random() < 0.7 else PlateColour.WHITE
        plate = random_plate(rng, kind, colour=colour)
        w, length, h = (s * rng.uniform(0.93, 1.07) for s in _SIZES[cls])
        non_moto = [i for i in range(cfg.lanes) if i != cfg.motorbike_lane] or [0]
        if intent is ViolationKind.WRONG_LANE:
            lane = cfg.motorbike_lane if cfg.motorbike_lane is not None else 0
        elif cls is VehicleClass.MOTORBIKE:
            if cfg.motorbike_lane is not None and rng.random() < 0.7:
                lane = cfg.motorbike_lane
            else:
                lane = rng.randrange(cfg.lanes)
        else:
            lane = rng.choice(non_moto)
        parks = intent is ViolationKind.ILLEGAL_PARKING or (
            cls in (VehicleClass.CAR, VehicleClass.MOTORBIKE) and rng.random() < cfg.parking_share
        )
        park_at = None
        if parks:
            lane = cfg.lanes
            lo, hi = cfg.parking_allowed
            if intent is ViolationKind.ILLEGAL_PARKING:
                park_at = rng.uniform(hi + 2.0, cfg.stop_line_m - length - 3.0)
            else:
                park_at = rng.uniform(lo, hi - length)
        x = self._lane_x(lane)
        if cls is VehicleClass.MOTORBIKE and lane < cfg.lanes:
            x += rng.uniform(-0.35, 0.35) * (cfg.lane_width_m - w)
        limit = cfg.speed_limit_kmh / 3.6
        desired = limit * (rng.uniform(0.55, 0.9) if cls is not VehicleClass.BUS else 0.6)
        if intent is ViolationKind.SPEEDING:
            desired = limit * rng.uniform(1.35, 1.6)
        oncoming = intent is ViolationKind.WRONG_WAY
        d = cfg.far_m if oncoming else self.d_min - length * 0.3 - 2.0
        self._next_id += 1
        return Agent(
            track_id=self._next_id - 1,
            cls=cls,
            plate=plate,
            lane=lane,
            x=x,
            d=d,
            speed=desired * 0.8,
            desired=desired,
            width=w,
            length=length,
            height=h,
            colour=_random_colour(rng),
            oncoming=oncoming,
            intent=intent,
            park_at=park_at,
            park_frames=int(rng.uniform(8, 25) * cfg.fps) if parks else 0,
            turn=self._pick_turn(oncoming or parks),
        )

    def _pick_turn(self, never: bool) -> int:
        cfg = self.cfg
        # no draw at all when turning is off, so existing seeds keep their traffic
        if cfg.turn_share <= 0 or cfg.kind is not SceneKind.INTERSECTION or never:
            return 0
        return self.rng.choice((-1, 1)) if self.rng.random() < cfg.turn_share else 0

    def _try_spawn(self) -> None:
        if self.rng.random() >= self.cfg.spawn_per_s * self.dt:
            return
        agent = self._new_agent()
        for other in self.agents:
            if _overlaps_laterally(agent, other) and abs(other.d - agent.d) < (
                max(agent.length, other.length) + 3.0
            ):
                return  # no room: the would-be vehicle never appears (its id is skipped)
        self.agents.append(agent)

    # --- motion ---------------------------------------------------------------------

    def _gap_ahead(self, a: Agent) -> float:
        gap = math.inf
        for b in self.agents:
            if b is a or b.oncoming or not _overlaps_laterally(a, b) or b.d <= a.d:
                continue
            gap = min(gap, b.d - (a.d + a.length))
        return gap

    def _target_speed(self, a: Agent, signal: SignalState) -> float:
        cfg = self.cfg
        target = a.desired
        gap = self._gap_ahead(a)
        target = min(target, max(0.0, (gap - 1.5) / 1.1))
        front = a.d + a.length
        if signal in (SignalState.RED, SignalState.YELLOW) and not a.crossed_stop:
            to_line = cfg.stop_line_m - front - 0.3
            runs = a.intent is ViolationKind.RED_LIGHT
            cannot_stop = signal is SignalState.YELLOW and 0 <= to_line < a.speed * 1.2
            if not runs and not cannot_stop and to_line > -0.5:
                target = min(target, max(0.0, to_line / 1.0))
        if a.park_at is not None:
            to_spot = a.park_at - a.d
            if a.park_frames > 0:
                target = min(target, max(0.0, to_spot / 1.2), 6.0)
        return target

    def _move(self, a: Agent, signal: SignalState) -> None:
        if a.oncoming:
            a.speed = a.desired
            a.d -= a.speed * self.dt
            return
        target = self._target_speed(a, signal)
        accel = max(-7.0 * self.dt, min(2.5 * self.dt, target - a.speed))
        a.speed = max(0.0, a.speed + accel)
        turn_at = self.cfg.stop_line_m + 2.0 + self.cfg.cross_street_m / 2
        if a.turn and a.d >= turn_at:  # in the cross street: move sideways, out of the frame
            a.x += a.turn * max(a.speed, 3.0) * self.dt
            a.speed = max(a.speed, 3.0)
            return
        a.d += a.speed * self.dt
        if a.park_at is not None and a.park_frames > 0 and a.speed < 0.05 and a.d >= a.park_at - 1:
            a.park_frames -= 1
            if a.park_frames == 0:
                a.park_at = None  # leaves: drives on along the shoulder
        a.stopped_frames = a.stopped_frames + 1 if a.speed < 0.05 else 0

    # --- violations -----------------------------------------------------------------

    def _start(self, a: Agent, kind: ViolationKind, signal: SignalState) -> None:
        if kind in a.active:
            return
        v = Violation(
            track_id=a.track_id,
            kind=kind,
            plate=a.plate.text,
            vehicle=a.cls,
            start_frame=self.frame,
            signal_at_start=signal,
        )
        a.active[kind] = v
        self.violations.append(v)

    def _end(self, a: Agent, kind: ViolationKind) -> None:
        v = a.active.pop(kind, None)
        if v is not None:
            v.end_frame = self.frame - 1

    def _update_violations(self, a: Agent, signal: SignalState) -> None:
        cfg = self.cfg
        front = a.d + a.length
        if not a.crossed_stop and not a.oncoming and front > cfg.stop_line_m:
            a.crossed_stop = True
            if signal is SignalState.RED:
                self._start(a, ViolationKind.RED_LIGHT, signal)
        if a.d > cfg.stop_line_m + cfg.cross_street_m:
            self._end(a, ViolationKind.RED_LIGHT)
        if a.oncoming:
            self._start(a, ViolationKind.WRONG_WAY, signal)
        if (
            a.cls is not VehicleClass.MOTORBIKE
            and a.lane == cfg.motorbike_lane
            and a.d < cfg.stop_line_m
        ):
            self._start(a, ViolationKind.WRONG_LANE, signal)
        else:
            self._end(a, ViolationKind.WRONG_LANE)
        if a.speed_kmh > cfg.speed_limit_kmh + 5:
            self._start(a, ViolationKind.SPEEDING, signal)
        elif a.speed_kmh <= cfg.speed_limit_kmh:
            self._end(a, ViolationKind.SPEEDING)
        lo, hi = cfg.parking_allowed
        parked_badly = (
            a.park_at is not None
            and a.stopped_frames >= _PARK_STOP_S * cfg.fps
            and not lo <= a.d <= hi
        )
        if parked_badly:
            self._start(a, ViolationKind.ILLEGAL_PARKING, signal)
        elif a.park_at is None or a.stopped_frames == 0:
            self._end(a, ViolationKind.ILLEGAL_PARKING)

    # --- frame step -----------------------------------------------------------------

    def step(self) -> SignalState:
        """Advance one frame; returns the signal state of the new frame."""
        self.frame += 1
        signal = self.signal.state(self.t)
        self._try_spawn()
        for a in sorted(self.agents, key=lambda a: -a.d):
            self._move(a, signal)
            self._update_violations(a, signal)
        keep: list[Agent] = []
        for a in self.agents:
            gone = (
                a.d > self.cfg.far_m
                or a.d + a.length < self.d_min * 0.6
                or abs(a.x - self.cfg.camera.x_cam) > 40.0
            )
            if gone:
                for kind in list(a.active):
                    self._end(a, kind)
            else:
                keep.append(a)
        self.agents = keep
        return signal


def _overlaps_laterally(a: Agent, b: Agent) -> bool:
    return abs(a.x - b.x) < (a.width + b.width) / 2 + 0.15


def _random_colour(rng: random.Random) -> tuple[int, int, int]:
    palette = [
        (235, 235, 235), (30, 30, 30), (150, 150, 155), (40, 40, 160), (150, 60, 30),
        (40, 110, 40), (200, 200, 200), (60, 60, 70), (20, 120, 200), (90, 30, 120),
    ]  # fmt: skip
    base = rng.choice(palette)
    return tuple(int(min(255, max(0, c + rng.randint(-15, 15)))) for c in base)  # type: ignore[return-value]
