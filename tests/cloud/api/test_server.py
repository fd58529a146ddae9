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
