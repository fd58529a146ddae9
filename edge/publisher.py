"""MQTT publisher of a gateway: QoS 1 events, retained status with last will ``offline``.

Connection happens in :meth:`MqttPublisher.start`, never in the constructor. paho
reconnects by itself; every disconnect and reconnect is logged.

Two ways to hold events the broker has not acknowledged yet:

- in memory (no ``queue``): paho keeps up to ``max_queued`` unsent QoS 1 messages;
  beyond that a publish is refused and counted in :attr:`dropped`;
- on disk (``queue=DiskQueue(...)``): ``publish`` commits the event to the queue
  file and returns; a sender thread hands the oldest messages to paho while the
  broker is connected, at most ``max_inflight`` at a time, and deletes each one
  only when its PUBACK arrives. A broker outage, a restart of the gateway or a
  SIGKILL loses nothing; delivery resumes oldest first. A message handed to paho
  is never handed again by this process (paho itself resends it, flagged DUP,
  after a reconnect), so an event is published twice only when a PUBACK was lost
  with the connection or the process died between PUBACK and delete.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from edge.disk_queue import DiskQueue, QueueError
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
    #: TLS: the CA file that signed the broker's certificate (None: plain TCP), and an
    #: optional client certificate and key
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    def configure(self, client: mqtt.Client) -> None:
        """Set credentials and TLS on a paho client (before it connects)."""
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.tls_ca is not None:
            client.tls_set(ca_certs=self.tls_ca, certfile=self.tls_cert, keyfile=self.tls_key)


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
        queue: DiskQueue | None = None,
    ) -> None:
        self.broker = broker
        self.site = site
        self.device = device
        self.agent_version = agent_version
        self.max_queued = max_queued
        self.max_inflight = max_inflight
        self.queue = queue
        #: config version announced in the retained ``online`` status (remote config sets it)
        self.config_version: str | None = None
        self.published = 0
        self.acked = 0
        self._sent = 0  # every QoS 1 publish, status messages included
        self._dropped = 0
        self._connected = threading.Event()
        self._client: mqtt.Client | None = None
        self._last: mqtt.MQTTMessageInfo | None = None
        self._stopping = False
        # disk-queue sender state (only the sender thread touches _mid_seq and _handed)
        self._acked_mids: collections.deque[int] = collections.deque()
        self._mid_seq: dict[int, int] = {}
        self._handed = 0
        self._wake = threading.Event()
        self._sender: threading.Thread | None = None
        self._sender_stop = threading.Event()
        self._subscriptions: dict[str, Callable[[str, bytes], None]] = {}

    def _status(self, state: str) -> tuple[str, bytes]:
        ts = now_utc()
        event = DeviceStatus(
            id=stable_id(self.device, "status", state, ts.isoformat()),
            site=self.site, device=self.device, ts=ts, state=state,  # type: ignore[arg-type]
            agent_version=self.agent_version, config_version=self.config_version,
        )
        return Topics.for_event(event), encode(event)

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect, set the last will, announce ``online`` (retained); wait for the broker."""
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{self.site}-{self.device}",
            clean_session=True,
        )
        self.broker.configure(client)
        topic, offline = self._status("offline")
        client.will_set(topic, offline, qos=1, retain=True)
        client.max_queued_messages_set(self.max_queued if self.queue is None else 0)
        client.max_inflight_messages_set(self.max_inflight)
        client.reconnect_delay_set(min_delay=0.2, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        if self.queue is not None and not self.queue.is_open:
            self.queue.open()  # before the client counts as started: a bad path stops here
        self._client = client
        if self.queue is not None:
            self._sender_stop.clear()
            self._sender = threading.Thread(target=self._send_loop, name=f"{self.device}-sender",
                                            daemon=True)
            self._sender.start()
        client.connect_async(self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s)
        client.loop_start()
        if not self._connected.wait(timeout_s):
            where = "on disk" if self.queue is not None else "in memory"
            logger.warning("%s: broker %s:%s not reachable yet; events wait %s",
                           self.device, self.broker.host, self.broker.port, where)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.error("%s: broker refused the connection: %s", self.device, reason)
            return
        logger.info("%s: connected to %s:%s", self.device, self.broker.host, self.broker.port)
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        self.announce_online()
        self._connected.set()
        self._wake.set()

    def subscribe(self, topic: str, handler: Callable[[str, bytes], None]) -> None:
        """Call ``handler(topic, payload)`` (in paho's thread) for messages on ``topic``;
        the subscription is renewed after every reconnect."""
        self._subscriptions[topic] = handler
        if self._client is not None and self.connected:
            self._client.subscribe(topic, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        for pattern, handler in self._subscriptions.items():
            if mqtt.topic_matches_sub(pattern, msg.topic):
                try:
                    handler(msg.topic, msg.payload)
                except Exception:  # a handler bug must not kill paho's network thread
                    logger.exception("%s: handler for %s failed", self.device, msg.topic)

    def announce_online(self) -> None:
        """Publish the retained ``online`` status (again: e.g. after a config change)."""
        if self._client is None:
            return
        topic, online = self._status("online")
        self._client.publish(topic, online, qos=1, retain=True)
        self._sent += 1

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if self._stopping:
            return
        logger.warning("%s: disconnected from broker (%s); reconnecting", self.device, reason)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        # runs in paho's thread under its message lock: no locks, no I/O here
        self.acked += 1
        if self.queue is not None:
            self._acked_mids.append(mid)
            self._wake.set()

    # --- the disk queue's sender -----------------------------------------------------

    def _send_loop(self) -> None:
        queue, client = self.queue, self._client
        assert queue is not None
        assert client is not None
        while not self._sender_stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            self._apply_acks(queue)
            room = self.max_inflight - len(self._mid_seq)
            if not self._connected.is_set() or room <= 0:
                continue
            for msg in queue.peek(self._handed, room):
                info = client.publish(msg.topic, msg.payload, qos=1, retain=msg.retain)
                if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                    logger.warning("%s: paho refused queued message %d: %s", self.device,
                                   msg.seq, mqtt.error_string(info.rc))
                    break
                self._mid_seq[info.mid] = msg.seq
                self._handed = msg.seq
                self._sent += 1
                if len(self._mid_seq) >= self.max_inflight:
                    break
            else:
                continue
            self._wake.set()  # window full or refused: look again soon

    def _apply_acks(self, queue: DiskQueue) -> None:
        seqs = []
        while self._acked_mids:
            seq = self._mid_seq.pop(self._acked_mids.popleft(), None)
            if seq is not None:
                seqs.append(seq)
        if seqs:
            queue.ack(seqs)

    # --- health ----------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Events not yet acknowledged by the broker (on disk, or handed to paho)."""
        if self.queue is not None:
            return len(self.queue)
        return max(self._sent - self.acked, 0)

    @property
    def dropped(self) -> int:
        """Events refused because the queue was full (either policy)."""
        return self._dropped + (self.queue.dropped if self.queue is not None else 0)

    @property
    def disk_used_bytes(self) -> int:
        """Bytes the disk queue occupies (0 without one)."""
        return self.queue.disk_bytes() if self.queue is not None else 0

    @property
    def started(self) -> bool:
        """Between ``start()`` and ``stop()``."""
        return self._client is not None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # --- publishing ------------------------------------------------------------------

    def publish(self, event: Event) -> bool:
        """Queue one event at QoS 1 on its contract topic; False when it had to be dropped."""
        if self._client is None:
            raise PublishError("publisher not started")
        topic, payload = Topics.for_event(event), encode(event)
        if self.queue is not None:
            try:
                stored = self.queue.put(topic, payload)
            except QueueError as exc:  # the disk is full or failing: the agent goes on
                self._dropped += 1
                if self._dropped == 1 or self._dropped % 1000 == 0:
                    logger.error("%s: %s; dropped %d events so far (heartbeats report it)",
                                 self.device, exc, self._dropped)
                return False
            if not stored:
                return False
            self.published += 1
            self._wake.set()
            return True
        info = self._client.publish(topic, payload, qos=1)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                logger.warning("%s: publish queue full (%d); dropped %d events so far",
                               self.device, self.max_queued, self._dropped)
            return False
        self.published += 1
        self._sent += 1
        self._last = info
        return True

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every published event is acknowledged by the broker."""
        if self.queue is not None:
            deadline = time.monotonic() + timeout_s
            while len(self.queue) and time.monotonic() < deadline:
                self._wake.set()
                time.sleep(0.01)
            return len(self.queue) == 0
        last = self._last
        if last is None:
            return True
        try:
            last.wait_for_publish(timeout=timeout_s)
        except (RuntimeError, ValueError):
            return False
        return last.is_published()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Flush, announce ``offline`` (retained), disconnect. Unsent events stay on disk."""
        client = self._client
        if client is None:
            return
        if self.connected:
            self.flush(timeout_s)
        self._stopping = True
        if self._sender is not None:
            self._sender_stop.set()
            self._wake.set()
            self._sender.join(timeout_s)
            self._sender = None
            if self.queue is not None:
                self._apply_acks(self.queue)
        if self.connected:
            topic, offline = self._status("offline")
            client.publish(topic, offline, qos=1, retain=True).wait_for_publish(timeout=timeout_s)
        client.disconnect()
        client.loop_stop()
        self._client = None
        self._mid_seq.clear()
        self._handed = 0
        self._stopping = False
        if self.queue is not None:
            self.queue.close()
