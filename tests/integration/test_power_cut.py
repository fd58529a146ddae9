"""A power cut: the sensor gateway (``ioc edge run``, reading a simulated Modbus gauge) is
SIGKILLed while the broker is down and events wait in its on-disk queue; then the broker
and the gateway come back. Every queued event arrives exactly once, oldest first, and the
gateway goes on publishing after them. (The restarted broker may resend to the watcher,
flagged DUP, the message it had in flight to it when it stopped: that is the broker's
redelivery of a persisted session, told apart by the flag, not a second send.)

``tests/edge/test_publisher_disk_queue.py`` covers the publisher alone (broker outage,
clean restart); this is the whole agent process killed without warning.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from ioc.broker import MosquittoBroker
from ioc.contract import Heartbeat, SensorReading, Topics, decode
from simulators.sensors.modbus_device import ModbusDevice

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DEVICE = "kimlong-modbus-01"

CONFIG = """\
kind: sensor_gateway
version: 4
site: hue
device: {device}
broker: {{host: {bhost}, port: {bport}, keepalive_s: 5}}
driver:
  type: modbus
  host: {mhost}
  port: {mport}
  timeout_s: 0.3
  backoff_initial_s: 0.2
  backoff_max_s: 0.5
  registers:
    - {{quantity: water_level, station: kimlong, address: 0, data_type: int16, scale: 0.01}}
poll_interval_s: 0.05
heartbeat_s: 1
queue:
  path: {queue}
  synchronous: FULL
"""


class Watcher:
    """Every reading and heartbeat of the device, with a persistent session."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.events: list[SensorReading | Heartbeat] = []
        self.redelivered: list[str] = []
        self.lock = threading.Lock()
        subscribed = threading.Event()
        topics = [Topics.device("hue", DEVICE, k) for k in ("reading", "heartbeat")]
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="power-watch",
                                  clean_session=False)
        self.client.on_connect = lambda c, *_a: [c.subscribe(t, qos=1) for t in topics]
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert subscribed.wait(5)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        event = decode(msg.topic, msg.payload)
        assert isinstance(event, SensorReading | Heartbeat), event
        with self.lock:
            if msg.dup and event.id in {e.id for e in self.events}:
                # the restarted broker resending what it had in flight to this subscriber
                # (its persisted session), flagged DUP: not a second send by the gateway
                self.redelivered.append(event.id)
                return
            self.events.append(event)

    def ids(self) -> list[str]:
        with self.lock:
            return [e.id for e in self.events]

    def until(self, what: str, predicate: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "ioc.cli", "-v", "edge", "run",
                                 str(config)], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def _queued(path: Path) -> list[str]:
    """Event ids waiting in the queue file, oldest first (read after the kill)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT topic, payload FROM outbox ORDER BY seq").fetchall()
    out = []
    for topic, payload in rows:
        event = decode(topic, bytes(payload))
        assert isinstance(event, SensorReading | Heartbeat), event
        out.append(event.id)
    return out


def _count(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_sigkill_with_events_queued_loses_nothing_and_sends_nothing_twice(
    persistent_broker: MosquittoBroker, tmp_path: Path
) -> None:
    gauge = ModbusDevice()
    gauge.start()
    rising = threading.Event()

    def rise() -> None:  # the river keeps rising through it all
        level = 1.0
        while not rising.is_set():
            gauge.set_water_level(round(level, 2))
            level += 0.01
            time.sleep(0.05)

    riser = threading.Thread(target=rise, daemon=True)
    riser.start()
    queue = tmp_path / "queue.sqlite"
    config = tmp_path / "gw.yaml"
    config.write_text(CONFIG.format(device=DEVICE, bhost=persistent_broker.host,
                                    bport=persistent_broker.port, mhost=gauge.host,
                                    mport=gauge.port, queue=queue))
    log = tmp_path / "agent.log"
    watcher = Watcher(persistent_broker)
    agent = _agent(config, log)
    try:
        watcher.until("the gateway publishing", lambda: len(watcher.ids()) >= 10)
        persistent_broker.stop()                        # the uplink goes
        watcher.until("events waiting on disk", lambda: _count(queue) >= 40)
        agent.send_signal(signal.SIGKILL)               # the power goes
        agent.wait(10)
        before_cut = watcher.ids()
        queued = _queued(queue)
        assert len(queued) >= 40
        persistent_broker.start()                       # power back: broker, then gateway
        agent = _agent(config, log)
        watcher.until("the queue and new events", lambda: set(queued) <= set(watcher.ids())
                      and len(watcher.ids()) >= len(before_cut) + len(queued) + 10)
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(20) == 0, log.read_text()[-3000:]
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(5)
        rising.set()
        riser.join(5)
        gauge.stop()
        time.sleep(0.3)  # a duplicate would arrive right behind
        watcher.close()
    got = watcher.ids()
    assert len(got) == len(set(got)), "the gateway sent an event twice"
    assert set(watcher.redelivered) <= set(before_cut)
    assert not set(before_cut) & set(queued), "an acknowledged event was still queued"
    after = got[len(before_cut):]
    assert after[:len(queued)] == queued, "the queue was not sent first, oldest first"
    readings = [e for e in watcher.events if isinstance(e, SensorReading)]
    assert [r.ts for r in readings] == sorted(r.ts for r in readings)
    assert len(readings) >= 50
    assert "left from an earlier run" in log.read_text()
