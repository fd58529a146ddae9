"""Bytewax sinks: the stores (idempotent upserts) and the MQTT alert/dead-letter publisher.

The dataflow uses :class:`OutSink`, both in one step: a batch's alerts and dead letters
are handed to MQTT *before* the batch is written to the stores, so an alert reaches a
pager without waiting for SQLite; both sides are idempotent (stable ids), so a replay
after a crash publishes and stores the same things again, harmlessly."""

from __future__ import annotations

import logging

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from cloud.stores.events import EventStore
from cloud.stores.times import to_ns
from cloud.stores.timeseries import Point, TimeSeriesStore
from ioc.contract import KIND_OF, Aggregate, Alert, DeadLetter, Event, SensorReading, Topics, encode
from stream.counters import FlowCounters
from stream.mqtt_client import MqttLogin, MqttPublisher
from stream.store_writer import BackgroundWriter

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
    def __init__(self, timeseries: TimeSeriesStore, events: EventStore,
                 background: bool = False) -> None:
        self._ts = timeseries
        self._events = events
        self._rows = getattr(timeseries, "write_rows", None)
        where = ", ".join(str(getattr(store, "path", type(store).__name__))
                          for store in (timeseries, events))
        self._writer = (BackgroundWriter(self._write, self._close_stores, name=where)
                        if background else None)
        if self._writer is not None:
            self._writer.start()

    def write_batch(self, items: list[Event]) -> None:
        if self._writer is not None:
            self._writer.submit(items)
            return
        self._write(items)

    def _write(self, items: list[Event]) -> None:
        series: list[SensorReading | Aggregate] = []
        others: list[Event] = []
        for e in items:
            (series if isinstance(e, SensorReading | Aggregate) else others).append(e)
        if series:
            if self._rows is not None:
                self._rows([to_row(e) for e in series])
            else:
                self._ts.write([to_point(e) for e in series])
        if others:
            self._events.put(others)

    def _close_stores(self) -> None:
        self._ts.close()
        self._events.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()  # writes what it holds, closes its connections
        self._close_stores()


class StoreSink(DynamicSink[Event]):
    """Readings and aggregates to the time-series store; every other event to the event store.

    ``background``: written by a thread of their own in larger transactions
    (:class:`stream.store_writer.BackgroundWriter`), for a flow without recovery; with
    recovery every batch is committed before the sink returns, so an epoch Bytewax
    commits is in the stores."""

    def __init__(self, timeseries: TimeSeriesStore, events: EventStore, *,
                 background: bool = False) -> None:
        self.timeseries = timeseries
        self.events = events
        self.background = background

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _StorePartition:
        return _StorePartition(self.timeseries, self.events, self.background)


class _PublishPartition(StatelessSinkPartition[Event]):
    def __init__(self, sink: MqttPublishSink, worker_index: int) -> None:
        self._client = MqttPublisher(sink.host, sink.port,
                                     client_id=f"{sink.client_id}-w{worker_index}",
                                     qos=min(sink.qos, 1), name="alert publisher",
                                     login=sink.login)
        self._client.start()

    def pending(self) -> int:
        """Messages handed over but not yet acknowledged by the broker."""
        return self._client.pending()

    def write_batch(self, items: list[Event]) -> None:
        self._client.publish([(Topics.for_event(e), encode(e)) for e in items])

    def close(self) -> None:
        if not self._client.flush(10.0):
            logger.warning("alert publisher: %d messages unconfirmed at close",
                           self._client.pending())
        self._client.close()


class MqttPublishSink(DynamicSink[Event]):
    """Publishes events (alerts, dead letters) on their contract topics at QoS 1 (the
    stream's own client, :class:`stream.mqtt_client.MqttPublisher`: a batch in one write;
    what the broker has not acknowledged is sent again after a reconnect)."""

    def __init__(self, host: str, port: int, *, client_id: str = "ioc-stream-out",
                 qos: int = 1, login: MqttLogin | None = None) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.qos = qos
        self.login = login

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _PublishPartition:
        return _PublishPartition(self, worker_index)


class _OutPartition(StatelessSinkPartition[tuple[str, Event]]):
    def __init__(self, publisher: _PublishPartition, store: _StorePartition,
                 counters: FlowCounters) -> None:
        self._publisher = publisher
        self._store = store
        self._counters = counters

    def write_batch(self, items: list[tuple[str, Event]]) -> None:
        events = [e for _key, e in items]
        outgoing: list[Event] = []
        counts: dict[str, int] = {}
        for e in events:
            if isinstance(e, Alert | DeadLetter):
                outgoing.append(e)
                name = f"out.{KIND_OF[type(e)]}"
                counts[name] = counts.get(name, 0) + 1
                if isinstance(e, DeadLetter) and e.step != "decode":
                    name = f"deadletter.{e.step}.{e.code}"
                    counts[name] = counts.get(name, 0) + 1
        if outgoing:
            self._publisher.write_batch(outgoing)
            self._counters.add_many(counts)
        self._store.write_batch(events)

    def close(self) -> None:
        try:
            self._publisher.close()
        finally:
            self._store.close()


class OutSink(DynamicSink[tuple[str, Event]]):
    """The dataflow's output: alerts and dead letters to MQTT first, then every event to
    the stores. Takes the ``(key, event)`` pairs of the keyed step and counts ``out.*``."""

    def __init__(self, publish: MqttPublishSink, stores: StoreSink,
                 counters: FlowCounters) -> None:
        self.publish = publish
        self.stores = stores
        self.counters = counters

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _OutPartition:
        return _OutPartition(self.publish.build(step_id, worker_index, worker_count),
                             self.stores.build(step_id, worker_index, worker_count),
                             self.counters)
