"""MQTT input for Bytewax: partitioned, replayable, acknowledged only once durable.

The source has a fixed number of partitions (``partitions``, spread by Bytewax
over the workers of every process). Each partition owns one paho client with a
stable client id and a persistent session, subscribed through a shared
subscription (``$share/<group>/<filter>``) so the broker splits messages between
partitions instead of duplicating them.

paho's network thread only appends to a deque; ``next_batch`` drains it and
never blocks. With an input log (``log_dir``, used with Bytewax recovery) a
batch is appended to the partition's log, *then* acknowledged to the broker
(paho ``manual_ack``), then emitted; the partition's resume state is the log
offset of the next message to emit, so a resumed dataflow replays what its last
committed epoch had not yet covered (see :mod:`stream.input_log`). Without a
log, paho acknowledges on receipt (no recovery: a crash loses what was in
flight).

The source ends when its ``stop`` event is set and everything received was
handed on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from ioc.contract import DEVICE_KINDS, Topics
from stream.input_log import InputLog

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


class _MqttPartition(StatefulSourcePartition[MqttMessage, int | None]):
    def __init__(self, source: MqttSource, part: str, resume: int | None) -> None:
        self._source = source
        self._part = part
        self._queue: deque[tuple[MqttMessage, int, int]] = deque()
        self._closing = False
        self._log: InputLog | None = None
        self._cursor: int | None = None  # next log offset to emit (replay), None: live
        if source.log_dir is not None:
            self._log = InputLog(Path(source.log_dir) / f"{part}.sqlite")
            self._log.open()
            self._cursor = self._resume_cursor(resume)
        manual = self._log is not None
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"{source.client_id}-{part}",
            clean_session=not source.persistent_session,
            manual_ack=manual,
        )
        self._client.max_inflight_messages_set(source.max_inflight)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._client.reconnect_delay_set(min_delay=0.1, max_delay=5)
        # A partition is built when the dataflow starts: this is its start().
        self._client.connect_async(source.host, source.port, keepalive=source.keepalive_s)
        self._client.loop_start()

    def _resume_cursor(self, resume: int | None) -> int | None:
        assert self._log is not None
        if resume is None or resume >= self._log.end:
            return None
        first = self._log.first()
        if first is not None and resume < first:
            logger.error("mqtt source %s: resume offset %d was pruned (log starts at %d);"
                         " replaying from %d: %d messages cannot be replayed",
                         self._part, resume, first, first, first - resume)
            resume = first
        logger.warning("mqtt source %s: replaying log offsets %d..%d after a restart",
                       self._part, resume, self._log.end - 1)
        return resume

    def _filters(self) -> list[str]:
        group = self._source.share_group
        return [Topics.shared(group, f) if group else f for f in self._source.filters]

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("mqtt source %s: connect refused by %s:%s: %s", self._part,
                           self._source.host, self._source.port, reason)
            return
        logger.info("mqtt source %s: connected to %s:%s (session present: %s), subscribing %s",
                    self._part, self._source.host, self._source.port,
                    getattr(flags, "session_present", None), self._filters())
        client.subscribe([(f, self._source.qos) for f in self._filters()])

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        failed = [r for r in reasons if r.is_failure]
        if failed:
            logger.error("mqtt source %s: subscription refused: %s", self._part, failed)
            return
        self._source.subscribed(self._part)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._queue.append((MqttMessage(msg.topic, msg.payload, time.time()), msg.mid, msg.qos))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not self._closing:
            logger.warning("mqtt source %s: disconnected (%s); paho reconnects",
                           self._part, reason)

    def _replay(self) -> list[MqttMessage]:
        assert self._log is not None
        assert self._cursor is not None
        rows = self._log.read(self._cursor, MAX_BATCH)
        if not rows:
            self._cursor = None
            return []
        self._cursor = rows[-1][0] + 1
        if self._cursor >= self._log.end:
            self._cursor = None
        return [MqttMessage(t, p, r) for _o, t, p, r in rows]

    def next_batch(self) -> list[MqttMessage]:
        if self._cursor is not None:
            return self._replay()
        queue = self._queue
        if not queue:
            stop = self._source.stop
            if stop is not None and stop.is_set():
                raise StopIteration
            return []
        n = min(len(queue), MAX_BATCH)
        taken = [queue.popleft() for _ in range(n)]
        batch = [m for m, _mid, _q in taken]
        if self._log is not None:
            self._log.append([(m.topic, m.payload, m.received_at) for m in batch])
            for _m, mid, qos in taken:
                if qos > 0:
                    self._client.ack(mid, qos)
        return batch

    def snapshot(self) -> int | None:
        if self._log is None:
            return None
        offset = self._cursor if self._cursor is not None else self._log.end
        self._log.snapshotted(offset)
        return offset

    def close(self) -> None:
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()
        if self._log is not None:
            self._log.close()


class MqttSource(FixedPartitionedSource[MqttMessage, int | None]):
    """Messages from every device topic, split between partitions by a shared subscription.

    ``ready`` (optional) is set once every partition built in this process has its
    subscription acknowledged; ``stop`` (optional) ends the source once set and drained.
    ``log_dir`` turns on the input log (needed for recovery); it implies a persistent
    session so that unacknowledged messages survive a restart in the broker."""

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
        partitions: int = 1,
        log_dir: Path | None = None,
        persistent_session: bool | None = None,
        max_inflight: int = 0,
        ready: threading.Event | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions}")
        if partitions > 1 and not share_group:
            raise ValueError(
                f"{partitions} partitions need a shared subscription group (share_group),"
                " or every partition would receive every message"
            )
        self.host = host
        self.port = port
        self.filters = filters or ingest_filters()
        self.share_group = share_group
        self.client_id = client_id
        self.qos = qos
        self.keepalive_s = keepalive_s
        self.partitions = partitions
        self.log_dir = log_dir
        self.persistent_session = (log_dir is not None if persistent_session is None
                                   else persistent_session)
        self.max_inflight = max_inflight
        self.ready = ready
        self.stop = stop
        self._lock = threading.Lock()
        self._built: set[str] = set()
        self._subscribed: set[str] = set()

    def list_parts(self) -> list[str]:
        return [f"p{i}" for i in range(self.partitions)]

    def build_part(
        self, step_id: str, for_part: str, resume_state: int | None
    ) -> _MqttPartition:
        with self._lock:
            self._built.add(for_part)
        return _MqttPartition(self, for_part, resume_state)

    def subscribed(self, part: str) -> None:
        """Called by a partition once its subscription is acknowledged."""
        with self._lock:
            self._subscribed.add(part)
            done = self._subscribed >= self._built
        if done and self.ready is not None:
            self.ready.set()
