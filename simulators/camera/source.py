"""The simulated camera as a frame source: ``read() -> (ok, frame)`` like cv2.VideoCapture.

The edge agent opens it like a camera; tests and dataset export read its ground
truth through ``truth``. Same config (seed included), same frames.
"""

from __future__ import annotations

import logging
import random
import time

import numpy as np

from simulators.camera.background import draw_background, draw_signal
from simulators.camera.config import SceneConfig, TimeOfDay
from simulators.camera.effects import apply_lighting, draw_lights, finish, plate_gain
from simulators.camera.geometry import Projector
from simulators.camera.plate_render import paste_plate, render_plate
from simulators.camera.traffic import Agent, Traffic
from simulators.camera.truth import FrameTruth, SignalState, VehicleTruth, Violation
from simulators.camera.vehicles import VehiclePainter

logger = logging.getLogger(__name__)


class CameraSimulator:
    """A fixed traffic camera over a simulated road, with exact ground truth per frame.

    ``realtime=True`` paces ``read()`` to the configured fps; otherwise frames come
    as fast as they can be drawn. ``max_frames`` ends the stream (``read()`` then
    returns ``(False, None)``), like the end of a video file.
    """

    def __init__(
        self, config: SceneConfig, *, realtime: bool = False, max_frames: int | None = None
    ) -> None:
        self.config = config
        self.realtime = realtime
        self.max_frames = max_frames
        self._traffic: Traffic | None = None
        self._truth: FrameTruth | None = None
        self._opened = False
        self._next_due = 0.0
        self._plates: dict[int, np.ndarray] = {}

    # --- cv2.VideoCapture-like interface ---------------------------------------------

    def open(self) -> CameraSimulator:
        """Start (or restart) the scene from its seed."""
        cfg = self.config
        rng = random.Random(cfg.seed)
        self.time_of_day = cfg.time_of_day or rng.choices(list(TimeOfDay), [0.6, 0.2, 0.2])[0]
        self.rain = cfg.rain if cfg.rain is not None else rng.random() < 0.25
        self._proj = Projector(cfg.camera)
        self._painter = VehiclePainter(self._proj, cfg.plate_scale)
        self._background = draw_background(cfg, self._proj, random.Random(cfg.seed + 7919))
        self._traffic = Traffic(cfg, rng)
        for _ in range(cfg.warmup_frames):
            self._traffic.step()
        self._plates.clear()
        self._opened = True
        self._next_due = time.monotonic()
        logger.info(
            "camera simulator open: seed=%s kind=%s %s rain=%s",
            cfg.seed, cfg.kind, self.time_of_day, self.rain,
        )  # fmt: skip
        return self

    def isOpened(self) -> bool:
        """True between ``open()`` and ``release()`` while frames remain."""
        return self._opened

    def release(self) -> None:
        """Close the stream."""
        self._opened = False

    def __enter__(self) -> CameraSimulator:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def grab(self) -> bool:
        """Advance one frame without drawing it (like ``cv2.VideoCapture.grab``).

        The ground truth is not updated; the next ``read()`` is the same frame it
        would have been without the skip, so sampling every n-th frame is cheap.
        """
        if not self._advance_ok():
            return False
        assert self._traffic is not None
        self._traffic.step()
        return True

    def _advance_ok(self) -> bool:
        if not self._opened or self._traffic is None:
            return False
        if self.max_frames is not None and self._traffic.frame + 1 >= self.max_frames:
            self._opened = False
            return False
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        """Next frame (BGR uint8), ``(False, None)`` once closed or past ``max_frames``."""
        if not self._advance_ok():
            return False, None
        assert self._traffic is not None
        if self.realtime:
            delay = self._next_due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._next_due = max(self._next_due, time.monotonic()) + 1.0 / self.config.fps
        signal = self._traffic.step()
        frame, vehicles = self._render()
        t = self._traffic
        active = tuple(v for a in t.agents for v in a.active.values())
        self._truth = FrameTruth(t.frame, t.t, signal, tuple(vehicles), active)
        return True, frame

    @property
    def truth(self) -> FrameTruth:
        """Ground truth of the frame last returned by ``read()``."""
        if self._truth is None:
            raise RuntimeError("no frame read yet: call open() and read() first")
        return self._truth

    def signal_at(self, frame: int) -> SignalState:
        """Signal state of frame number ``frame`` (whether or not it was drawn)."""
        if self._traffic is None:
            raise RuntimeError("not open: call open() first")
        return self._traffic.signal.state(frame * self._traffic.dt)

    def violations(self) -> list[Violation]:
        """Every violation so far with its frame span (frames numbered from 0)."""
        if self._traffic is None:
            return []
        return [v for v in self._traffic.violations if v.end_frame is None or v.end_frame >= 0]

    # --- drawing ---------------------------------------------------------------------

    def _plate_img(self, a: Agent) -> np.ndarray:
        img = self._plates.get(a.track_id)
        if img is None:
            img = self._plates[a.track_id] = render_plate(a.plate)
        return img

    def _render(self) -> tuple[np.ndarray, list[VehicleTruth]]:
        assert self._traffic is not None
        cfg, t = self.config, self._traffic
        cam = cfg.camera
        img = self._background.copy()
        ids = np.zeros((cam.height, cam.width), dtype=np.int32)
        drawn = []
        for a in sorted(t.agents, key=lambda a: -a.d):  # far to near: painter's order
            drawn.append((a, self._painter.draw(img, ids, a)))
        draw_signal(img, cfg, t.signal.state(t.t))
        img = apply_lighting(img, self.time_of_day)
        gain = plate_gain(self.time_of_day)
        lights = []
        truths: list[VehicleTruth] = []
        for a, d in drawn:
            lights += d.lights
            plate_box = None
            if d.plate_box is not None:
                paste_plate(img, self._plate_img(a), d.plate_box, gain, ids == a.track_id)
                px1, py1, px2, py2 = d.plate_box
                big = px2 - px1 >= cfg.min_plate_px
                inside = px1 >= 0 and py1 >= 0 and px2 <= cam.width and py2 <= cam.height
                if big and inside and _visible(ids, d.plate_box, a.track_id) > 0.95:
                    plate_box = tuple(float(c) for c in d.plate_box)
            vis = _visible(ids, d.box, a.track_id)
            if vis < cfg.min_visible:
                continue
            x1, y1, x2, y2 = d.box
            box = (
                max(0.0, x1),
                max(0.0, y1),
                min(float(cam.width), x2),
                min(float(cam.height), y2),
            )
            truths.append(VehicleTruth(
                track_id=a.track_id, cls=a.cls, box=box, plate=a.plate,
                plate_box=plate_box, lane=a.lane, distance_m=a.d, speed_kmh=a.speed_kmh,
                oncoming=a.oncoming, visible=vis, turn=a.turn,
            ))  # fmt: skip
        img = draw_lights(img, lights, self.time_of_day)
        rng = np.random.default_rng([cfg.seed, t.frame + cfg.warmup_frames])
        return finish(img, cfg, self.rain, rng, self.time_of_day), truths


def _visible(ids: np.ndarray, box: tuple[float, ...], tid: int) -> float:
    """Share of the box, as far as it lies inside the frame, whose pixels belong to ``tid``.

    A box more than three quarters outside the frame counts as not visible.
    """
    x1, y1, x2, y2 = (round(c) for c in box)
    area = max(1, (x2 - x1) * (y2 - y1))
    h, w = ids.shape
    cx1, cy1, cx2, cy2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if cx1 >= cx2 or cy1 >= cy2:
        return 0.0
    inside = (cx2 - cx1) * (cy2 - cy1)
    if inside < 0.25 * area:
        return 0.0
    return float(np.count_nonzero(ids[cy1:cy2, cx1:cx2] == tid)) / inside
