"""The cloud server end to end: `ioc cloud serve` as a process, and CloudServer with the
stream writing into the same store from another connection, a webhook receiver and a
live stream listening — on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from cloud.api.server import CloudServer
from cloud.config import CloudConfig
from cloud.stores.events import PostgresEventStore, SqliteEventStore
from cloud.stores.pgcluster import PostgresCluster, PostgresUnavailable
from ioc.broker import free_port
from ioc.contract import Alert, AlertStatus, PlateRead, Severity, VehicleClass

pytestmark = pytest.mark.integration
TOKEN = "integration-admin-token-0123456789"
T0 = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.start()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL is needed for this test and could not start: {exc}")
    yield cluster
    cluster.stop()


def _config_text(tmp: Path, port: int, extra: str = "") -> str:
    return (f"listen: {{host: 127.0.0.1, port: {port}}}\n"
            f"store:\n  events_path: {tmp / 'events.sqlite'}\n"
            f"  timeseries_path: {tmp / 'ts.sqlite'}\n  evidence_dir: {tmp / 'evidence'}\n"
            "users:\n  - {name: admin, role: admin, token_env: IOC_IT_TOKEN}\n" + extra)


def test_ioc_cloud_serve_runs_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "cloud.yaml"
    config.write_text(_config_text(tmp_path, port))
    env = {**os.environ, "IOC_IT_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "ioc.cli", "cloud", "serve", str(config)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"cloud API on http://127.0.0.1:{port}" in line, line
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/health").json() == {"status": "ok"}
        me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {TOKEN}"})
        assert me.json()["role"] == "admin"
        assert "/api/v1/plates/history" in httpx.get(f"{base}/openapi.json").json()["paths"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_serve_refuses_a_missing_token_clearly(tmp_path: Path) -> None:
    config = tmp_path / "cloud.yaml"
    config.write_text(_config_text(tmp_path, free_port()))
    env = {k: v for k, v in os.environ.items() if k != "IOC_IT_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "ioc.cli", "cloud", "serve", str(config)],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "users.admin.token: environment variable IOC_IT_TOKEN is not set" in done.stdout


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_stream_writes_server_notifies_and_streams(tmp_path: Path, backend: str,
                                                   request: pytest.FixtureRequest,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    monkeypatch.setenv("IOC_IT_TOKEN", TOKEN)
    extra = ("notify:\n  poll_s: 0.05\n  webhooks:\n"
             f"    - {{name: duty, url: 'http://127.0.0.1:{hook.server_address[1]}/h'}}\n"
             "alert_stream: {poll_s: 0.05}\nretention: {interval_s: 0}\n")
    path = tmp_path / "cloud.yaml"
    path.write_text(_config_text(tmp_path, 0, extra))
    from cloud.config import load_cloud_config

    config: CloudConfig = load_cloud_config(path)
    stream_store: SqliteEventStore | PostgresEventStore
    if backend == "postgres":
        cluster: PostgresCluster = request.getfixturevalue("pg")
        dsn = cluster.create_database()
        monkeypatch.setenv("IOC_IT_DSN", dsn)
        config = config.model_copy(update={"store": config.store.model_copy(
            update={"backend": "postgres", "postgres_dsn_env": "IOC_IT_DSN"})})
        stream_store = PostgresEventStore(dsn)
    else:
        stream_store = SqliteEventStore(config.store.events_path)
    server = CloudServer(config)  # port 0 from the file: a free one
    server.start()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        read = PlateRead(id="r1", site="hue", device="camgw-01", ts=T0, camera="cam-01",
                         track_id=3, plate="75A12345", layout="one_line",
                         vehicle_class=VehicleClass.CAR, confidence=0.95, valid=True)
        hit = Alert(id="h1", site="hue", device="stream", ts=T0, alert_id="hit-r1",
                    status=AlertStatus.RAISED, category="security", subcategory="watchlist",
                    severity=Severity.HIGH, since=T0, audience="police", plate="75A12345",
                    match_distance=0, reading_id="r1", description="watchlist hit 75A12345")

        def stream_writes() -> None:  # the dataflow, through its own store object
            time.sleep(0.5)
            stream_store.put([read, hit])

        writer = threading.Thread(target=stream_writes)
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client, \
                client.stream("GET", "/api/v1/alerts/stream") as live:
            writer.start()
            data = next(line for line in live.iter_lines() if line.startswith("data: "))
        writer.join()
        assert json.loads(data[6:])["id"] == "h1"
        deadline = time.monotonic() + 10
        while not _Receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r["id"] for r in _Receiver.received] == ["h1"]
        history = httpx.get(f"{server.url}/api/v1/plates/history",
                            params={"plate": "75A-123.45"}, headers=headers).json()
        assert [(i["id"], i["watchlist_hit"]) for i in history["items"]] == [("r1", True)]
        time.sleep(0.3)
        assert len(_Receiver.received) == 1  # delivered once
    finally:
        server.stop()
        stream_store.db.close_all()  # the writer thread's connection too
        hook.shutdown()
        hook.server_close()
        if backend == "postgres":
            cluster.drop_database(dsn)


@pytest.mark.parametrize(("text", "env", "code", "says"), [
    ("users:\n  - {name: admin, role: admin, token_env: IOC_IT_TOKEN}\n", True, 0,
     "ok (1 users, store sqlite)"),
    ("users:\n  - {name: admin, role: admin, token_env: IOC_IT_TOKEN}\n", False, 1,
     "users.admin.token: environment variable IOC_IT_TOKEN is not set"),
    ("users:\n  - {name: admin, role: admin, token: abc}\n", True, 1,
     ":2: users.0.token: 'abc': unknown key (a typo?)"),
])
def test_check_config(tmp_path: Path, text: str, env: bool, code: int, says: str) -> None:
    path = tmp_path / "cloud.yaml"
    path.write_text(text)
    environ = {k: v for k, v in os.environ.items() if k != "IOC_IT_TOKEN"}
    if env:
        environ["IOC_IT_TOKEN"] = TOKEN
    done = subprocess.run([sys.executable, "-m", "ioc.cli", "cloud", "check-config", str(path)],
                          env=environ, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == code
    assert says in done.stdout
