"""The InfluxDB v2 sink against a real server speaking its write API (Debian's
victoria-metrics, started by the fixture): every reading and aggregate arrives, and a
replay of the same readings adds nothing."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from ioc.broker import MosquittoBroker
from ioc.contract import Topics, encode
from simulators.sensors.scenario import load_scenario
from stream.config import InfluxConfig, StreamConfig, load_config
from stream.runner import StreamRunner, embedded_io

pytestmark = pytest.mark.integration


def _config(broker: MosquittoBroker, vm_url: str, tmp: Path) -> StreamConfig:
    cfg = load_config()
    return cfg.model_copy(update={
        "mqtt": cfg.mqtt.model_copy(update={"port": broker.port}),
        "store": cfg.store.model_copy(update={"timeseries_path": tmp / "ts.sqlite",
                                              "events_path": tmp / "events.sqlite"}),
        "influx": InfluxConfig(url=vm_url, token_env=None, batch_size=500),
    })


def _run_once(config: StreamConfig, port: int) -> int:
    readings = load_scenario("flood-2025-11-03").readings("hue")
    io = embedded_io(config)
    runner = StreamRunner(config, io)
    runner.start()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="influx-pub")
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(Topics.for_event(r), encode(r), qos=1) for r in readings]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()
    deadline = time.monotonic() + 60
    while (time.monotonic() < deadline
           and io.timeseries.count(["water_level", "rain"]) < len(readings)):
        time.sleep(0.1)
    runner.stop()  # the sink writes what it buffered before the flow ends
    return len(readings)


def _samples(vm: object, name: str) -> int:
    series = vm.export(f'{{__name__="{name}"}}')  # type: ignore[attr-defined]
    return sum(len(s["timestamps"]) for s in series)


def test_readings_and_aggregates_reach_influx_once(
    mosquitto: MosquittoBroker, victoria_metrics: object, tmp_path: Path
) -> None:
    config = _config(mosquitto, victoria_metrics.url, tmp_path)  # type: ignore[attr-defined]
    n = _run_once(config, mosquitto.port)
    levels = _samples(victoria_metrics, "water_level_value")
    rain = _samples(victoria_metrics, "rain_value")
    assert levels + rain == n == 1440
    assert levels == 2 * 360
    series = victoria_metrics.export('{__name__="water_level_value"}')  # type: ignore[attr-defined]
    assert {s["metric"]["station"] for s in series} == {"kimlong", "phuoc"}
    assert {s["metric"]["site"] for s in series} == {"hue"}
    peak = max(v for s in series if s["metric"]["station"] == "kimlong" for v in s["values"])
    assert peak == pytest.approx(3.54)

    io = embedded_io(config)
    stored_totals = io.timeseries.count(["rain_total"])
    assert stored_totals > 0
    assert _samples(victoria_metrics, "rain_total_value") == stored_totals
    assert _samples(victoria_metrics, "rate_of_rise_value") == io.timeseries.count(
        ["rate_of_rise"])

    # The same readings again (a replay after a crash would look like this): same points.
    _run_once(config, mosquitto.port)
    assert _samples(victoria_metrics, "water_level_value") + _samples(
        victoria_metrics, "rain_value") == 1440
    assert _samples(victoria_metrics, "rain_total_value") == stored_totals
