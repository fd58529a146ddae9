"""MQTT input for Bytewax, written on ``bytewax.inputs.DynamicSource``.

Each worker connects its own paho client and subscribes through a shared
subscription (``$share/<group>/<filter>``), so the broker splits messages between
workers instead of duplicating them. paho's network thread appends messages to a
deque; ``next_batch`` only drains it and never blocks. The source ends when its
``stop`` event is set and everything received was handed on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from bytewax.inputs import DynamicSource, StatelessSourcePartition

from ioc.contract import DEVICE_KINDS, Topics

logger = logging.getLogger(__name__)

MAX_BATCH = 2048


@dataclass(frozen=True, slots=True)
class MqttMessage:
    """One message as received: topic, raw bytes and the wall-clock receive time."""

    topic: str
    payload: bytes
    received_at: float


def ingest_filters(site: str = "+") -> list[str]:
    """Subscription filters of every event kind devices publish."""
    return [Topics.device_filter(kind, site) for kind in sorted(DEVICE_KINDS)]


class _MqttPartition(StatelessSourcePartition[MqttMessage]):
    def __init__(self, source: MqttSource, worker_index: int) -> None:
        self._source = source
        self._queue: deque[MqttMessage] = deque()
        client_id = f"{source.client_id}-w{worker_index}"
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True
        )
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._client.reconnect_delay_set(min_delay=0.1, max_delay=5)
        # The partition is built when the dataflow starts: this is its start().
        self._client.connect_async(source.host, source.port, keepalive=source.keepalive_s)
        self._client.loop_start()

    def _filters(self) -> list[str]:
        group = self._source.share_group
        return [Topics.shared(group, f) if group else f for f in self._source.filters]

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("mqtt source: connect refused by %s:%s: %s",
                           self._source.host, self._source.port, reason)
            return
        logger.info("mqtt source: connected to %s:%s, subscribing %s",
                    self._source.host, self._source.port, self._filters())
        client.subscribe([(f, self._source.qos) for f in self._filters()])

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            logger.error("mqtt source: subscription refused: %s", failed)
            return
        ready = self._source.ready
        if ready is not None:
            ready.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._queue.append(MqttMessage(msg.topic, msg.payload, time.time()))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not self._closing:
            logger.warning("mqtt source: disconnected (%s); paho reconnects", reason)

    _closing = False

    def next_batch(self) -> list[MqttMessage]:
        queue = self._queue
        if not queue:
            stop = self._source.stop
            if stop is not None and stop.is_set():
                raise StopIteration
            return []
        n = min(len(queue), MAX_BATCH)
        return [queue.popleft() for _ in range(n)]

    def close(self) -> None:
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()


class MqttSource(DynamicSource[MqttMessage]):
    """Messages from every device topic, split between workers by a shared subscription.

    ``ready`` (optional) is set once a worker's subscription is acknowledged;
    ``stop`` (optional) ends the source once set and drained."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        filters: list[str] | None = None,
        share_group: str | None = "ioc-stream",
        client_id: str = "ioc-stream",
        qos: int = 1,
        keepalive_s: int = 30,
        ready: threading.Event | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.filters = filters or ingest_filters()
        self.share_group = share_group
        self.client_id = client_id
        self.qos = qos
        self.keepalive_s = keepalive_s
        self.ready = ready
        self.stop = stop

    def build(
        self, step_id: str, worker_index: int, worker_count: int
    ) -> StatelessSourcePartition[MqttMessage]:
        if worker_count > 1 and not self.share_group:
            raise ValueError(
                f"{worker_count} workers need a shared subscription group (share_group),"
                " or every worker would receive every message"
            )
        return _MqttPartition(self, worker_index)
