"""CloudServer as the demo embeds it: local_config, port 0, stop while a stream is open."""

from __future__ import annotations

import stat
import threading
import time
from pathlib import Path

import httpx

from cloud.api.server import CloudServer, local_config


def test_local_config_serves_every_role_and_stops_with_a_stream_open(tmp_path: Path) -> None:
    config, tokens = local_config(tmp_path)
    assert stat.S_IMODE((tmp_path / "tokens" / "police").stat().st_mode) == 0o600
    assert all(u.token_file and not u.token_env for u in config.users)
    server = CloudServer(config)
    server.start()
    try:
        assert server.port != 0
        for role, token in tokens.items():
            me = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json()["role"] == role
        opened = threading.Event()

        def listen() -> None:
            headers = {"Authorization": f"Bearer {tokens['flood_operator']}"}
            with httpx.stream("GET", f"{server.url}/api/v1/alerts/stream", headers=headers,
                              timeout=30) as response:
                opened.set()
                for _ in response.iter_lines():
                    pass

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert opened.wait(10)
    finally:
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 8  # the open stream does not hold the shutdown
    listener.join(10)
    assert not listener.is_alive()
    server.stop()  # twice is harmless


def test_retention_runs_on_its_timer(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cloud.stores.events import SqliteEventStore
    from ioc.contract import PlateRead, VehicleClass

    config, _ = local_config(tmp_path)
    config = config.model_copy(update={"retention": config.retention.model_copy(
        update={"interval_s": 3600, "plate_reads_days": 1})})
    stream = SqliteEventStore(config.store.events_path)
    stream.put([PlateRead(id="old", site="hue", device="gw", ts=datetime(2025, 1, 1, tzinfo=UTC),
                          camera="cam", track_id=1, plate="75A12345", layout="one_line",
                          vehicle_class=VehicleClass.CAR, confidence=0.9, valid=True)])
    stream.close()
    with CloudServer(config) as server:
        deadline = time.monotonic() + 10
        while server.stores.plates.count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.stores.plates.count() == 0
        entries = server.stores.audit.query(action="retention.purge")
        while not entries and time.monotonic() < deadline:
            time.sleep(0.05)
            entries = server.stores.audit.query(action="retention.purge")
        assert (entries[0].actor, entries[0].role, entries[0].result_count) == (
            "retention", "system", 1)
