"""MQTT input for Bytewax: partitioned, replayable, acknowledged only once durable.

The source has a fixed number of partitions (``partitions``, spread by Bytewax
over the workers of every process). Each partition owns one MQTT connection
(:class:`stream.mqtt_client.MqttSubscriber`, many packets per system call) with a
stable client id and a persistent session, subscribed through a shared
subscription (``$share/<group>/<filter>``) so the broker splits messages between
partitions instead of duplicating them. The subscription is at QoS 1 at most.

The connection's thread only appends to a deque; ``next_batch`` drains it and
never blocks. With an input log (``log_dir``, used with Bytewax recovery) a
batch is appended to the partition's log, *then* acknowledged to the broker
(manual acknowledgement), then emitted; the partition's resume state is the log
offset of the next message to emit, so a resumed dataflow replays what its last
committed epoch had not yet covered (see :mod:`stream.input_log`). Without a
log, messages are acknowledged on receipt (no recovery: a crash loses what was in
flight).

The source ends when its ``stop`` event is set and everything received was
handed on.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from ioc.contract import DEVICE_KINDS, Topics
from stream.input_log import InputLog
from stream.mqtt_client import MqttLogin, MqttSubscriber
from stream.mqtt_wire import Message

logger = logging.getLogger(__name__)

MAX_BATCH = 2048


#: one message as received: topic, raw bytes, wall-clock receive time (and its ack)
MqttMessage = Message


def ingest_filters(site: str = "+") -> list[str]:
    """Subscription filters of every event kind devices publish."""
    return [Topics.device_filter(kind, site) for kind in sorted(DEVICE_KINDS)]


class _MqttPartition(StatefulSourcePartition[MqttMessage, int | None]):
    def __init__(self, source: MqttSource, part: str, resume: int | None) -> None:
        self._source = source
        self._part = part
        self._log: InputLog | None = None
        self._cursor: int | None = None  # next log offset to emit (replay), None: live
        if source.log_dir is not None:
            self._log = InputLog(Path(source.log_dir) / f"{part}.sqlite")
            self._log.open()
            self._cursor = self._resume_cursor(resume)
        self._client = MqttSubscriber(
            source.host, source.port,
            client_id=f"{source.client_id}-{part}",
            filters=self._filters(),
            qos=min(source.qos, 1),
            clean_session=not source.persistent_session,
            keepalive_s=source.keepalive_s,
            manual_ack=self._log is not None,
            name=f"mqtt source {part}",
            on_subscribed=lambda: source.subscribed(part),
            login=source.login,
        )
        self._queue = self._client.queue
        # A partition is built when the dataflow starts: this is its start().
        self._client.start()

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
        popleft = queue.popleft
        batch = [popleft() for _ in range(n)]
        if self._log is not None:
            # durable first, then acknowledged: a crash in between redelivers, never loses
            self._log.append([(m.topic, m.payload, m.received_at) for m in batch])
            self._client.ack([m.ack for m in batch if m.ack is not None])
        return batch

    def snapshot(self) -> int | None:
        if self._log is None:
            return None
        offset = self._cursor if self._cursor is not None else self._log.end
        self._log.snapshotted(offset)
        return offset

    def close(self) -> None:
        self._client.close()
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
        ready: threading.Event | None = None,
        stop: threading.Event | None = None,
        login: MqttLogin | None = None,
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
        self.ready = ready
        self.stop = stop
        self.login = login
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
