"""Crash recovery: the stream killed with SIGKILL at random moments and restarted loses no
reading and duplicates no alert or aggregate.

The stream runs as a real process (``ioc stream run``) with Bytewax recovery and the MQTT
input log, against a real Mosquitto. The flood scenario's 1,440 readings are published at
QoS 1 while the stream is killed three times and restarted. Its stores must then equal
those of an uninterrupted run over the same readings: every reading, the same aggregates
with the same values, and the scenario's 12 alert changes, each once.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml

from cloud.stores.events import SqliteEventStore
from ioc.broker import MosquittoBroker
from ioc.contract import SensorReading, Topics, encode
from simulators.sensors.scenario import load_scenario

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_CHANGES = 29  # the flood's 12 and the rain rules' 17


def _readings() -> list[SensorReading]:
    return load_scenario("flood-2025-11-03").readings("hue")


def _write_config(tmp: Path, port: int, name: str, recovery: bool) -> Path:
    shipped = yaml.safe_load((ROOT / "stream" / "defaults.yaml").read_text())
    shipped["mqtt"]["port"] = port
    shipped["mqtt"]["client_id"] = f"ioc-{name}"
    shipped["mqtt"]["share_group"] = f"g-{name}"
    shipped["store"] = {"timeseries_path": str(tmp / f"{name}-ts.sqlite"),
                        "events_path": str(tmp / f"{name}-events.sqlite")}
    if recovery:
        shipped["recovery"] = {"dir": str(tmp / f"{name}-recovery"), "epoch_interval_s": 0.2}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(shipped, allow_unicode=True))
    return path


class StreamProcess:
    """``ioc stream run`` as a child process; ``start()`` returns once it has subscribed."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ioc.cli", "stream", "run", "--config", str(self.config)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        start_size = self.log.stat().st_size
        while time.monotonic() < deadline:
            text = self.log.read_bytes()[start_size:]
            if b"stream running" in text:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"stream did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(60)
        assert rc == 0, self.log.read_text()[-3000:]


class Publisher:
    """Publishes readings at QoS 1 at a steady pace and waits until the broker has them all."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="recovery-pub")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, readings: list[SensorReading], per_s: float) -> None:
        infos = []
        t0 = time.monotonic()
        for i, r in enumerate(readings):
            infos.append(self.client.publish(Topics.for_event(r), encode(r), qos=1))
            lag = t0 + i / per_s - time.monotonic()
            if lag > 0:
                time.sleep(lag)
        for info in infos:
            info.wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait_stored(path: Path, n: int, timeout_s: float = 90) -> int:
    deadline = time.monotonic() + timeout_s
    count = 0
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(path) as db:
                count = db.execute(
                    "SELECT count(*) FROM points WHERE measurement IN ('water_level', 'rain')"
                ).fetchone()[0]
        except sqlite3.OperationalError:
            count = 0
        if count >= n:
            return count
        time.sleep(0.2)
    return count


def _aggregates(path: Path) -> list[tuple[str, str, int, str]]:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT measurement, series, ts_ns, fields FROM points"
            " WHERE measurement NOT IN ('water_level', 'rain') ORDER BY 1, 2, 3"
        ).fetchall()


def _run(broker: MosquittoBroker, tmp: Path, name: str, kills: int, seed: int) -> Path:
    readings = _readings()
    config = _write_config(tmp, broker.port, name, recovery=True)
    stream = StreamProcess(config, tmp / f"{name}.log")
    stream.start()
    rng = random.Random(seed)
    pub = Publisher(broker.port)
    per_s = 400.0
    duration = len(readings) / per_s
    kill_at = sorted(rng.uniform(0.1, duration) for _ in range(kills))
    killer_done = threading.Event()

    def killer() -> None:
        t0 = time.monotonic()
        for at in kill_at:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            stream.kill()
            time.sleep(rng.uniform(0.0, 0.5))  # the broker queues for the persistent session
            stream.start()
        killer_done.set()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    pub.publish(readings, per_s)
    pub.close()
    assert killer_done.wait(120), "restarts did not finish"
    stored = _wait_stored(tmp / f"{name}-ts.sqlite", len(readings))
    stream.stop()
    assert stored == len(readings), f"{name}: {stored} of {len(readings)} readings stored"
    return tmp


def test_sigkill_at_random_moments_loses_nothing_and_duplicates_nothing(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    _run(mosquitto, tmp_path, "clean", kills=0, seed=1)
    _run(mosquitto, tmp_path, "killed", kills=3, seed=7)
    log = (tmp_path / "killed.log").read_text()
    assert log.count("stream running") == 4, "the stream was not restarted three times"

    clean = SqliteEventStore(tmp_path / "clean-events.sqlite")
    killed = SqliteEventStore(tmp_path / "killed-events.sqlite")
    clean_alerts = [(a.id, a.alert_id, a.status, a.level, a.ts) for a in clean.alerts()]
    killed_alerts = [(a.id, a.alert_id, a.status, a.level, a.ts) for a in killed.alerts()]
    assert len(clean_alerts) == EXPECTED_CHANGES
    # every alert change once (the store keeps one row per id; no two rows describe the
    # same change under different ids), in the same order of event time
    assert sorted(killed_alerts, key=lambda a: (a[4], a[0])) == sorted(
        clean_alerts, key=lambda a: (a[4], a[0]))
    assert killed.counts().get("deadletter", 0) == 0

    clean_aggs = _aggregates(tmp_path / "clean-ts.sqlite")
    killed_aggs = _aggregates(tmp_path / "killed-ts.sqlite")
    assert len(clean_aggs) > 1000
    diffs = [(a, b) for a, b in zip(killed_aggs, clean_aggs, strict=False) if a != b]
    assert killed_aggs == clean_aggs, f"{len(diffs)} aggregates differ, e.g. {diffs[:20]}"
