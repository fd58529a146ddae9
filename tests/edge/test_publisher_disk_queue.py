"""The publisher with its on-disk queue against a real Mosquitto that is stopped mid-run.

While the broker is away events wait on disk; when it returns every event
arrives, none twice (by event id), in the order it was published. A publisher
restarted on the same queue file sends what the last run left.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge.disk_queue import DiskQueue, QueueError
from edge.publisher import BrokerAddress, MqttPublisher
from ioc.broker import MosquittoBroker
from ioc.contract import SensorReading, Topics, decode, reading_id

pytestmark = pytest.mark.integration
T0 = datetime(2025, 11, 3, tzinfo=UTC)


def _reading(i: int) -> SensorReading:
    ts = T0 + timedelta(seconds=i)
    return SensorReading(id=reading_id("kimlong-01", "water_level", ts), site="hue",
                         device="kimlong-01", ts=ts, quantity="water_level",
                         value=1.0 + i / 1000, unit="m")


class Watcher:
    """A subscriber with a persistent session, so it misses nothing across a broker restart."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.ids: list[str] = []
        self.redelivered: list[str] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher",
                                  clean_session=False)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_a: c.subscribe(
            Topics.device_filter("reading", "hue"), qos=1)
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        event = decode(msg.topic, msg.payload)
        assert isinstance(event, SensorReading)
        with self.lock:
            if msg.dup and event.id in self.ids:
                # the restarted broker resending, flagged DUP, what it had in flight to this
                # persistent subscriber when it stopped: not a second send by the publisher
                self.redelivered.append(event.id)
                return
            self.ids.append(event.id)

    def wait_for(self, n: int, timeout: float = 20) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.ids) >= n:
                    break
            time.sleep(0.02)
        time.sleep(0.2)  # a duplicate would arrive right behind
        with self.lock:
            return list(self.ids)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_broker_outage_loses_nothing_duplicates_nothing_keeps_order(
    persistent_broker: MosquittoBroker, tmp_path: Path
) -> None:
    watcher = Watcher(persistent_broker)
    assert watcher.subscribed.wait(5)
    queue = DiskQueue(tmp_path / "outbox.sqlite")
    pub = MqttPublisher(BrokerAddress(persistent_broker.host, persistent_broker.port), "hue",
                        "kimlong-01", queue=queue, max_inflight=20)
    pub.start()
    expected = [_reading(i) for i in range(300)]
    for e in expected[:100]:
        assert pub.publish(e)
        time.sleep(0.002)
    persistent_broker.stop()  # mid-run: some of the first 100 may still be in flight
    for e in expected[100:200]:
        assert pub.publish(e)
    assert not pub.connected
    assert pub.queue_depth >= 100  # waiting on disk
    assert pub.disk_used_bytes > 0
    persistent_broker.start()
    for e in expected[200:]:
        assert pub.publish(e)
        time.sleep(0.001)
    assert pub.flush(20)
    assert pub.queue_depth == 0
    got = watcher.wait_for(len(expected))
    pub.stop()
    watcher.close()
    want = [e.id for e in expected]
    assert len(got) == len(set(got)), "an event arrived twice"
    assert got == want


def test_a_restarted_publisher_sends_what_the_last_run_left_on_disk(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.sqlite"
    offline = MqttPublisher(BrokerAddress("127.0.0.1", 1), "hue", "kimlong-01",
                            queue=DiskQueue(path))
    offline.start(timeout_s=0.2)  # nothing listens on port 1: everything waits on disk
    for i in range(20):
        assert offline.publish(_reading(i))
    offline.stop(timeout_s=0.5)
    watcher = Watcher(mosquitto)
    assert watcher.subscribed.wait(5)
    pub = MqttPublisher(BrokerAddress(mosquitto.host, mosquitto.port), "hue", "kimlong-01",
                        queue=DiskQueue(path))
    pub.start()
    assert pub.flush(10)
    got = watcher.wait_for(20)
    pub.stop()
    watcher.close()
    assert got == [_reading(i).id for i in range(20)]


def test_full_disk_queue_counts_drops_in_the_publisher(tmp_path: Path) -> None:
    pub = MqttPublisher(BrokerAddress("127.0.0.1", 1), "hue", "kimlong-01",
                        queue=DiskQueue(tmp_path / "q.sqlite", max_messages=5,
                                        policy="drop_newest"))
    pub.start(timeout_s=0.1)
    results = [pub.publish(_reading(i)) for i in range(8)]
    assert results == [True] * 5 + [False] * 3
    assert (pub.dropped, pub.queue_depth) == (3, 5)
    pub.stop(timeout_s=0.2)


def test_sensor_gateway_config_takes_a_disk_queue(tmp_path: Path) -> None:
    from edge.config import load_sensor_config

    text = (Path(__file__).resolve().parents[2] / "firmware_configs" / "hue" /
            "kimlong-01.yaml").read_text()
    text += ("queue:\n  path: var/queue/kimlong-01.sqlite\n  max_messages: 500\n"
             "  full_policy: drop_newest\n")
    path = tmp_path / "kimlong.yaml"
    path.write_text(text)
    cfg = load_sensor_config(path)
    assert cfg.queue is not None
    q = cfg.queue.build(base=tmp_path)
    assert q.path == tmp_path / "var" / "queue" / "kimlong-01.sqlite"
    assert (q.max_messages, q.policy) == (500, "drop_newest")


def test_a_disk_that_fails_drops_and_counts_instead_of_crashing(tmp_path: Path) -> None:
    """A full disk raised out of publish() and ended the gateway."""
    queue = DiskQueue(tmp_path / "q.sqlite", max_messages=100)
    pub = MqttPublisher(BrokerAddress("127.0.0.1", 1), "hue", "kimlong-01", queue=queue)
    pub.start(timeout_s=0.1)
    real = queue.put

    def full(topic: str, payload: bytes) -> bool:
        raise QueueError(f"{queue.path}: cannot write the disk queue: database or disk is full")

    queue.put = full  # type: ignore[method-assign]
    assert [pub.publish(_reading(i)) for i in range(3)] == [False] * 3
    assert pub.dropped == 3
    queue.put = real  # type: ignore[method-assign]
    assert pub.publish(_reading(3))  # space again: the next event is kept
    assert pub.queue_depth == 1
    pub.stop(timeout_s=0.2)
