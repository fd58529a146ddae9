"""API latency with 50 concurrent clients on the main read endpoints.

Fills a fresh store (plate reads, alerts, violations, devices), starts the server
as its own process (``ioc cloud serve``, so the clients do not share its
interpreter), then runs ``--clients`` concurrent clients (asyncio, one keep-alive
connection each, through a minimal HTTP/1.1 client so that the load generator
stays light) for ``--seconds`` per endpoint and prints requests/s, p50 and p99.
The baseline, measured in the same run, is ``/health`` (no token, one ``SELECT 1``):
each endpoint's p99 is printed as a ratio of it.

    .venv/bin/python bench/api_bench.py                       # 50 clients, 5 s per endpoint
    .venv/bin/python bench/api_bench.py --clients 10 --reads 1000000
    .venv/bin/python bench/api_bench.py --backend postgres
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from plate_history_bench import plate_pool, rows  # the same generator, beside this file

from cloud.stores.db import Database, PostgresDatabase, SqliteDatabase
from cloud.stores.events import DbEventStore
from cloud.stores.pgcluster import PostgresCluster
from cloud.stores.plates import PlateHistory
from cloud.stores.schema import SCHEMA
from ioc.broker import free_port, wait_for_port
from ioc.contract import (
    Alert,
    AlertStatus,
    DeviceStatus,
    EvidenceImage,
    Heartbeat,
    Severity,
    VehicleClass,
    Violation,
    ViolationType,
)

TOKENS = {"police": "bench-police-token-0123456789", "flood_operator":
          "bench-flood-token-0123456789", "traffic_officer": "bench-traffic-token-0123456789",
          "technician": "bench-tech-token-0123456789"}
T0 = datetime(2025, 11, 3, tzinfo=UTC)


def fill(db: Database, reads: int, seed: int) -> list[str]:
    """A store like a busy day's: plate reads, alert changes, violations, device status."""
    plates = plate_pool(max(reads // 10, 1000), seed)
    PlateHistory(db).bulk_load(rows(reads, plates, seed))
    store = DbEventStore(db)
    rng = random.Random(seed)
    events: list[object] = []
    for i in range(2000):
        status = AlertStatus.RAISED if i % 4 == 0 else AlertStatus.ESCALATED
        events.append(Alert(id=f"a{i}", site="hue", device="stream",
                            ts=T0 + timedelta(minutes=i), alert_id=f"alert-{i // 4}",
                            status=status, category="weather", subcategory="flood",
                            severity=Severity.HIGH, station=f"st-{i % 20}",
                            since=T0, description=f"alert {i}"))
    for i in range(500):
        events.append(Violation(
            id=f"v{i}", site="hue", device="camgw-001", ts=T0 + timedelta(seconds=i * 30),
            camera="cam-001", track_id=i, violation=ViolationType.RED_LIGHT,
            vehicle_class=VehicleClass.MOTORBIKE, plate=rng.choice(plates), plate_color="white",
            location="Lê Lợi", evidence=[EvidenceImage(image_id=f"img{i}", role="at",
                                                       taken_at=T0, sha256="0" * 64)]))
    for d in range(160):
        events.append(DeviceStatus(id=f"s{d}", site="hue", device=f"camgw-{d:03d}", ts=T0,
                                   state="online", config_version="v3"))
        events.append(Heartbeat(id=f"h{d}", site="hue", device=f"camgw-{d:03d}", ts=T0,
                                uptime_s=100.0, queue_depth=d % 5))
    store.put(events)  # type: ignore[arg-type]
    db.close_all()
    return plates


def config(folder: Path, port: int, backend: str) -> Path:
    """The server's config file (the PostgreSQL DSN by reference: BENCH_DSN)."""
    users = "".join(f"  - {{name: {r}-1, role: {r}, token_env: BENCH_{r.upper()}}}\n"
                    for r in TOKENS)
    where = ("  backend: postgres\n  postgres_dsn_env: BENCH_DSN\n" if backend == "postgres"
             else f"  events_path: {folder / 'events.sqlite'}\n")
    path = folder / "cloud.yaml"
    path.write_text(f"listen: {{host: 127.0.0.1, port: {port}}}\n"
                    f"store:\n{where}  timeseries_path: {folder / 'ts.sqlite'}\n"
                    f"  evidence_dir: {folder / 'evidence'}\n"
                    f"users:\n{users}retention: {{interval_s: 0}}\n")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--reads", type=int, default=200_000, help="plate reads in the store")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ioc-api-bench-"))
    env = {**os.environ, **{f"BENCH_{r.upper()}": t for r, t in TOKENS.items()}}
    cluster = None
    db: Database
    if args.backend == "postgres":
        cluster = PostgresCluster()
        cluster.start()
        env["BENCH_DSN"] = cluster.create_database()
        db = PostgresDatabase(env["BENCH_DSN"], SCHEMA)
    else:
        db = SqliteDatabase(folder / "events.sqlite", SCHEMA)
    print(f"filling a {args.backend} store with {args.reads:,} plate reads, 2,000 alert"
          " changes, 500 violations, 160 devices ...", flush=True)
    plates = fill(db, args.reads, args.seed)
    sample = random.Random(args.seed).sample(plates, 500)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "ioc.cli", "cloud", "serve",
                               str(config(folder, port, args.backend))], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_for_port("127.0.0.1", port, 30):
            sys.exit("the server did not start")
        base = f"http://127.0.0.1:{port}"
        history = "/api/v1/plates/history?plate={plate}"
        cases: list[tuple[str, str, str | None]] = [
            ("baseline: /health", "/health", None),
            ("GET /api/v1/me", "/api/v1/me", "technician"),
            ("alerts (50, open)", "/api/v1/alerts?limit=50&state=open", "flood_operator"),
            ("plate history exact", history, "police"),
            ("plate history one_off", history + "&match=one_off", "police"),
            ("violations (50, pending)", "/api/v1/violations?limit=50&review=pending",
             "traffic_officer"),
            ("devices (160)", "/api/v1/devices", "technician"),
        ]
        print(f"\n{args.clients} concurrent clients, {args.seconds:.0f} s per endpoint,"
              f" server: one uvicorn process on {args.backend} ({os.cpu_count()} CPUs shared with"
              " the clients)")
        print(f"{'endpoint':<28}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'p99/base':>10}"
              f"{'errors':>8}")
        base_p99 = None
        for name, path, role in cases:
            # every client walks through other plates: {plate} is filled from the sample
            urls = [path.format(plate=p) for p in sample] if "{plate}" in path else [path]
            count, ms, errors = asyncio.run(load(base, urls, role, args.clients, args.seconds))
            q = statistics.quantiles(ms, n=100)
            base_p99 = base_p99 or q[98]
            print(f"{name:<28}{count / args.seconds:>8.0f}{q[49]:>9.1f}{q[98]:>9.1f}"
                  f"{q[98] / base_p99:>9.1f}x{errors:>8}", flush=True)
    finally:
        server.terminate()
        server.wait(30)
        if cluster is not None:
            cluster.stop()
    return 0


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams.

    httpx costs the client a few hundred microseconds of Python per request; with 50 of
    them on a 2-core machine the load generator, not the server, set the latency. This
    one writes the request bytes and reads status, headers and Content-Length bytes."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.extra}\r\n"
                          .encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def load(base: str, urls: list[str], role: str | None, clients: int,
               seconds: float) -> tuple[int, list[float], int]:
    headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(i: int) -> None:
        nonlocal errors
        c = RawClient(host, int(port), headers)
        n = i
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                status = await c.get(urls[n % len(urls)])
                latencies.append((time.perf_counter() - t) * 1000)
                errors += status != 200
                n += clients
        finally:
            await c.close()

    await asyncio.gather(*(client(i) for i in range(clients)))
    return len(latencies), latencies, errors


if __name__ == "__main__":
    raise SystemExit(main())
