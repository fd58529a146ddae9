"""Where the signal state (red, yellow, green) comes from: the simulator, a fixed-time
schedule in config, or the signal controller's own MQTT topic."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from edge.camera.config import MqttSignal, ScheduleSignal, SignalConfig, SimulatorSignal
from edge.publisher import BrokerAddress

logger = logging.getLogger(__name__)
STATES = ("red", "yellow", "green")


class SignalSource(Protocol):
    """Gives the signal state for a frame (None: unknown, the red-light rule stays quiet)."""

    def start(self) -> None: ...

    def state(self, ts: datetime, frame_signal: str | None) -> str | None: ...

    def stop(self) -> None: ...


class FromFrames:
    """The source delivers the state with each frame (the simulator's controller)."""

    def start(self) -> None:
        pass

    def state(self, ts: datetime, frame_signal: str | None) -> str | None:
        return frame_signal if frame_signal in STATES else None

    def stop(self) -> None:
        pass


class Schedule:
    """A fixed-time controller: green, yellow, red from ``epoch`` + ``offset_s``, repeating."""

    def __init__(self, cfg: ScheduleSignal) -> None:
        self.cfg = cfg
        self.epoch = datetime.fromisoformat(cfg.epoch)
        if self.epoch.tzinfo is None:
            raise ValueError(f"signal.epoch {cfg.epoch!r} needs a UTC offset")
        self.cycle = cfg.green_s + cfg.yellow_s + cfg.red_s

    def start(self) -> None:
        pass

    def state(self, ts: datetime, frame_signal: str | None) -> str | None:
        phase = ((ts - self.epoch).total_seconds() + self.cfg.offset_s) % self.cycle
        if phase < self.cfg.green_s:
            return "green"
        if phase < self.cfg.green_s + self.cfg.yellow_s:
            return "yellow"
        return "red"

    def stop(self) -> None:
        pass


def parse_signal_payload(payload: bytes) -> str | None:
    """``red`` / ``yellow`` / ``green`` (any case), or JSON ``{"state": ...}``; None if neither."""
    text = payload.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            value = json.loads(text).get("state")
        except (ValueError, AttributeError):
            return None
        text = str(value) if value is not None else ""
    text = text.lower()
    return text if text in STATES else None


class MqttSignalSource:
    """Follows the controller's topic; the state turns unknown after ``stale_s`` of silence."""

    def __init__(self, cfg: MqttSignal, broker: BrokerAddress, client_id: str) -> None:
        self.cfg, self.broker, self.client_id = cfg, broker, client_id
        self._state: str | None = None
        self._at = 0.0
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id)
        if self.broker.username:
            c.username_pw_set(self.broker.username, self.broker.password)
        c.on_connect = lambda cl, *_a: cl.subscribe(self.cfg.topic, qos=1)
        c.on_message = self._on_message
        c.connect_async(self.broker.host, self.broker.port, self.broker.keepalive_s)
        c.loop_start()
        self._client = c

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        state = parse_signal_payload(msg.payload)
        if state is None:
            logger.warning("signal topic %s: payload %r is not red/yellow/green", msg.topic,
                           msg.payload[:64])
            return
        with self._lock:
            self._state, self._at = state, time.monotonic()

    def state(self, ts: datetime, frame_signal: str | None) -> str | None:
        with self._lock:
            if self._state is None or time.monotonic() - self._at > self.cfg.stale_s:
                return None
            return self._state

    def stop(self) -> None:
        if self._client is not None:
            self._client.loop_stop()
            self._client.disconnect()
            self._client = None


def make_signal(cfg: SignalConfig | None, broker: BrokerAddress, client_id: str) -> SignalSource:
    """The signal source a config names (no config: the state is always unknown)."""
    if cfg is None or isinstance(cfg, SimulatorSignal):
        return FromFrames()
    if isinstance(cfg, ScheduleSignal):
        return Schedule(cfg)
    return MqttSignalSource(cfg, broker, client_id)
