"""The sensor agent against a real Mosquitto: readings and heartbeats with true health."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from edge.drivers.base import Sample
from edge.publisher import BrokerAddress, MqttPublisher
from edge.sensor_agent import SensorAgent
from ioc.broker import MosquittoBroker
from ioc.contract import DeviceStatus, Heartbeat, SensorReading, decode

T0 = datetime(2025, 11, 3, tzinfo=UTC)


class ListDriver:
    """A driver that gives a fixed list once (a unit-test stand-in for a gauge)."""

    def __init__(self, samples: list[Sample]) -> None:
        self.samples = samples
        self.done = False

    def open(self) -> None:
        pass

    def read(self) -> list[Sample]:
        if self.done:
            return []
        self.done = True
        return self.samples

    @property
    def exhausted(self) -> bool:
        return self.done

    def close(self) -> None:
        pass


@pytest.mark.integration
def test_agent_publishes_readings_status_and_heartbeat(mosquitto: MosquittoBroker) -> None:
    got: list[object] = []
    lock = threading.Lock()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with lock:
            got.append(decode(msg.topic, msg.payload))

    subscribed = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watch")
    sub.on_message = on_message
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.connect(mosquitto.host, mosquitto.port)
    sub.subscribe("ioc/v1/hue/kimlong-01/#", qos=1)
    sub.loop_start()
    assert subscribed.wait(5)
    samples = [Sample("water_level", 1.0 + i / 10, "m", T0 + timedelta(minutes=10 * i),
                      "kimlong") for i in range(5)]
    samples.append(Sample("water_level", 999.0, "m", T0 + timedelta(hours=2), "kimlong"))
    publisher = MqttPublisher(BrokerAddress(mosquitto.host, mosquitto.port), "hue", "kimlong-01")
    agent = SensorAgent("hue", "kimlong-01", ListDriver(samples), publisher,
                        poll_interval_s=0.01, heartbeat_s=1.0)
    agent.start()
    stats = agent.run()
    assert publisher.flush(5)
    deadline = time.monotonic() + 2
    while publisher.queue_depth and time.monotonic() < deadline:  # the ack callback may lag
        time.sleep(0.01)
    assert publisher.queue_depth == 0
    agent.heartbeat()
    agent.stop()
    deadline = time.monotonic() + 5  # acknowledged by the broker is not yet delivered to us
    while time.monotonic() < deadline:
        with lock:
            if any(isinstance(e, DeviceStatus) and e.state == "offline" for e in got):
                break
        time.sleep(0.01)
    sub.loop_stop()
    assert (stats.samples, stats.published, stats.rejected) == (6, 5, 1)  # 999 m is impossible
    readings = [e for e in got if isinstance(e, SensorReading)]
    assert [r.value for r in readings] == [1.0, 1.1, 1.2, 1.3, 1.4]
    assert len({r.id for r in readings}) == 5
    states = [e.state for e in got if isinstance(e, DeviceStatus)]
    assert states[0] == "online"
    assert states[-1] == "offline"
    beats = [e for e in got if isinstance(e, Heartbeat)]
    assert len(beats) >= 2  # one at start, one after the flush
    assert (beats[-1].queue_depth, beats[-1].dropped) == (0, 0)


def test_a_pushed_config_without_alarm_levels_ends_the_fast_polling(publisher) -> None:  # type: ignore[no-untyped-def]
    """The alarm level stayed, and with it polling at the alarm rate, for ever."""
    from pathlib import Path

    from edge.config import load_sensor_config
    from ioc.contract import Topics

    text = (Path(__file__).resolve().parents[2] / "firmware_configs" / "hue" /
            "kimlong-01.yaml").read_text().replace(
        "poll_interval_s: 1.0\n", "poll_interval_s: 1.0\nalarm_poll_interval_s: 0.2\n", 1)
    line = next(s for s in text.splitlines(keepends=True) if "alarm_levels:" in s)
    cfg = load_sensor_config("kimlong-01.yaml", text=text)
    agent = SensorAgent(cfg.site, cfg.device, ListDriver([]), publisher,
                        poll_interval_s=60, heartbeat_s=600, checks=cfg.checks,
                        alarm_poll_interval_s=0.2, config=cfg)
    agent.poll_once()
    agent._track_alarm(Sample("water_level", 1.5, "m", T0, station="kimlong"))
    assert agent.current_poll_interval_s == 0.2
    calm = text.replace("version: 1", "version: 2", 1).replace(line, "")
    agent._on_config(Topics.config(cfg.site, cfg.device), calm.encode())
    assert agent.apply_pushed_configs() == 1
    assert agent.alarm_level == {}
    assert agent.alarm_poll_interval_s is not None
    assert agent.alarm_poll_interval_s < agent.poll_interval_s
    assert agent.current_poll_interval_s == agent.poll_interval_s
