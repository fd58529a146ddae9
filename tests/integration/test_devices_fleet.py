"""``ioc devices`` against a real Mosquitto: the fleet table from retained status (a clean
stop and a last will), heartbeats and config acks; the watch mode; a provisioned monitor."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge.publisher import BrokerAddress, MqttPublisher
from ioc.broker import MosquittoBroker
from ioc.cli import main
from ioc.contract import ConfigAck, DeviceStatus, Heartbeat, Topics, encode, now_utc, stable_id
from ioc.provision.accounts import Provisioner

pytestmark = pytest.mark.integration


def _publish(broker: MosquittoBroker, *events: object, retain: bool = False) -> None:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fleet-feeder")
    c.connect(broker.host, broker.port)
    c.loop_start()
    for e in events:
        c.publish(Topics.for_event(e), encode(e), qos=1, retain=retain).wait_for_publish(5)  # type: ignore[arg-type]
    c.disconnect()
    c.loop_stop()


def _vanish(broker: MosquittoBroker) -> None:
    """A gateway that announces online, then loses power: the broker sends its last will."""
    pub = MqttPublisher(BrokerAddress(broker.host, broker.port), "hue", "rain-aluoi-01",
                        agent_version="0.1.0")
    pub.start()
    assert pub.connected
    client = pub._client
    assert client is not None
    client.loop_stop()  # no DISCONNECT is ever sent
    sock = client.socket()
    assert sock is not None
    sock.close()


def _wait_retained(broker: MosquittoBroker, device: str, state: str) -> None:
    got: list[bytes] = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{device}")
    c.on_message = lambda _c, _u, m: got.append(m.payload)
    c.connect(broker.host, broker.port)
    c.subscribe(Topics.device("hue", device, "status"), qos=1)
    c.loop_start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(f'"{state}"'.encode() in g for g in got):
        time.sleep(0.05)
    c.disconnect()
    c.loop_stop()
    assert any(f'"{state}"'.encode() in g for g in got), got


def _fleet(broker: MosquittoBroker) -> tuple[Heartbeat, Heartbeat, ConfigAck]:
    ts = now_utc()
    beat = Heartbeat(id=stable_id("kimlong-01", "hb", ts.isoformat()), site="hue",
                     device="kimlong-01", ts=ts, uptime_s=120.0, fps=None, queue_depth=12,
                     disk_used_bytes=3 * 1024 * 1024, config_version="2",
                     source_state="streaming", source_reconnects=1, dropped_events=4)
    cam = Heartbeat(id=stable_id("cam", "hb", ts.isoformat()), site="hue",
                    device="cam-hungvuong-01", ts=ts, uptime_s=30.0, fps=9.8, queue_depth=0,
                    config_version="5", source_state="reconnecting", source_reconnects=3)
    ack = ConfigAck(id="ack-1", site="hue", device="cam-hungvuong-01", ts=ts,
                    config_version="6", result="refused", running_version="5",
                    problems=["mqtt:x:4: lanes.0.polygon: too few points"])
    online = [DeviceStatus(id=f"st-{d}", site="hue", device=d, ts=ts, state="online",
                           agent_version="0.1.0", config_version=v)
              for d, v in (("kimlong-01", "2"), ("cam-hungvuong-01", "5"))]
    old = ts - timedelta(hours=3)
    silent = DeviceStatus(id="st-phuoc", site="hue", device="phuoc-01", ts=old, state="online")
    stopped = DeviceStatus(id="st-aqi", site="hue", device="aqi-hue-01", ts=ts, state="offline")
    _publish(broker, *online, silent, stopped, retain=True)
    _vanish(broker)
    _wait_retained(broker, "rain-aluoi-01", "offline")
    return beat, cam, ack


def test_fleet_table_from_retained_status_and_heartbeats(
    mosquitto: MosquittoBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    beat, cam, ack = _fleet(mosquitto)

    def later() -> None:  # heartbeats are not retained: they arrive while we listen
        time.sleep(0.5)
        _publish(mosquitto, beat, cam, ack)

    feeder = threading.Thread(target=later)
    feeder.start()
    code = main(["devices", "--host", mosquitto.host, "--port", str(mosquitto.port),
                 "--wait", "2", "--json"])
    feeder.join()
    assert code == 0
    rows = {r["device"]: r for r in json.loads(capsys.readouterr().out)}
    assert {d: r["state"] for d, r in rows.items()} == {
        "aqi-hue-01": "offline",          # said so when it stopped
        "cam-hungvuong-01": "online",
        "kimlong-01": "online",
        "phuoc-01": "stale",              # says online, silent for 3 h
        "rain-aluoi-01": "offline",       # its last will
    }
    k = rows["kimlong-01"]
    assert (k["queue_depth"], k["dropped_events"], k["disk_used_bytes"], k["config_version"],
            k["source_state"], k["source_reconnects"], k["agent_version"]) == (
        12, 4, 3 * 1024 * 1024, "2", "streaming", 1, "0.1.0")
    c = rows["cam-hungvuong-01"]
    assert (c["fps"], c["config_version"], c["config_ack"], c["problems"]) == (
        9.8, "5", "refused 6", ["mqtt:x:4: lanes.0.polygon: too few points"])
    assert rows["rain-aluoi-01"]["agent_version"] == "0.1.0"
    seen = datetime.fromisoformat(k["last_seen"])
    assert abs((seen - datetime.now(UTC)).total_seconds()) < 30


def test_table_watch_mode_and_a_provisioned_monitor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prov = Provisioner(tmp_path / "prov")
    prov.add_device("kimlong-01", site="hue", gateway="sensor")
    prov.add_device("phuoc-01", site="hue", gateway="sensor")  # registered, never spoke
    monitor = prov.add_service("monitor", sites=["hue"])
    broker = MosquittoBroker(tmp_path / "broker", password_file=prov.passwd_path,
                             acl_file=prov.acl_path)
    broker.start()
    try:
        creds = prov.folder / "credentials" / "kimlong-01.password"
        pub = MqttPublisher(BrokerAddress(broker.host, broker.port, "kimlong-01",
                                          creds.read_text().strip()), "hue", "kimlong-01",
                            agent_version="0.1.0")
        pub.start()
        assert pub.connected
        monkeypatch.setenv("IOC_MONITOR_PASSWORD", monitor.password)
        code = main(["devices", "--host", broker.host, "--port", str(broker.port),
                     "--username", "monitor", "--password-env", "IOC_MONITOR_PASSWORD",
                     "--registry", str(prov.folder), "--wait", "0.5", "--watch",
                     "--interval", "0.2", "--count", "2"])
        pub.stop()
        assert code == 0
        out = capsys.readouterr().out.splitlines()
        tables = [i for i, line in enumerate(out) if line.startswith("SITE")]
        assert len(tables) == 2  # two redraws
        table = out[tables[-1]:]
        assert table[0].split() == ["SITE", "DEVICE", "STATE", "LAST", "SEEN", "FPS", "QUEUE",
                                    "DROPPED", "CONFIG", "DISK", "SOURCE", "RECONNECTS", "AGENT"]
        kim_line = next(line for line in table if " kimlong-01 " in line)
        assert kim_line.split()[2] == "online"
        assert kim_line.split()[-1] == "0.1.0"
        phuoc_line = next(line for line in table if " phuoc-01 " in line)
        assert phuoc_line.split()[2:5] == ["unknown", "never", "seen"]
        assert table[-1] == "2 gateways: 1 online, 0 stale, 0 offline, 1 unknown"
        # a wrong password is refused with the broker's words, exit code 1
        monkeypatch.setenv("IOC_MONITOR_PASSWORD", "wrong")
        assert main(["devices", "--host", broker.host, "--port", str(broker.port),
                     "--username", "monitor", "--password-env", "IOC_MONITOR_PASSWORD",
                     "--wait", "0"]) == 1
        assert "refused us: Not authorized" in capsys.readouterr().err
    finally:
        broker.stop()
