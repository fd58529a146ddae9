"""The dataflow: MQTT in → decode/validate → per-station state → stores and alerts out.

::

    mqtt_in → decode ─┬─ bad ─→ dead letter ─────────────────────────┬→ stores
                      └─ ok ──→ readings by station → station state ─┤
                      └─ ok ──→ other events (plates, status, …) ────┘
                                            alerts + dead letters ───→ MQTT out
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from cloud.stores.events import EventStore
from cloud.stores.timeseries import TimeSeriesStore
from ioc.contract import (
    Alert,
    DeadLetter,
    DecodeError,
    DeviceEvent,
    SensorReading,
    decode,
)
from stream.config import StreamConfig
from stream.mqtt_source import MqttMessage, MqttSource
from stream.sinks import MqttPublishSink, StoreSink
from stream.station import StationProcessor, station_key


@dataclass(frozen=True, slots=True)
class FlowIO:
    """Where the flow reads from and writes to. Tests and the demo pass their own."""

    timeseries: TimeSeriesStore
    events: EventStore
    ready: threading.Event | None = None
    stop: threading.Event | None = None
    share_group: str | None = None  # None: the config's group; "": no shared subscription


def decode_message(msg: MqttMessage) -> DeviceEvent | DecodeError:
    """Decode one MQTT message (never raises)."""
    return decode(msg.topic, msg.payload)


def build_flow(config: StreamConfig, io: FlowIO, flow_id: str = "ioc-stream") -> Dataflow:
    """The city's dataflow for ``config``, reading MQTT and writing to ``io``'s stores."""
    mqtt_cfg = config.mqtt
    site = config.site
    flow = Dataflow(flow_id)
    source = MqttSource(
        mqtt_cfg.host,
        mqtt_cfg.port,
        share_group=io.share_group if io.share_group is not None else mqtt_cfg.share_group,
        client_id=mqtt_cfg.client_id,
        qos=mqtt_cfg.qos,
        keepalive_s=mqtt_cfg.keepalive_s,
        ready=io.ready,
        stop=io.stop,
    )
    messages = op.input("mqtt_in", flow, source)
    decoded = op.map("decode", messages, decode_message)
    valid = op.branch("valid", decoded, lambda x: not isinstance(x, DecodeError))

    def dead_letter(err: DecodeError) -> DeadLetter:
        return err.to_deadletter(site, "decode", datetime.now(UTC))

    rejected = op.map("dead_letter", valid.falses, dead_letter)
    readings = op.branch("readings", valid.trues, lambda e: isinstance(e, SensorReading))
    keyed = op.key_on("by_station", readings.trues, station_key)
    processed = op.stateful_map("station", keyed, StationProcessor(config))
    produced = op.flat_map("produced", processed, lambda kv: kv[1])
    everything = op.merge("all_out", produced, rejected, readings.falses)
    op.output("stores", everything, StoreSink(io.timeseries, io.events))
    outgoing = op.filter(
        "outgoing", everything, lambda e: isinstance(e, Alert | DeadLetter)
    )
    op.output("mqtt_out", outgoing, MqttPublishSink(mqtt_cfg.host, mqtt_cfg.port,
                                                     client_id=f"{mqtt_cfg.client_id}-out",
                                                     qos=mqtt_cfg.qos))
    return flow

