"""The dataflow: MQTT in → decode/validate → per-station and per-camera state,
watchlist matching → stores and alerts out.

::

    mqtt_in → decode ─┬─ bad ─────→ dead letter ───────────────────────────┬→ stores
                      ├─ readings → by station → station state ────────────┤
                      ├─ vehicles, violations → by camera → camera state ──┤
                      ├─ plate reads → watchlist → police alerts ──────────┤
                      └─ every other event (plates, status, heartbeats) ───┘
                                  alerts + dead letters ──────────────────→ MQTT out

Every output has a stable identity, so the stores are idempotent and a replay
after a crash (Bytewax recovery + the MQTT input log) changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source

from cloud.stores.events import EventStore
from cloud.stores.timeseries import TimeSeriesStore
from ioc.contract import (
    KIND_OF,
    Aggregate,
    Alert,
    DeadLetter,
    DecodeError,
    DeviceEvent,
    PlateRead,
    SensorReading,
    VehicleTrack,
    Violation,
    decode,
)
from stream.camera import CameraProcessor, camera_key
from stream.config import StreamConfig
from stream.counters import FlowCounters
from stream.influx import InfluxSink
from stream.mqtt_source import MqttMessage, MqttSource
from stream.rules_config import load_rules
from stream.sinks import MqttPublishSink, StoreSink
from stream.station import StationProcessor, Ticker
from stream.watchlist import WatchlistMatcher, WatchlistSource


@dataclass(frozen=True, slots=True)
class FlowIO:
    """Where the flow reads from and writes to. Tests and the demo pass their own."""

    timeseries: TimeSeriesStore
    events: EventStore
    ready: threading.Event | None = None
    stop: threading.Event | None = None
    share_group: str | None = None  # None: the config's group; "": no shared subscription
    watchlist: Callable[[], WatchlistSource] | None = None  # opens the watchlist store
    counters: FlowCounters = field(default_factory=FlowCounters)
    source: Source[MqttMessage] | None = None  # instead of MQTT (benchmarks, replays)


class Decoder:
    """Decodes one MQTT message and checks its event time (never raises)."""

    def __init__(self, config: StreamConfig, counters: FlowCounters,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.oldest = config.ingest.oldest
        self.max_future = timedelta(seconds=config.ingest.max_future_s)
        self.counters = counters
        self._now = now

    def __call__(self, msg: MqttMessage) -> DeviceEvent | DecodeError:
        event = decode(msg.topic, msg.payload)
        if isinstance(event, DecodeError):
            self.counters.add(f"deadletter.decode.{event.code}")
            return event
        if event.ts < self.oldest or event.ts > self._now() + self.max_future:
            self.counters.add("deadletter.decode.time")
            return DecodeError(
                "schema",
                f"`$.ts` {event.ts.isoformat()} is outside the accepted range"
                f" ({self.oldest.isoformat()} .. now + {self.max_future})",
                msg.topic, msg.payload,
            )
        self.counters.add(f"in.{KIND_OF[type(event)]}")
        return event


def build_flow(config: StreamConfig, io: FlowIO, flow_id: str = "ioc-stream") -> Dataflow:
    """The city's dataflow for ``config``, reading MQTT and writing to ``io``'s stores."""
    mqtt_cfg = config.mqtt
    site = config.site
    counters = io.counters
    rules = load_rules(config.rules)  # once, shared by the station and camera steps
    flow = Dataflow(flow_id)
    log_dir = config.recovery.dir / "input" if config.recovery.dir is not None else None
    source = MqttSource(
        mqtt_cfg.host,
        mqtt_cfg.port,
        share_group=io.share_group if io.share_group is not None else mqtt_cfg.share_group,
        client_id=mqtt_cfg.client_id,
        qos=mqtt_cfg.qos,
        keepalive_s=mqtt_cfg.keepalive_s,
        partitions=config.partitions,
        log_dir=log_dir,
        ready=io.ready,
        stop=io.stop,
    )
    messages = op.input("mqtt_in", flow, io.source if io.source is not None else source)
    decoded = op.map("decode", messages, Decoder(config, counters))
    valid = op.branch("valid", decoded, lambda x: not isinstance(x, DecodeError))

    def dead_letter(err: DecodeError) -> DeadLetter:
        return err.to_deadletter(site, "decode", datetime.now(UTC))

    rejected = op.map("dead_letter", valid.falses, dead_letter)

    readings = op.branch("readings", valid.trues, lambda e: isinstance(e, SensorReading))
    by_station = op.flat_map("by_station", readings.trues, Ticker(config))
    stations = op.stateful_map("station", by_station, StationProcessor(config, rules))
    station_out = op.flat_map("station_out", stations, lambda kv: kv[1])

    traffic = op.branch("traffic", readings.falses,
                        lambda e: isinstance(e, VehicleTrack | Violation))
    by_camera = op.key_on("by_camera", traffic.trues, camera_key)
    cameras = op.stateful_map("camera", by_camera, CameraProcessor(config, rules))
    camera_out = op.flat_map("camera_out", cameras, lambda kv: kv[1])

    others = traffic.falses  # plate reads, status, heartbeats: stored as they are
    streams = [station_out, camera_out, rejected, others]
    if config.watchlist.enabled and io.watchlist is not None:
        matcher = WatchlistMatcher(io.watchlist, refresh_s=config.watchlist.refresh_s,
                                   max_distance=config.watchlist.max_distance)
        plates = op.filter("plates", others, lambda e: isinstance(e, PlateRead))
        streams.append(op.filter_map("watchlist", plates, matcher))
    everything = op.merge("all_out", *streams)

    def count_out(e: object) -> bool:
        if isinstance(e, Alert | DeadLetter):
            counters.add(f"out.{KIND_OF[type(e)]}")
            if isinstance(e, DeadLetter) and e.step != "decode":
                counters.add(f"deadletter.{e.step}.{e.code}")
            return True
        return False

    op.output("stores", everything, StoreSink(io.timeseries, io.events))
    if config.influx is not None:
        series = op.filter("series", everything,
                           lambda e: isinstance(e, SensorReading | Aggregate))
        keyed_series = op.key_on("by_series", series, lambda e: e.site + "/" + e.device)
        op.output("influx", keyed_series, InfluxSink(config.influx, config.partitions))
    outgoing = op.filter("outgoing", everything, count_out)
    op.output("mqtt_out", outgoing, MqttPublishSink(mqtt_cfg.host, mqtt_cfg.port,
                                                     client_id=f"{mqtt_cfg.client_id}-out",
                                                     qos=mqtt_cfg.qos))
    return flow



