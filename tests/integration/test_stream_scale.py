"""Scale-out gives the same results as one worker: the flood scenario through one worker,
through two worker threads, and through a cluster of two processes (``-a`` addresses,
MQTT input split by a shared subscription) leaves identical stores.

MQTT shared subscriptions hand each message to any member, so two readings of one
station that are in flight at the same moment may reach the keyed step out of order.
The readings are published here as gauges send them (each station's readings apart
in time), which is the condition under which the results are defined to be equal.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml

from cloud.stores.events import SqliteEventStore
from ioc.broker import MosquittoBroker
from ioc.contract import Topics, encode
from simulators.sensors.scenario import load_scenario

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _config(tmp: Path, port: int, name: str, partitions: int) -> Path:
    cfg = yaml.safe_load((ROOT / "stream" / "defaults.yaml").read_text())
    cfg["mqtt"].update(port=port, client_id=f"ioc-{name}", share_group=f"g-{name}")
    cfg["partitions"] = partitions
    cfg["store"] = {"timeseries_path": str(tmp / f"{name}-ts.sqlite"),
                    "events_path": str(tmp / f"{name}-events.sqlite")}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def _start(config: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ioc.cli", "-v", "stream", "run", "--config", str(config),
             *extra],
            cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=out,
            stderr=subprocess.STDOUT)


def _wait_for(log: Path, text: str, count: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count(text) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{log.name}: {text!r} not seen {count}x:\n{log.read_text()[-3000:]}")


def _publish(port: int) -> int:
    readings = load_scenario("flood-2025-11-03").readings("hue")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="scale-pub")
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = []
    for i, r in enumerate(readings):
        infos.append(client.publish(Topics.for_event(r), encode(r), qos=1))
        if i % 4 == 3:
            time.sleep(0.03)  # a station's next reading comes a moment later
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
    return len(readings)


def _stored(tmp: Path, name: str) -> int:
    try:
        with sqlite3.connect(tmp / f"{name}-ts.sqlite") as db:
            return db.execute("SELECT count(*) FROM points WHERE measurement IN"
                              " ('water_level', 'rain')").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _run(broker: MosquittoBroker, tmp: Path, name: str, *, workers: int, processes: int
         ) -> None:
    partitions = max(workers, processes)
    config = _config(tmp, broker.port, name, partitions)
    log = tmp / f"{name}.log"
    procs = []
    if processes == 1:
        procs.append(_start(config, log, "-w", str(workers)))
    else:
        addresses = ";".join(f"127.0.0.1:{p}" for p in _free_ports(processes))
        procs = [_start(config, log, "-i", str(i), "-a", addresses)
                 for i in range(processes)]
    _wait_for(log, "stream running", processes)
    _wait_for(log, "subscribing", partitions)
    n = _publish(broker.port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _stored(tmp, name) < n:
        time.sleep(0.2)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        assert p.wait(60) == 0, log.read_text()[-3000:]
    assert _stored(tmp, name) == n
    if partitions > 1:  # both partitions really took part
        text = log.read_text()
        assert "mqtt source p0: connected" in text
        assert "mqtt source p1: connected" in text


def _results(tmp: Path, name: str) -> tuple[list[tuple], list[tuple]]:
    with sqlite3.connect(tmp / f"{name}-ts.sqlite") as db:
        points = db.execute("SELECT measurement, series, ts_ns, fields FROM points"
                            " ORDER BY 1, 2, 3").fetchall()
    alerts = sorted((a.id, a.alert_id, a.status, a.level, a.ts.isoformat(), a.value)
                    for a in SqliteEventStore(tmp / f"{name}-events.sqlite").alerts())
    return points, alerts


def test_two_workers_and_two_processes_give_the_same_results_as_one(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    _run(mosquitto, tmp_path, "one", workers=1, processes=1)
    _run(mosquitto, tmp_path, "threads", workers=2, processes=1)
    _run(mosquitto, tmp_path, "cluster", workers=1, processes=2)
    one_points, one_alerts = _results(tmp_path, "one")
    assert len(one_alerts) == 29
    assert len(one_points) > 2500
    for name in ("threads", "cluster"):
        points, alerts = _results(tmp_path, name)
        assert alerts == one_alerts, name
        assert points == one_points, name
