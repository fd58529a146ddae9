"""Bytewax sinks: the stores (idempotent upserts) and the MQTT alert/dead-letter publisher."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from cloud.stores.events import EventStore
from cloud.stores.times import to_ns
from cloud.stores.timeseries import Point, TimeSeriesStore
from ioc.contract import Aggregate, Event, SensorReading, Topics, encode

logger = logging.getLogger(__name__)


def to_point(event: SensorReading | Aggregate) -> Point:
    """The time-series point of a reading or an aggregate (identity: series + time)."""
    if isinstance(event, SensorReading):
        return Point(
            event.quantity,
            {"site": event.site, "station": event.station_id, "device": event.device},
            {"value": event.value},
            event.ts,
        )
    return Point(
        event.measure,
        {**event.labels, "site": event.site, "station": event.station,
         "window": f"{event.window_s}s"},
        {"value": event.value, "samples": event.samples},
        event.ts,
    )


def to_row(event: SensorReading | Aggregate) -> tuple[str, str, int, str]:
    """``to_point(event)`` as a store row ``(measurement, series, ts_ns, fields_json)``,
    built without the intermediate objects (the stream's hot path; equal by test)."""
    if isinstance(event, SensorReading):
        return (event.quantity,
                f"device={event.device},site={event.site},station={event.station_id}",
                to_ns(event.ts), f'{{"value":{event.value!r}}}')
    tags = {**event.labels, "site": event.site, "station": event.station,
            "window": f"{event.window_s}s"}
    series = ",".join(f"{k}={tags[k]}" for k in sorted(tags))
    return (event.measure, series, to_ns(event.ts),
            f'{{"value":{float(event.value)!r},"samples":{event.samples}}}')


class _StorePartition(StatelessSinkPartition[Event]):
    def __init__(self, timeseries: TimeSeriesStore, events: EventStore) -> None:
        self._ts = timeseries
        self._events = events
        self._rows = getattr(timeseries, "write_rows", None)

    def write_batch(self, items: list[Event]) -> None:
        series = [e for e in items if isinstance(e, SensorReading | Aggregate)]
        others = [e for e in items if not isinstance(e, SensorReading | Aggregate)]
        if self._rows is not None:
            self._rows([to_row(e) for e in series])
        else:
            self._ts.write([to_point(e) for e in series])
        if others:
            self._events.put(others)

    def close(self) -> None:
        self._ts.close()
        self._events.close()


class StoreSink(DynamicSink[Event]):
    """Readings and aggregates to the time-series store; every other event to the event store."""

    def __init__(self, timeseries: TimeSeriesStore, events: EventStore) -> None:
        self.timeseries = timeseries
        self.events = events

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _StorePartition:
        return _StorePartition(self.timeseries, self.events)


def _published(info: mqtt.MQTTMessageInfo) -> bool:
    """Whether the broker acknowledged the message. paho raises when the message was
    handed over while disconnected; it stays queued (QoS 1) and goes out on reconnect,
    so it counts as pending, never as a reason to stop the dataflow."""
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        return False


class _PublishPartition(StatelessSinkPartition[Event]):
    def __init__(self, sink: MqttPublishSink, worker_index: int) -> None:
        self._sink = sink
        self._connected = threading.Event()
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{sink.client_id}-w{worker_index}"
        )
        self._client.max_queued_messages_set(0)
        self._client.on_connect = self._on_connect
        self._client.reconnect_delay_set(min_delay=0.1, max_delay=5)
        self._client.connect_async(sink.host, sink.port, keepalive=30)
        self._client.loop_start()
        self._pending: list[mqtt.MQTTMessageInfo] = []

    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            logger.warning("alert publisher: connect refused: %s", reason)
            return
        self._connected.set()

    def write_batch(self, items: list[Event]) -> None:
        for event in items:
            info = self._client.publish(Topics.for_event(event), encode(event), qos=self._sink.qos)
            self._pending.append(info)
        # Keep only what is still unacknowledged, so the list stays short.
        self._pending = [i for i in self._pending if not _published(i)]

    def close(self) -> None:
        deadline = time.monotonic() + 10
        for info in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                info.wait_for_publish(timeout=remaining)
            except (RuntimeError, ValueError) as exc:
                logger.warning("alert publisher: message %s not confirmed: %s", info.mid, exc)
        unconfirmed = sum(1 for i in self._pending if not _published(i))
        if unconfirmed:
            logger.warning("alert publisher: %d messages unconfirmed at close", unconfirmed)
        self._client.disconnect()
        self._client.loop_stop()


class MqttPublishSink(DynamicSink[Event]):
    """Publishes events (alerts, dead letters) on their contract topics at QoS 1."""

    def __init__(self, host: str, port: int, *, client_id: str = "ioc-stream-out",
                 qos: int = 1) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.qos = qos

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _PublishPartition:
        return _PublishPartition(self, worker_index)
