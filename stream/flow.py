"""The dataflow: MQTT in → decode/validate/route → per-station and per-camera state
→ alerts out and stores.

::

    mqtt_in → decode (batch) ─┬─ s:<station>: readings, ticks ─┐
      (stream.route)          ├─ c:<camera>: vehicles, viols ──┴→ process (keyed) ─┐
                              └─ unkeyed: plate reads + watchlist hits, status,    │
                                 heartbeats, dead letters ─────────────────────────┤
                                      out: alerts + dead letters → MQTT, then stores
                                      (influx: readings and aggregates, optional)

Few steps, each called once per batch (``flat_map_batch``, ``stateful_batch``): a step
costs Bytewax a Python call per item it is handed, and a reading needs only the work
its state machines do. Every output has a stable identity, so the stores are
idempotent and a replay after a crash (Bytewax recovery + the MQTT input log) changes
nothing.
"""

from __future__ import annotations

import heapq
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulBatchLogic

from cloud.stores.events import EventStore
from cloud.stores.timeseries import TimeSeriesStore
from ioc.contract import Aggregate, SensorReading, VehicleTrack, Violation
from stream.camera import CameraProcessor, CameraState
from stream.config import StreamConfig
from stream.counters import FlowCounters
from stream.influx import InfluxSink
from stream.mqtt_source import MqttMessage, MqttSource
from stream.route import Routed, Router, is_keyed
from stream.rules_config import load_rules
from stream.sinks import MqttPublishSink, OutSink, StoreSink
from stream.station import StationProcessor, StationState, Tick
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


class KeyLogic(StatefulBatchLogic[object, object, bytes]):
    """The keyed step's logic for one key: a station's or a camera's state, fed the
    key's items of a batch in one call. Station keys get readings and ticks
    (:class:`~stream.station.StationProcessor`), camera keys vehicle passes and
    violations (:class:`~stream.camera.CameraProcessor`); keys never mix the two.

    Each value is ``(router, items)``: the key's items from one input batch of one
    worker (see :class:`stream.route.Router`); one worker's items are processed in its
    order, several workers' are merged by event time. Snapshots are the pickled state (a
    copy that later batches cannot change), taken only when the flow runs with recovery;
    without it there is nothing to resume."""

    def __init__(self, station: StationProcessor, camera: CameraProcessor,
                 state: StationState | CameraState | None, snapshots: bool) -> None:
        self.station = station
        self.camera = camera
        self.state = state
        self.snapshots = snapshots

    def on_batch(self, values: list[object]) -> tuple[list[object], bool]:
        out: list[object] = []
        state = self.state
        # the key's items of each input batch as (router, items) (stream.route)
        if len(values) == 1:
            items = values[0][1]  # type: ignore[index]
        else:
            by_router: dict[int, list[object]] = {}
            for router, group in values:  # type: ignore[misc]
                by_router.setdefault(router, []).extend(group)
            if len(by_router) == 1:
                items = next(iter(by_router.values()))
            else:
                # several workers' input (a shared subscription splits a station's
                # readings between them): each one's order kept, merged in event time
                items = list(heapq.merge(*by_router.values(), key=_event_time))
        for value in items:
            item = value.event if type(value) is Routed else value
            if isinstance(item, VehicleTrack | Violation):
                state, produced = self.camera(state, item)
            else:
                state, produced = self.station(state, item)
            out.extend(produced)
        self.state = state
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> bytes | None:  # type: ignore[override]
        if not self.snapshots:
            return None
        return pickle.dumps(self.state, protocol=pickle.HIGHEST_PROTOCOL)


def _event_time(value: object) -> datetime:
    """When an item of the keyed step happened (a tick: its watermark)."""
    if type(value) is Routed:
        return value.event.ts
    return value.watermark if isinstance(value, Tick) else value.ts  # type: ignore[attr-defined]


def build_flow(config: StreamConfig, io: FlowIO, flow_id: str = "ioc-stream") -> Dataflow:
    """The city's dataflow for ``config``, reading MQTT and writing to ``io``'s stores."""
    mqtt_cfg = config.mqtt
    counters = io.counters
    # once, shared by the station and camera steps; a station the rules name that the
    # config does not list is refused (a typo would silence that river's alarms)
    rules = load_rules(config.rules, stations=config.stations or None)
    flow = Dataflow(flow_id)
    log_dir = config.recovery.dir / "input" if config.recovery.dir is not None else None
    login = mqtt_cfg.login()
    source = io.source if io.source is not None else MqttSource(
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
        login=login,
    )
    messages = op.input("mqtt_in", flow, source)
    matcher = None
    if config.watchlist.enabled and io.watchlist is not None:
        matcher = WatchlistMatcher(io.watchlist, refresh_s=config.watchlist.refresh_s,
                                   max_distance=config.watchlist.max_distance,
                                   min_confidence=config.watchlist.min_confidence)
    routed = op.flat_map_batch("decode", messages, Router(config, counters, matcher))
    keyed = op.branch("keyed", routed, is_keyed)
    station = StationProcessor(config, rules)
    camera = CameraProcessor(config, rules)
    snapshots = config.recovery.dir is not None

    def build(resume: bytes | None) -> KeyLogic:
        state = pickle.loads(resume) if resume is not None else None
        return KeyLogic(station, camera, state, snapshots)

    processed = op.stateful_batch("process", keyed.trues, build)  # type: ignore[arg-type]
    everything = op.merge("all_out", processed, keyed.falses)
    op.output("out", everything, OutSink(
        MqttPublishSink(mqtt_cfg.host, mqtt_cfg.port, client_id=f"{mqtt_cfg.client_id}-out",
                        qos=mqtt_cfg.qos, login=login),
        StoreSink(io.timeseries, io.events, background=not snapshots), counters))
    if config.influx is not None:
        series = op.filter_map("series", everything, _series)
        op.output("influx", series, InfluxSink(config.influx, config.partitions))
    return flow


def _series(item: tuple[str, object]) -> tuple[str, SensorReading | Aggregate] | None:
    """A reading or aggregate keyed by its series (for the InfluxDB sink), else None."""
    e = item[1]
    if isinstance(e, SensorReading | Aggregate):
        return e.site + "/" + e.device, e
    return None
