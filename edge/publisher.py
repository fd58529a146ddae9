"""MQTT publisher of a gateway: QoS 1 events, retained status with last will ``offline``.

Connection happens in :meth:`MqttPublisher.start`, never in the constructor. paho
reconnects by itself; every disconnect and reconnect is logged. While the broker is
away paho keeps unsent QoS 1 messages in memory up to ``max_queued``; beyond that a
publish is refused and counted in :attr:`dropped` (the on-disk queue that survives a
power cut is the camera agent's, issue 6).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from ioc.contract import DeviceStatus, Event, Topics, encode, now_utc, stable_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where a gateway's broker is and who the gateway is there."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30


class PublishError(RuntimeError):
    """The publisher could not connect or deliver in time."""


class MqttPublisher:
    """Publishes a device's events; one per device."""

    def __init__(
        self,
        broker: BrokerAddress,
        site: str,
        device: str,
        *,
        agent_version: str = "",
        max_queued: int = 100_000,
        max_inflight: int = 1000,
    ) -> None:
        self.broker = broker
        self.site = site
        self.device = device
        self.agent_version = agent_version
        self.max_queued = max_queued
        self.max_inflight = max_inflight
        self.published = 0
        self.acked = 0
        self._sent = 0  # every QoS 1 publish, status messages included
        self.dropped = 0
        self._connected = threading.Event()
        self._client: mqtt.Client | None = None
        self._last: mqtt.MQTTMessageInfo | None = None
        self._stopping = False

    def _status(self, state: str) -> tuple[str, bytes]:
        ts = now_utc()
        event = DeviceStatus(
            id=stable_id(self.device, "status", state, ts.isoformat()),
            site=self.site, device=self.device, ts=ts, state=state,  # type: ignore[arg-type]
            agent_version=self.agent_version,
        )
        return Topics.for_event(event), encode(event)

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect, set the last will, announce ``online`` (retained); wait for the broker."""
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{self.site}-{self.device}",
            clean_session=True,
        )
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        topic, offline = self._status("offline")
        client.will_set(topic, offline, qos=1, retain=True)
        client.max_queued_messages_set(self.max_queued)
        client.max_inflight_messages_set(self.max_inflight)
        client.reconnect_delay_set(min_delay=0.2, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        client.connect_async(self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s)
        client.loop_start()
        if not self._connected.wait(timeout_s):
            logger.warning("%s: broker %s:%s not reachable yet; events wait in memory",
                           self.device, self.broker.host, self.broker.port)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.error("%s: broker refused the connection: %s", self.device, reason)
            return
        logger.info("%s: connected to %s:%s", self.device, self.broker.host, self.broker.port)
        topic, online = self._status("online")
        client.publish(topic, online, qos=1, retain=True)
        self._sent += 1
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if self._stopping:
            return
        logger.warning("%s: disconnected from broker (%s); reconnecting", self.device, reason)

    def _on_publish(self, _c: mqtt.Client, _u: Any, _mid: int, _r: Any, _p: Any) -> None:
        self.acked += 1

    @property
    def queue_depth(self) -> int:
        """Messages handed to paho and not yet acknowledged by the broker."""
        return max(self._sent - self.acked, 0)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def publish(self, event: Event) -> bool:
        """Queue one event at QoS 1 on its contract topic; False when it had to be dropped."""
        if self._client is None:
            raise PublishError("publisher not started")
        info = self._client.publish(Topics.for_event(event), encode(event), qos=1)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning("%s: publish queue full (%d); dropped %d events so far",
                               self.device, self.max_queued, self.dropped)
            return False
        self.published += 1
        self._sent += 1
        self._last = info
        return True

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until the last published event is acknowledged by the broker."""
        last = self._last
        if last is None:
            return True
        try:
            last.wait_for_publish(timeout=timeout_s)
        except (RuntimeError, ValueError):
            return False
        return last.is_published()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Flush, announce ``offline`` (retained), disconnect."""
        client = self._client
        if client is None:
            return
        self.flush(timeout_s)
        self._stopping = True
        if self.connected:
            topic, offline = self._status("offline")
            client.publish(topic, offline, qos=1, retain=True).wait_for_publish(timeout=timeout_s)
        client.disconnect()
        client.loop_stop()
        self._client = None
