"""A sensor gateway that reads a simulated Modbus gauge and publishes to a real Mosquitto:
correct contract readings, faster polling in alarm, and a device that drops off the line
mid-run shows in the heartbeat (source state, reconnects) and recovers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge.config import load_sensor_config
from edge.sensor_agent import SensorAgent
from ioc.broker import MosquittoBroker
from ioc.contract import ConfigAck, Heartbeat, SensorReading, Topics, decode
from simulators.sensors.modbus_device import ModbusDevice

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def gateway_config(tmp: Path, broker: MosquittoBroker, device: ModbusDevice, *,
                   queue: bool = False, transport: str = "tcp") -> Path:
    """The shipped Kim Long Modbus config, pointed at the simulator and the test broker."""
    text = (ROOT / "firmware_configs" / "hue" / "kimlong-modbus-01.yaml").read_text()
    for old, new in [
        ("  host: mqtt.ioc.hue.lan ", f"  host: {broker.host} "),
        ("  port: 8883", f"  port: {broker.port}"),
        ("  username: kimlong-modbus-01 ", "  username: null "),
        ("  password_env: IOC_MQTT_PASSWORD", "  password_env: null"),
        ("  tls:\n    ca_file: /etc/ioc-edge/ca.crt\n", ""),
        ("  transport: tcp ", f"  transport: {transport} "),
        ("  host: 192.168.10.20 ", f"  host: {device.host} "),
        ("  port: 502\n", f"  port: {device.port}\n"),  # (not a broker port 502xx)
        ("  timeout_s: 1.0", "  timeout_s: 0.3"),
        ("  backoff_initial_s: 2", "  backoff_initial_s: 0.2"),
        ("  backoff_max_s: 120", "  backoff_max_s: 0.5"),
        ("      report_every_s: 600 ", "      report_every_s: 1 "),
        ("poll_interval_s: 60", "poll_interval_s: 0.5"),
        ("alarm_poll_interval_s: 10 ", "alarm_poll_interval_s: 0.1 "),
        ("heartbeat_s: 30", "heartbeat_s: 1"),
        ("  path: queue.sqlite ", f"  path: {tmp / 'queue.sqlite'} "),
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    if not queue:
        text = text[:text.index("queue:\n")]
    path = tmp / "kimlong-modbus-01.yaml"
    path.write_text(text)
    return path


class Watcher:
    """Collects the gateway's readings and heartbeats (persistent session: misses nothing
    across a broker restart)."""

    def __init__(self, broker: MosquittoBroker, device: str = "kimlong-modbus-01") -> None:
        self.events: list[SensorReading | Heartbeat] = []
        self.bad: list[object] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        topics = [Topics.device("hue", device, k) for k in ("reading", "heartbeat")]
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"watch-{device}",
                                  clean_session=False)
        self.client.on_connect = lambda c, *_a: [c.subscribe(t, qos=1) for t in topics]
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.subscribed.wait(5)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        event = decode(msg.topic, msg.payload)
        with self.lock:
            if isinstance(event, SensorReading | Heartbeat):
                self.events.append(event)
            else:
                self.bad.append(event)

    def readings(self) -> list[SensorReading]:
        with self.lock:
            return [e for e in self.events if isinstance(e, SensorReading)]

    def beats(self) -> list[Heartbeat]:
        with self.lock:
            return [e for e in self.events if isinstance(e, Heartbeat)]

    def until(self, what: str, predicate: Callable[[], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; got {self.events[-5:]}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def device() -> Iterator[ModbusDevice]:
    dev = ModbusDevice()
    dev.start()
    yield dev
    dev.stop()


def test_agent_reads_modbus_publishes_contract_readings_and_survives_a_dead_line(
    mosquitto: MosquittoBroker, device: ModbusDevice, tmp_path: Path
) -> None:
    watcher = Watcher(mosquitto)
    device.set_water_level(0.87)
    cfg = load_sensor_config(gateway_config(tmp_path, mosquitto, device))
    agent = SensorAgent.from_config(cfg, agent_version="test")
    agent.start()
    runner = threading.Thread(target=agent.run)
    runner.start()
    try:
        watcher.until("a first reading", lambda: any(r.value == 0.87 for r in watcher.readings()))
        first = watcher.readings()[0]
        assert (first.site, first.device, first.station, first.quantity, first.unit) == (
            "hue", "kimlong-modbus-01", "kimlong", "water_level", "m")
        assert agent.current_poll_interval_s == 0.5
        device.set_water_level(2.04)   # level II: poll faster
        device.add_rain(1.0)           # 5 tips: one amount of 1.0 mm in the next period
        watcher.until("rain", lambda: any(r.quantity == "rain" for r in watcher.readings()))
        watcher.until("level II", lambda: agent.alarm_level == {("water_level", "kimlong"): 2})
        assert agent.current_poll_interval_s == 0.1
        rain = [r for r in watcher.readings() if r.quantity == "rain"]
        assert sum(r.value for r in rain) == pytest.approx(1.0)
        assert all(r.period_s >= 1 and r.station == "kimlong" and r.unit == "mm" for r in rain)
        watcher.until("a healthy heartbeat", lambda: any(
            b.source_state == "streaming" and b.config_version == "1" for b in watcher.beats()))

        device.stop()                  # the converter in the cabinet loses power
        watcher.until("the dead line in a heartbeat",
                      lambda: any(b.source_state == "reconnecting" for b in watcher.beats()))
        assert agent.stats.driver_errors >= 1
        device.set_water_level(3.51)
        device.start()
        watcher.until("recovery", lambda: any(r.value == 3.51 for r in watcher.readings()))
        watcher.until("reconnects counted", lambda: any(
            b.source_state == "streaming" and b.source_reconnects >= 1 for b in watcher.beats()))
    finally:
        agent.request_stop()
        runner.join(10)
        agent.stop()
        watcher.close()
    readings = watcher.readings()
    assert len({r.id for r in readings}) == len(readings)
    assert watcher.bad == []
    levels = [r.value for r in readings if r.quantity == "water_level"]
    assert levels[0] == 0.87
    assert levels[-1] == 3.51
    assert set(levels) <= {0.87, 2.04, 3.51}
    assert agent.alarm_level == {("water_level", "kimlong"): 3}


def test_readings_outside_the_sensors_range_are_refused(
    mosquitto: MosquittoBroker, device: ModbusDevice, tmp_path: Path
) -> None:
    watcher = Watcher(mosquitto)
    device.set_water_level(-5.0)       # below the sensor's blind zone (checks.min -1.0)
    cfg = load_sensor_config(gateway_config(tmp_path, mosquitto, device,
                                            transport="rtu_over_tcp"))
    dev_rtu = ModbusDevice(framer="rtu")
    dev_rtu.start()
    dev_rtu.set_water_level(-5.0)
    cfg = cfg.model_copy(update={"driver": cfg.driver.model_copy(update={"port": dev_rtu.port})})
    agent = SensorAgent.from_config(cfg)
    agent.start()
    try:
        assert agent.poll_once() == 0
        assert agent.stats.rejected == 1
        dev_rtu.set_water_level(1.5)
        assert agent.poll_once() == 1
        watcher.until("the good reading", lambda: len(watcher.readings()) == 1)
    finally:
        agent.stop()
        dev_rtu.stop()
        watcher.close()
    assert [r.value for r in watcher.readings()] == [1.5]


def test_a_pushed_config_is_applied_or_refused_with_every_problem(
    mosquitto: MosquittoBroker, device: ModbusDevice, tmp_path: Path
) -> None:
    path = gateway_config(tmp_path, mosquitto, device)
    base = path.read_text()
    cfg = load_sensor_config(path)
    agent = SensorAgent.from_config(cfg)
    acks: list[object] = []
    watch = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="acks")
    watch.on_message = lambda _c, _u, m: acks.append(decode(m.topic, m.payload))
    watch.connect(mosquitto.host, mosquitto.port)
    watch.subscribe(Topics.device("hue", "kimlong-modbus-01", "config_ack"), qos=1)
    watch.subscribe(Topics.device("hue", "kimlong-modbus-01", "heartbeat"), qos=1)
    watch.loop_start()
    agent.start()
    runner = threading.Thread(target=agent.run)
    runner.start()
    topic = Topics.config("hue", "kimlong-modbus-01")
    newer = base.replace("version: 1", "version: 2").replace("poll_interval_s: 0.5",
                                                             "poll_interval_s: 0.2")
    bad = newer.replace("version: 2", "version: 3").replace("[1.0, 2.0, 3.5]", "[1.0, 3.5, 2.0]")
    moved = newer.replace("version: 2", "version: 3").replace(f"port: {device.port}",
                                                              f"port: {device.port + 1}")
    pushes = [newer, newer, bad, moved, "version: [unclosed"]
    try:
        for text in pushes:
            watch.publish(topic, text.encode(), qos=1).wait_for_publish(5)
            n = len([a for a in acks if isinstance(a, ConfigAck)])
            deadline = time.monotonic() + 10
            while len([a for a in acks if isinstance(a, ConfigAck)]) == n:
                assert time.monotonic() < deadline, "no answer to a pushed config"
                time.sleep(0.05)
        deadline = time.monotonic() + 10
        while not any(isinstance(a, Heartbeat) and a.config_version == "2" for a in acks):
            assert time.monotonic() < deadline, "the heartbeat never named version 2"
            time.sleep(0.05)
    finally:
        agent.request_stop()
        runner.join(10)
        agent.stop()
        watch.loop_stop()
        watch.disconnect()
    answers = [a for a in acks if isinstance(a, ConfigAck)]
    assert [(a.result, a.config_version, a.running_version) for a in answers] == [
        ("applied", "2", "2"), ("refused", "2", "2"), ("refused", "3", "2"),
        ("refused", "3", "2"), ("refused", None, "2")]
    assert answers[1].problems == [f"mqtt:{topic}: version: 2: not newer than the running "
                                   "version 2"]
    line = bad.splitlines().index("    alarm_levels: [1.0, 3.5, 2.0]") + 1
    assert answers[2].problems == [
        f"mqtt:{topic}:{line}: checks.water_level.alarm_levels: [1.0, 3.5, 2.0]: alarm levels "
        "must increase: level 3 (2) is not above level 2 (3.5)"]
    assert answers[3].problems == [f"mqtt:{topic}: driver: cannot change without a restart "
                                   "(edit the config file on the gateway)"]
    assert "not valid YAML" in answers[4].problems[0]
    assert len({a.id for a in answers}) == len(answers)  # same payload, other answer: new id
    assert agent.poll_interval_s == 0.2
    assert agent.config is not None
    assert agent.config.version == 2
