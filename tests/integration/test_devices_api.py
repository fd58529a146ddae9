"""``ioc devices --api``: the same fleet table from the real cloud API's device registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.api.server import CloudServer, local_config
from ioc.cli import main
from ioc.contract import ConfigAck, DeviceStatus, Heartbeat

pytestmark = pytest.mark.integration


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudServer]:
    config, tokens = local_config(tmp_path / "cloud")
    server = CloudServer(config, port=0)
    server.start()
    monkeypatch.setenv("IOC_TEST_TECH_TOKEN", tokens["technician"])
    monkeypatch.setenv("IOC_TEST_POLICE_TOKEN", tokens["police"])
    yield server
    server.stop()


def test_fleet_from_the_cloud_api(cloud: CloudServer, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    cloud.stores.events.put([
        DeviceStatus(id="s1", site="hue", device="kimlong-01", ts=now, state="online",
                     agent_version="0.1.0", config_version="3"),
        Heartbeat(id="h1", site="hue", device="kimlong-01", ts=now + timedelta(seconds=1),
                  uptime_s=5.0, queue_depth=7, disk_used_bytes=2048, config_version="3",
                  source_state="reconnecting", source_reconnects=2, dropped_events=1),
        ConfigAck(id="a1", site="hue", device="kimlong-01", ts=now, config_version="4",
                  result="refused", running_version="3", problems=["cfg:3: x: bad"]),
        DeviceStatus(id="s2", site="hue", device="phuoc-01", ts=now, state="offline"),
    ])
    assert main(["devices", "--api", cloud.url, "--token-env", "IOC_TEST_TECH_TOKEN",
                 "--json"]) == 0
    rows = {r["device"]: r for r in json.loads(capsys.readouterr().out)}
    k = rows["kimlong-01"]
    assert (k["state"], k["queue_depth"], k["disk_used_bytes"], k["config_version"],
            k["source_state"], k["source_reconnects"], k["dropped_events"], k["config_ack"],
            k["problems"]) == ("online", 7, 2048, "3", "reconnecting", 2, 1, "refused 4",
                               ["cfg:3: x: bad"])
    assert datetime.fromisoformat(k["last_seen"]) == now + timedelta(seconds=1)
    assert rows["phuoc-01"]["state"] == "offline"
    assert main(["devices", "--api", cloud.url, "--token-env", "IOC_TEST_TECH_TOKEN"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "2 gateways: 1 online, 0 stale, 1 offline, 0 unknown")
    # a role that may not see devices gets the API's refusal, not a crash
    assert main(["devices", "--api", cloud.url, "--token-env", "IOC_TEST_POLICE_TOKEN"]) == 1
    assert "HTTP Error 403" in capsys.readouterr().err
