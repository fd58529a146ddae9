"""The ``ioc`` command as a user runs it: real processes, real broker, real stores."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from cloud.stores.timeseries import SqliteTimeSeriesStore
from ioc.broker import MosquittoBroker
from ioc.contract import SensorReading, Topics, encode, reading_id

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
IOC = [sys.executable, "-m", "ioc.cli"]


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IOC, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, check=False)


def test_help_lists_the_subcommands() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for name in ("demo", "stream", "edge", "broker"):
        assert re.search(rf"^\s+{name}\s", result.stdout, re.M), name


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_prints_the_flood_alerts_in_order_and_a_clean_summary(broker: str) -> None:
    result = _run("demo", "--duration", "25", "--broker", broker)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert f"broker: {broker}" in out
    alerts = re.findall(r"ALERT (\S+ \S+) (\w+)\s+\w+\s+(Kim Long|Phú Ốc).*?(level (I+)|fell)",
                        out)
    got = [(a[2], a[1], a[4] or "clear") for a in alerts]
    assert got[:6] == [("Kim Long", "raised", "I"), ("Phú Ốc", "raised", "I"),
                       ("Kim Long", "escalated", "II"), ("Phú Ốc", "escalated", "II"),
                       ("Kim Long", "escalated", "III"), ("Phú Ốc", "escalated", "III")]
    assert len(got) == 12
    # 4 flood gauges x 360 samples, 2 air stations x 360 x (4 and 3 pollutants)
    assert re.search(r"readings published\s+3960", out)
    assert re.search(r"readings in \(stored\)\s+3960", out)
    # flood 2 alerts (12 changes), rain 5 (17), Phu Bai's smoke episode 1 (4)
    assert re.search(r"alerts raised\s+8 \(33 state changes", out)
    assert re.search(r"alerts on MQTT\s+33", out)
    assert re.search(r"alerts in the API\s+8 ", out)
    aqi = re.findall(
        r"ALERT \S+ \S+ (\w+)\s+\w+\s+Phú Bài air station: VN_AQI (\d+) reached (\w+)", out)
    assert [(status, band) for status, _, band in aqi] == [("raised", "poor"), ("escalated", "bad")]
    # one live camera by default: how many violations it finds depends on the frames the
    # machine could process, but every one it found is stored and listed by the API
    assert re.search(r"IOC page: http://127\.0\.0\.1:\d+/ioc ", out)
    assert re.search(r"camera frames\s+[1-9]\d* \(cam-hungvuong-01\)", out)
    found = re.search(r"violations\s+(\d+) found, (\d+) stored, (\d+) in the API", out)
    assert found, out
    assert found.group(1) == found.group(2) == found.group(3)
    assert re.search(r"evidence images\s+\d+ carried to the cloud\n", out)
    assert "WARNING" not in out
    assert "Traceback" not in result.stderr


def test_stream_service_stores_readings_and_stops_on_sigterm(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    cfg = tmp_path / "stream.yaml"
    text = (ROOT / "stream" / "defaults.yaml").read_text()
    text = text.replace("var/timeseries.sqlite", str(tmp_path / "ts.sqlite"))
    text = text.replace("var/events.sqlite", str(tmp_path / "ev.sqlite"))
    cfg.write_text(text)
    proc = subprocess.Popen([*IOC, "-v", "stream", "run", "--config", str(cfg),
                             "--mqtt-port", str(mosquitto.port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="t")
        client.connect(mosquitto.host, mosquitto.port)
        client.loop_start()
        store = SqliteTimeSeriesStore(tmp_path / "ts.sqlite")
        from datetime import UTC, datetime
        ts = datetime(2025, 11, 3, 1, tzinfo=UTC)
        event = SensorReading(id=reading_id("kimlong-01", "water_level", ts), site="hue",
                              device="kimlong-01", ts=ts, station="kimlong",
                              quantity="water_level", value=2.5, unit="m")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the service has subscribed
            client.publish(Topics.for_event(event), encode(event), qos=1).wait_for_publish(5)
            if (tmp_path / "ts.sqlite").exists() and store.count(["water_level"]) == 1:
                break
            time.sleep(0.3)
        assert store.count(["water_level"]) == 1  # the same reading many times: stored once
        client.loop_stop()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "draining and stopping" in out


def test_edge_validate_names_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "firmware_configs/hue/kimlong-01.yaml").read_text()
                   .replace("poll_interval_s: 1.0", "poll_intervall_s: 1.0")
                   .replace("port: 1883", "port: -1"))
    result = _run("edge", "validate", str(ROOT / "firmware_configs/hue/phuoc-01.yaml"), str(bad))
    assert result.returncode == 1
    assert "phuoc-01.yaml: ok" in result.stdout
    assert re.search(rf"{re.escape(str(bad))}:\d+: broker.port: -1: ", result.stdout)
    assert re.search(rf"{re.escape(str(bad))}:\d+: poll_intervall_s: .*unknown key", result.stdout)
