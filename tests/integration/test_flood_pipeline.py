"""The sensor path end to end against a real Mosquitto: simulated gauges → edge agents →
MQTT → Bytewax flow → stores and alerts. Asserts the shipped scenario's alerts exactly,
and that malformed payloads published mid-run are dead-lettered without disturbing the rest."""

from __future__ import annotations

import threading
import time
from datetime import timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge.config import load_sensor_config
from edge.drivers.registry import make_driver
from edge.publisher import MqttPublisher
from edge.sensor_agent import SensorAgent
from ioc.broker import MosquittoBroker
from ioc.contract import Alert, DeadLetter, Topics, decode_any
from simulators.clock import SimClock
from simulators.sensors.scenario import load_scenario
from stream.config import StreamConfig, load_config
from stream.runner import StreamRunner, embedded_io

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ICT = timezone(timedelta(hours=7))

EXPECTED = [  # (local time, station, status, level) of the 2025-11-03 scenario, in order
    ("11-02 11:30", "kimlong", "raised", 1),
    ("11-02 13:20", "phuoc", "raised", 1),
    ("11-02 21:20", "kimlong", "escalated", 2),
    ("11-03 00:50", "phuoc", "escalated", 2),
    ("11-03 08:00", "kimlong", "escalated", 3),
    ("11-03 12:00", "phuoc", "escalated", 3),
    ("11-03 14:00", "kimlong", "deescalated", 2),
    ("11-03 14:50", "phuoc", "deescalated", 2),
    ("11-04 03:30", "kimlong", "deescalated", 1),
    ("11-04 03:30", "phuoc", "deescalated", 1),
    ("11-04 11:10", "phuoc", "cleared", 0),
    ("11-04 11:30", "kimlong", "cleared", 0),
]

ALL_CHANGES = 29  # 12 flood changes above and 17 of the rain rules

BAD = [
    ("ioc/v1/hue/kimlong-01/reading", b"{not json"),
    ("ioc/v1/hue/kimlong-01/reading", b'{"kind":"reading","v":1}'),
    ("ioc/v1/hue/kimlong-01/reading", b"\x00\xff" * 50),
    ("ioc/v1/hue/phuoc-01/reading", b'{"kind":"reading","v":9,"id":"x","site":"hue",'
     b'"device":"phuoc-01","ts":"2025-11-03T05:00:00Z","quantity":"water_level",'
     b'"value":9.9,"unit":"m"}'),
    ("ioc/v1/hue/phuoc-01/reading", b'{"kind":"reading","v":1,"id":"x","site":"hue",'
     b'"device":"phuoc-01","ts":"2025-11-03T05:00:00Z","quantity":"water_level",'
     b'"value":"4.9","unit":"m"}'),
]


def _config(broker: MosquittoBroker, tmp: Path) -> StreamConfig:
    cfg = load_config()
    return cfg.model_copy(update={
        # simulated time runs thousands of times faster than the wall clock here: a
        # gateway thread lagging a second on a loaded machine must not look silent
        "no_data_slack_min": 24 * 60,
        "mqtt": cfg.mqtt.model_copy(update={"port": broker.port}),
        "store": cfg.store.model_copy(update={"timeseries_path": tmp / "ts.sqlite",
                                              "events_path": tmp / "events.sqlite"}),
    })


def test_shipped_flood_scenario_end_to_end(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    config = _config(mosquitto, tmp_path)
    io = embedded_io(config)
    runner = StreamRunner(config, io)
    runner.start()

    seen: list[Alert] = []
    dead: list[DeadLetter] = []
    lock = threading.Lock()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        event = decode_any(msg.topic, msg.payload)
        with lock:
            if isinstance(event, Alert):
                seen.append(event)
            elif isinstance(event, DeadLetter):
                dead.append(event)

    console = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-console")
    console.on_message = on_message
    console.connect(mosquitto.host, mosquitto.port)
    console.subscribe([(Topics.alerts("hue"), 1), (Topics.deadletter("hue"), 1)])
    console.loop_start()

    scenario = load_scenario("flood-2025-11-03")
    clock = SimClock(scenario.start, scenario.span.total_seconds() / 4.0)  # 60 h in 4 s
    agents = []
    for device in scenario.devices():
        cfg = load_sensor_config(ROOT / "firmware_configs" / "hue" / f"{device}.yaml")
        address = cfg.broker.model_copy(update={"port": mosquitto.port}).address()
        agents.append(SensorAgent("hue", device, make_driver(cfg, clock=clock),
                                  MqttPublisher(address, "hue", device), poll_interval_s=0.01))
    for agent in agents:
        agent.start()
    threads = [threading.Thread(target=a.run) for a in agents]
    for t in threads:
        t.start()

    # A faulty device publishes garbage in the middle of the flood.
    bad_client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="faulty")
    bad_client.connect(mosquitto.host, mosquitto.port)
    bad_client.loop_start()
    time.sleep(1.5)
    for topic, payload in BAD:
        bad_client.publish(topic, payload, qos=1).wait_for_publish(5)

    for t in threads:
        t.join(30)
    for agent in agents:
        agent.stop()
    published = sum(a.stats.published for a in agents)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (
        io.timeseries.count(["water_level", "rain"]) < published or len(seen) < ALL_CHANGES
        or len(dead) < len(BAD)
    ):
        time.sleep(0.1)
    runner.stop()
    bad_client.loop_stop()
    console.loop_stop()

    assert published == 4 * 360
    assert io.timeseries.count(["water_level", "rain"]) == published  # nothing good was lost
    stored = [a for a in io.events.alerts() if a.subcategory == "flood"]
    got = [(a.ts.astimezone(ICT).strftime("%m-%d %H:%M"), a.station, a.status.value, a.level)
           for a in sorted(stored, key=lambda a: (a.ts, a.station or ""))]
    assert got == EXPECTED
    # Per station, the flood alerts arrived on MQTT in order, each state change exactly once.
    for station in ("kimlong", "phuoc"):
        mqtt_seq = [(a.status.value, a.level) for a in seen
                    if a.station == station and a.subcategory == "flood"]
        assert mqtt_seq == [(s, lvl) for _, st, s, lvl in EXPECTED if st == station]
    # The rain rules alert too (24 h, 12 h and 3 h totals at A Luoi and Hue city).
    assert {a.subcategory for a in seen} == {"flood", "heavy_rain"}
    assert len({a.id for a in seen}) == len(seen) == ALL_CHANGES
    peaks = {a.station: a.value for a in stored if a.level == 3}
    assert peaks == {"kimlong": 3.5, "phuoc": 4.5}
    # Every bad payload was dead-lettered with its reason; the stored copies match.
    assert len(dead) == len(BAD)
    assert {d.code for d in dead} == {"json", "schema"}
    assert any("$.value" in d.reason for d in dead)
    assert any("schema version 9" in d.reason for d in dead)
    assert all(d.topic in {t for t, _ in BAD} for d in dead)
    assert io.events.counts()["deadletter"] == len(BAD)
    # Aggregates: hourly rain totals for both gauges and a rate of rise for both rivers.
    totals = io.timeseries.query("rain_total", {"station": "aluoi", "window": "86400s"})
    assert len(totals) >= 55
    assert max(p.fields["value"] for p in totals) > 400
    rises = io.timeseries.query("rate_of_rise", {"station": "kimlong"})
    assert max(p.fields["value"] for p in rises) > 0.1 > min(p.fields["value"] for p in rises)
