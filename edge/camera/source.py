"""Frame sources: the camera simulator, a video file, or a live RTSP/HTTP stream.

Every source gives :class:`Frame` objects with an event time. A live stream that
drops is reopened with exponential back-off (``reconnects`` and ``state`` show it
in the heartbeat); a live source reads in its own thread and keeps only the newest
frame, so a slow pipeline drops frames (counted) instead of falling behind.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from edge.camera.config import SimulatorSource, SourceConfig, UrlSource
from ioc.contract import now_utc

logger = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """A source that cannot be opened (names the key and the file or URL)."""


@dataclass(slots=True)
class Frame:
    """One frame: BGR image, number in the stream, event time, signal state if known."""

    index: int
    image: np.ndarray
    ts: datetime
    t: float  # seconds since the first frame (stream time, for rules)
    signal: str | None = None
    truth: Any = None  # the simulator's ground truth (evaluation only)


class FrameSource(Protocol):
    """What the agent reads frames from."""

    reconnects: int
    dropped: int
    state: str

    def open(self) -> None: ...

    def read(self) -> Frame | None:
        """The next frame; None when there is none now (``state`` says whether the stream
        ended, is closed, or is reconnecting and worth asking again)."""
        ...

    def close(self) -> None: ...


def _start_time(text: str | None) -> datetime:
    if text is None:
        return now_utc()
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        raise SourceError(f"source.start {text!r} needs a UTC offset")
    return ts


class SimulatorFrames:
    """``simulators.camera`` as a camera; frame times are ``start + index / fps``."""

    def __init__(self, cfg: SimulatorSource) -> None:
        self.cfg = cfg
        self.reconnects = 0
        self.dropped = 0
        self.state = "closed"
        self._sim: Any = None
        self._index = 0
        self._start = now_utc()
        self._due: float | None = None

    def open(self) -> None:
        from simulators.camera import CameraGeometry, CameraSimulator, SceneConfig, SceneKind

        c = self.cfg
        k = c.width / 640
        cam = CameraGeometry(width=c.width, height=c.height, focal=720 * k, horizon=10 * k)
        scene = SceneConfig(seed=c.seed, kind=SceneKind(c.scene), fps=c.fps, camera=cam)
        self._sim = CameraSimulator(scene, max_frames=c.max_frames).open()
        self._start = _start_time(c.start)
        self._index = 0
        # the camera's clock starts with the first read: the agent opens its source before
        # it waits (up to 10 s) for the broker, and those seconds were skipped as late frames
        self._due = None
        self.state = "streaming"

    def read(self) -> Frame | None:
        sim = self._sim
        if sim is None:
            return None
        period = 1.0 / self.cfg.fps
        if self.cfg.realtime:
            now = time.monotonic()
            if self._due is None:
                self._due = now
                if self.cfg.start is None:
                    self._start = now_utc()
            while now - self._due > period and sim.grab():  # late: skip like a live camera
                self._due += period
                self._index += 1
                self.dropped += 1
            if self._due > now:
                time.sleep(self._due - now)
            self._due = max(self._due, time.monotonic() - period) + period
        ok, image = sim.read()
        if not ok or image is None:
            self.state = "ended"
            return None
        truth = sim.truth
        i = self._index
        self._index += 1
        signal = truth.signal.value if truth.signal.value != "none" else None
        return Frame(i, image, self._start + timedelta(seconds=i * period), i * period, signal,
                     truth)

    def close(self) -> None:
        if self._sim is not None:
            self._sim.release()
            self._sim = None
        self.state = "closed"


def _is_file(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


class CaptureFrames:
    """A video file (read in order, ends at its end) or a live stream (newest frame only,
    reopened with back-off when it drops)."""

    def __init__(self, cfg: UrlSource, *, wait_s: float = 1.0) -> None:
        self.cfg = cfg
        self.live = cfg.live if cfg.live is not None else not _is_file(cfg.url)
        self.reconnects = 0
        self.dropped = 0
        self.state = "closed"
        self._stop = threading.Event()
        self.wait_s = wait_s
        self._cap: cv2.VideoCapture | None = None
        self._index = 0
        self._start = now_utc()
        self._t0 = 0.0
        self._latest: tuple[np.ndarray, float] | None = None
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self._ended = False
        self._pending: np.ndarray | None = None

    def _path(self) -> str:
        return self.cfg.url[len("file://"):] if self.cfg.url.startswith("file://") else self.cfg.url

    def _open_capture(self) -> cv2.VideoCapture | None:
        cap = cv2.VideoCapture(self._path())
        if cap.isOpened():
            return cap
        cap.release()
        return None

    def open(self) -> None:
        self._start = _start_time(self.cfg.start)
        self._t0 = time.monotonic()
        if not self.live:
            path = Path(self._path())
            if not path.is_file():
                raise SourceError(f"source.url: {path}: no such file")
            cap = self._open_capture()
            if cap is None:
                raise SourceError(f"source.url: {path}: OpenCV cannot read it as video")
            ok, first = cap.read()
            if not ok:
                cap.release()
                raise SourceError(f"source.url: {path}: no frame could be decoded")
            self._pending = first
            self._cap = cap
            self.state = "streaming"
            return
        self._reader = threading.Thread(target=self._read_live, name="capture", daemon=True)
        self._reader.start()

    def _read_live(self) -> None:
        delay = self.cfg.retry_initial_s
        while not self._stop.is_set():
            cap = self._open_capture()
            if cap is None:
                self.state = "reconnecting"
                logger.warning("source %s: cannot open; retrying in %.1f s", self.cfg.url, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.cfg.retry_max_s)
                self.reconnects += 1
                continue
            self.state = "streaming"
            delay = self.cfg.retry_initial_s
            while not self._stop.is_set():
                ok, image = cap.read()
                if not ok or image is None:
                    break
                with self._cond:
                    if self._latest is not None:
                        self.dropped += 1
                    self._latest = (image, time.monotonic())
                    self._cond.notify()
            cap.release()
            if not self._stop.is_set():
                self.state = "reconnecting"
                logger.warning("source %s: stream dropped; reopening", self.cfg.url)
        with self._cond:
            self._ended = True
            self._cond.notify()

    def read(self) -> Frame | None:
        if not self.live:
            cap = self._cap
            if cap is None:
                return None
            if self._pending is not None:
                image, self._pending = self._pending, None
                return self._frame(image, 0.0)
            ok, image = cap.read()
            if not ok or image is None:
                self.state = "ended"
                return None
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            return self._frame(image, t)
        with self._cond:
            deadline = time.monotonic() + self.wait_s
            while self._latest is None and not self._ended and not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return None  # nothing yet (the stream may be reconnecting): ask again
                self._cond.wait(left)
            if self._latest is None:
                if self._ended:
                    self.state = "ended"
                return None
            image, at = self._latest
            self._latest = None
        return self._frame(image, at - self._t0)

    def _frame(self, image: np.ndarray, t: float) -> Frame:
        i = self._index
        self._index += 1
        return Frame(i, image, self._start + timedelta(seconds=t), t)

    def close(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join(5)
            self._reader = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self.state = "closed"


def make_source(cfg: SourceConfig) -> FrameSource:
    """The frame source a config names (not yet opened)."""
    if isinstance(cfg, SimulatorSource):
        return SimulatorFrames(cfg)
    return CaptureFrames(cfg)
