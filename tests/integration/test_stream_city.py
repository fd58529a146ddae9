"""The city flow against a real Mosquitto: a watchlist entry added while the stream runs
turns a plate read into a police alert within seconds; 100,000 hostile payloads mixed
into good traffic are all dead-lettered with a reason and every good event is processed."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from cloud.stores.watchlist import SqliteWatchlistStore
from ioc.broker import MosquittoBroker
from ioc.contract import (
    Alert,
    PlateRead,
    SensorReading,
    Topics,
    VehicleClass,
    decode_any,
    encode,
    reading_id,
)
from stream.config import StreamConfig, load_config
from stream.runner import StreamRunner, embedded_io

pytestmark = pytest.mark.integration


def _config(broker: MosquittoBroker, tmp: Path) -> StreamConfig:
    cfg = load_config()
    return cfg.model_copy(update={
        "mqtt": cfg.mqtt.model_copy(update={"port": broker.port}),
        "store": cfg.store.model_copy(update={"timeseries_path": tmp / "ts.sqlite",
                                              "events_path": tmp / "events.sqlite"}),
    })


class Client:
    def __init__(self, port: int, name: str, subscribe: str | None = None) -> None:
        self.got: list[object] = []
        self.lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name)
        self.c.on_message = self._on
        self.c.connect("127.0.0.1", port)
        if subscribe:
            self.c.subscribe(subscribe, qos=1)
        self.c.loop_start()

    def _on(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.got.append((time.monotonic(), decode_any(msg.topic, msg.payload)))

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_watchlist_entry_added_at_run_time_raises_a_police_alert(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    config = _config(mosquitto, tmp_path)
    io = embedded_io(config)
    runner = StreamRunner(config, io)
    runner.start()
    police = Client(mosquitto.port, "police", Topics.alerts(config.site))
    pub = Client(mosquitto.port, "cam")
    time.sleep(0.3)
    store = SqliteWatchlistStore(tmp_path / "events.sqlite")
    try:
        now = datetime.now(UTC)

        def plate_read(i: int, plate: str) -> PlateRead:
            return PlateRead(id=f"cam-01:plate:{i}", site="hue", device="cam-01",
                             ts=now + timedelta(seconds=i), camera="cam-01", track_id=i,
                             plate=plate, layout="one_line", vehicle_class=VehicleClass.CAR,
                             confidence=0.9, valid=True)

        first = plate_read(1, "75A12345")
        pub.c.publish(Topics.for_event(first), encode(first), qos=1).wait_for_publish(5)
        time.sleep(0.5)
        entry = store.add("75A-123.45", reason="stolen car", owner="officer-7")
        time.sleep(1.5)  # the matcher polls the store's version about once a second
        second = plate_read(2, "75A1234S")  # one OCR confusion off (S for 5)
        sent = time.monotonic()
        pub.c.publish(Topics.for_event(second), encode(second), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        hits: list[tuple[float, Alert]] = []
        while time.monotonic() < deadline and not hits:
            with police.lock:
                hits = [(t, a) for t, a in police.got
                        if isinstance(a, Alert) and a.subcategory == "watchlist"]
            time.sleep(0.05)
        assert len(hits) == 1, "exactly one hit: the read before the entry existed is no hit"
        at, alert = hits[0]
        assert at - sent < 3.0
        assert alert.reading_id == second.id
        assert alert.plate == entry.plate == "75A12345"
        assert alert.match_distance == 1
        assert alert.audience == "police"
    finally:
        runner.stop()
        police.close()
        pub.close()
        store.close()
    stored = [a for a in io.events.alerts() if a.subcategory == "watchlist"]
    assert [a.reading_id for a in stored] == ["cam-01:plate:2"]
    assert io.events.counts()["plate"] == 2


def _hostile(rng: random.Random, i: int) -> tuple[str, bytes, str]:
    """A hostile (topic, payload, what) for message i."""
    good = {"kind": "reading", "v": 1, "id": f"h{i}", "site": "hue", "device": "kimlong-01",
            "ts": "2025-11-03T05:00:00Z", "quantity": "water_level", "value": 1.0, "unit": "m"}
    topic = "ioc/v1/hue/kimlong-01/reading"
    k = i % 10
    if k == 0:
        return topic, rng.randbytes(rng.randrange(1, 300)), "random bytes"
    if k == 1:
        return topic, json.dumps({**good, "value": "high"}).encode(), "wrong type"
    if k == 2 and i % 100 == 2:  # a few, they are large
        return topic, b'{"kind":"reading","pad":"' + b"x" * 70_000 + b'"}', "huge"
    if k in (2, 3):
        return topic, b"[" * 2000 + b"]" * 2000, "deeply nested"
    if k == 4:  # a device may publish any kind on its topics; the stream only knows some
        return topic, json.dumps({**good, "kind": "teleport"}).encode(), "unknown kind"
    if k == 5:
        return topic, json.dumps({**good, "v": 99}).encode(), "schema version"
    if k == 6:
        return topic, json.dumps({**good, "ts": "1970-01-02T00:00:00Z"}).encode(), "far past"
    if k == 7:
        return topic, json.dumps({**good, "ts": "2999-01-01T00:00:00Z"}).encode(), "far future"
    if k == 8:
        return topic, json.dumps({**good, "value": 1e9}).encode(), "impossible value"
    return "ioc/v1/hue/phuoc-01/reading", json.dumps(good).encode(), "topic mismatch"


def test_hostile_payloads_are_dead_lettered_and_good_traffic_is_processed(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    config = _config(mosquitto, tmp_path)
    io = embedded_io(config)
    runner = StreamRunner(config, io)
    runner.start()
    rng = random.Random(5)
    n_bad, n_good = 100_000, 2_000
    t0 = datetime(2025, 11, 3, tzinfo=UTC)
    good = [SensorReading(id=reading_id("aqi-01", "pm25", t0 + timedelta(minutes=i)), site="hue",
                          device="aqi-01", ts=t0 + timedelta(minutes=i), station="hue-air",
                          quantity="pm25", value=20.0 + i % 30, unit="ug/m3")
            for i in range(n_good)]
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="hostile")
    pub.max_inflight_messages_set(0)
    pub.connect("127.0.0.1", mosquitto.port)
    pub.loop_start()
    try:
        every = n_bad // n_good
        infos = []
        distinct: set[tuple[str, bytes]] = set()
        for i in range(n_bad):
            topic, payload, _ = _hostile(rng, i)
            distinct.add((topic, payload))
            infos.append(pub.publish(topic, payload, qos=1))
            if i % every == 0:
                r = good[i // every]
                infos.append(pub.publish(Topics.for_event(r), encode(r), qos=1))
            if len(infos) > 2000:
                for info in infos:
                    info.wait_for_publish(30)
                infos.clear()
        for info in infos:
            info.wait_for_publish(30)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and (
            io.counters.total("deadletter.") < n_bad
            or io.timeseries.count(["pm25"]) < n_good
        ):
            time.sleep(0.5)
    finally:
        pub.disconnect()
        pub.loop_stop()
        runner.stop()
    counters = io.counters.snapshot()
    assert io.timeseries.count(["pm25"]) == n_good, counters
    assert io.counters.total("deadletter.decode.") == n_bad, counters
    assert counters["in.reading"] == n_good
    # A dead letter's identity is its topic and payload: the same bad message twice (a
    # re-delivery, or the identical nested payload sent 20,000 times) is stored once.
    stored = io.events.counts().get("deadletter", 0)
    assert stored == len(distinct)
    assert stored > 70_000
    # each class of hostile input was refused for its own reason
    for code in ("json", "schema", "size", "time", "mismatch"):
        assert counters.get(f"deadletter.decode.{code}", 0) > 0, (code, counters)
