"""The camera gateway agent: source → pipeline → on-disk queue → MQTT, with heartbeats,
remote config and a source that is retried when it drops.

``start()`` opens, in order: the models and evidence store (pipeline), the
frame source, the signal source and the publisher (with its disk queue);
``stop()`` ends every pass still open, publishes what it produced and closes in
reverse order. ``run()`` loops until the source ends or ``request_stop()``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edge.camera.build import build_pipeline
from edge.camera.config import CameraGatewayConfig
from edge.camera.lookahead import Lookahead
from edge.camera.pipeline import CameraPipeline
from edge.camera.remote import Refusal, check_remote, config_ack
from edge.camera.signal import SignalSource, make_signal
from edge.camera.source import FrameSource, SourceError, make_source
from edge.publisher import MqttPublisher
from ioc.config import ConfigError
from ioc.contract import Event, Heartbeat, Topics, now_utc, stable_id

logger = logging.getLogger(__name__)


class CameraAgent:
    """Runs one camera gateway."""

    def __init__(
        self,
        cfg: CameraGatewayConfig,
        publisher: MqttPublisher,
        *,
        config_path: str = "<config>",
        base: Path | None = None,
        evidence_dir: Path | None = None,
        pipeline_factory: Callable[[CameraGatewayConfig], CameraPipeline] | None = None,
    ) -> None:
        self.cfg = cfg
        self.publisher = publisher
        self.config_path = config_path
        self.base = base
        self.evidence_dir = evidence_dir
        self._factory = pipeline_factory or self._build
        self.pipeline: CameraPipeline | None = None
        self.source: FrameSource | None = None
        self.signal: SignalSource | None = None
        self._stop = threading.Event()
        self._ahead = Lookahead(f"{cfg.device}-detect")
        self._configs: queue.Queue[tuple[str, bytes]] = queue.Queue(maxsize=16)
        self._started = time.monotonic()
        self._beat_frames = 0
        self._beat_at = time.monotonic()
        self._source_up = True
        self.events_published = 0
        self.configs_applied = 0
        self.configs_refused = 0

    def _build(self, cfg: CameraGatewayConfig) -> CameraPipeline:
        return build_pipeline(cfg, source=self.config_path, base=self.base,
                              evidence_dir=self.evidence_dir)

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Open the pipeline (models, evidence), the source, the signal, then the publisher;
        raise on failure with the key and the file or URL named."""
        self.pipeline = self._factory(self.cfg)
        self.source = make_source(self.cfg.source)
        self.source.open()  # a missing file fails here, before anything is announced
        self.signal = make_signal(self.cfg.signal, self.publisher.broker,
                                  f"{self.cfg.site}-{self.cfg.device}-signal")
        self.signal.start()
        self.publisher.config_version = str(self.cfg.version)
        self.publisher.subscribe(Topics.config(self.cfg.site, self.cfg.device), self._on_config)
        self.publisher.start()
        self._started = self._beat_at = time.monotonic()

    def request_stop(self) -> None:
        """Ask ``run()`` to return after the current frame."""
        self._stop.set()

    def stop(self) -> None:
        """End open passes and publish them, then close publisher, signal and source."""
        self._ahead.close()  # run() has flushed its last frame unless it failed
        if self.publisher.started:
            if self.pipeline is not None:
                self._publish(self.pipeline.finish())
            self.heartbeat()
        self.publisher.stop()
        if self.signal is not None:
            self.signal.stop()
        if self.source is not None:
            self.source.close()

    # --- main loop -------------------------------------------------------------------

    def run(self) -> int:
        """Process frames until the source ends or a stop is requested; frames processed.

        Each frame's detection runs while the frame before it is tracked and judged
        (:mod:`edge.camera.lookahead`); the frame held back is finished when the source
        stalls or ends, before a config is applied, and on the way out."""
        assert self.pipeline is not None
        assert self.source is not None
        assert self.signal is not None
        frames = 0
        next_beat = time.monotonic()
        while not self._stop.is_set():
            self._apply_configs()
            frame = self.source.read()
            self._watch_source()
            if frame is None:
                self._publish(self._ahead.flush())  # nothing comes to overlap with
                if self._stop.is_set() or self.source.state in ("ended", "closed"):
                    break
                continue
            h, w = frame.image.shape[:2]
            if (w, h) != (self.cfg.frame.width, self.cfg.frame.height):
                # every zone, line and calibration point is drawn for the configured size
                raise SourceError(f"the source gives {w}x{h} frames but frame.width/height"
                                  f" say {self.cfg.frame.width}x{self.cfg.frame.height}:"
                                  " zones and calibration would not fit")
            signal = self.signal.state(frame.ts, frame.signal)
            self._publish(self._ahead.push(self.pipeline, frame, signal))
            frames += 1
            self._beat_frames += 1
            if time.monotonic() >= next_beat:
                self.heartbeat()
                next_beat = time.monotonic() + self.cfg.heartbeat_s
        self._publish(self._ahead.flush())
        logger.info("%s: stopped after %d frames", self.cfg.device, frames)
        return frames

    def _publish(self, events: list[Event]) -> None:
        for e in events:
            if self.publisher.publish(e):
                self.events_published += 1

    def _watch_source(self) -> None:
        assert self.source is not None
        state = self.source.state
        up = state == "streaming"
        if up != self._source_up and state != "ended":
            self._source_up = up
            logger.warning("%s: source %s (%d reconnects so far)", self.cfg.device,
                           "restored" if up else state, self.source.reconnects)
            self.heartbeat()

    def heartbeat(self) -> None:
        """Publish health: fps since the last beat, inference time, queue, drops, disk."""
        now = time.monotonic()
        elapsed = max(now - self._beat_at, 1e-6)
        fps = self._beat_frames / elapsed if self._source_up else 0.0
        self._beat_frames, self._beat_at = 0, now
        pipe, src = self.pipeline, self.source
        disk = self.publisher.disk_used_bytes
        if pipe is not None and pipe.evidence is not None:
            disk += pipe.evidence.bytes_used
        ts = now_utc()
        self.publisher.publish(Heartbeat(
            id=stable_id(self.cfg.device, "heartbeat", ts.isoformat()), site=self.cfg.site,
            device=self.cfg.device, ts=ts, uptime_s=round(now - self._started, 3),
            fps=round(fps, 2), inference_ms=round(pipe.stats.inference_ms, 1) if pipe else None,
            queue_depth=self.publisher.queue_depth,
            dropped=src.dropped if src is not None else 0,
            disk_used_bytes=disk, config_version=str(self.cfg.version),
            source_state=src.state if src is not None else None,
            source_reconnects=src.reconnects if src is not None else 0,
            dropped_events=self.publisher.dropped))

    # --- remote config ---------------------------------------------------------------

    def _on_config(self, topic: str, payload: bytes) -> None:
        try:  # paho's thread: only hand it over
            self._configs.put_nowait((topic, payload))
        except queue.Full:
            logger.warning("%s: config messages arrive faster than they can be applied; "
                           "one dropped", self.cfg.device)

    def _apply_configs(self) -> None:
        while True:
            try:
                topic, payload = self._configs.get_nowait()
            except queue.Empty:
                return
            self.apply_config(topic, payload)

    def apply_config(self, topic: str, payload: bytes) -> bool:
        """Validate and apply a config received on ``topic``; True when it is running."""
        self._publish(self._ahead.flush())  # the frame held back belongs to the old config
        new = check_remote(self.cfg, topic, payload)
        if isinstance(new, CameraGatewayConfig):
            problem = self._switch(new)
            if problem is None:
                logger.info("%s: config version %d applied", self.cfg.device, new.version)
                self.configs_applied += 1
                self.publisher.config_version = str(new.version)
                self.publisher.publish(config_ack(new, topic, payload))
                self.publisher.announce_online()
                self.heartbeat()
                return True
            new = Refusal(problem)
        logger.error("%s: config refused, version %d kept: %s", self.cfg.device,
                     self.cfg.version, new.reason)
        self.configs_refused += 1
        self.publisher.publish(config_ack(self.cfg, topic, payload, new))
        return False

    def _switch(self, new: CameraGatewayConfig) -> str | None:
        """Apply ``new``; on failure keep the running config, every part of it, and say why.

        Every new part (pipeline, source, signal) is built and opened before any running
        one is touched; only when all of them work are they swapped in (a refused config
        had left a new source or pipeline running under the old config's version)."""
        old, pipe = self.cfg, self.pipeline
        assert pipe is not None
        fresh_pipe = fresh_source = fresh_signal = None
        in_place = False
        try:
            if new.detector != old.detector or new.plates != old.plates:
                fresh_pipe = self._factory(new)
            if new.source != old.source:
                fresh_source = make_source(new.source)
                fresh_source.open()  # raises SourceError before the running source is touched
            if new.signal != old.signal:
                fresh_signal = make_signal(new.signal, self.publisher.broker,
                                           f"{new.site}-{new.device}-signal")
                fresh_signal.start()
            if fresh_pipe is None:
                in_place = True
                pipe.apply_config(new)
        except (ConfigError, SourceError, ValueError, OSError) as exc:
            if in_place:
                pipe.apply_config(old)
            if fresh_source is not None:
                fresh_source.close()
            if fresh_signal is not None:
                fresh_signal.stop()
            return str(exc)
        if fresh_pipe is not None:
            self._publish(pipe.finish())
            self.pipeline = fresh_pipe
        if fresh_source is not None:
            assert self.source is not None
            self.source.close()
            self.source = fresh_source
        if fresh_signal is not None:
            assert self.signal is not None
            self.signal.stop()
            self.signal = fresh_signal
        self.cfg = new
        return None

