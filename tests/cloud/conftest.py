"""Cloud fixtures: every store and API test runs against SQLite and a real PostgreSQL.

The PostgreSQL cluster is started once per session by the fixture (initdb into a
temporary folder, a free loopback port) and removed at the end; each test gets a
fresh database in it. Without PostgreSQL's server programs the PostgreSQL cases
FAIL, saying what to install: they are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from cloud.api.server import CloudServer
from cloud.config import CloudConfig, StoreSettings, UserConfig
from cloud.stores.bundle import CloudStores, stores_on
from cloud.stores.db import Database, PostgresDatabase, SqliteDatabase
from cloud.stores.pgcluster import PostgresCluster, PostgresUnavailable
from cloud.stores.schema import SCHEMA
from ioc.contract import (
    Alert,
    AlertStatus,
    DeviceStatus,
    EvidenceImage,
    Heartbeat,
    PlateRead,
    Severity,
    VehicleClass,
    Violation,
    ViolationType,
)

T0 = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)
ROLES = ("police", "flood_operator", "traffic_officer", "technician", "admin")
TOKENS = {role: f"token-{role}-0123456789abcdef" for role in ROLES}
USERS = {role: f"{role.replace('_', '-')}-1" for role in ROLES}


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """A private PostgreSQL for the whole session."""
    cluster = PostgresCluster()
    try:
        cluster.start()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL is needed for the cloud tests and could not start: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def pg_dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database."""
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    dsn = cluster.create_database()
    yield dsn
    cluster.drop_database(dsn)


@pytest.fixture
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    """An empty event database of the parametrised backend."""
    db: Database
    if backend == "sqlite":
        db = SqliteDatabase(tmp_path / "events.sqlite", SCHEMA)
    else:
        db = PostgresDatabase(request.getfixturevalue("pg_dsn"), SCHEMA)
    yield db
    db.close_all()


@pytest.fixture
def settings(tmp_path: Path) -> StoreSettings:
    return StoreSettings(events_path=tmp_path / "events.sqlite",
                         timeseries_path=tmp_path / "timeseries.sqlite",
                         evidence_dir=tmp_path / "evidence")


@pytest.fixture
def stores(database: Database, settings: StoreSettings) -> CloudStores:
    return stores_on(database, settings, stale_after_s=60)


@pytest.fixture
def cloud_config(backend: str, settings: StoreSettings, monkeypatch: pytest.MonkeyPatch,
                 request: pytest.FixtureRequest) -> CloudConfig:
    """A config on the parametrised backend; tokens and the DSN only by reference."""
    for role in ROLES:
        monkeypatch.setenv(f"IOC_TEST_TOKEN_{role.upper()}", TOKENS[role])
    store = settings
    if backend == "postgres":
        monkeypatch.setenv("IOC_TEST_PG_DSN", request.getfixturevalue("pg_dsn"))
        store = settings.model_copy(update={"backend": "postgres",
                                            "postgres_dsn_env": "IOC_TEST_PG_DSN"})
    users = [UserConfig(name=USERS[r], role=r, token_env=f"IOC_TEST_TOKEN_{r.upper()}")
             for r in ROLES]
    return CloudConfig(store=store, users=users,
                       limits={"max_body_bytes": 4096, "device_stale_after_s": 60},
                       retention={"interval_s": 0}, notify={"poll_s": 0.05},
                       alert_stream={"poll_s": 0.05, "keepalive_s": 1})


@pytest.fixture
def server(cloud_config: CloudConfig) -> Iterator[CloudServer]:
    """The real server (uvicorn in a thread) on a free loopback port."""
    srv = CloudServer(cloud_config, port=0)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def api_stores(server: CloudServer) -> CloudStores:
    """The stores the running server reads (tests put events through them)."""
    return server.stores


@pytest.fixture
def client(server: CloudServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=20) as c:
        yield c


def auth(role: str) -> dict[str, str]:
    """Headers of a caller in ``role``."""
    return {"Authorization": f"Bearer {TOKENS[role]}"}


@pytest.fixture
def as_role() -> type:
    """``as_role.headers(role)``: headers of a caller in a role (fixtures can't be imported)."""

    class _Roles:
        users = USERS
        tokens = TOKENS

        @staticmethod
        def headers(role: str) -> dict[str, str]:
            return auth(role)

    return _Roles


@dataclass
class Make:
    """Builds valid contract events with sensible defaults."""

    site: str = "hue"
    t0: datetime = T0

    def at(self, minutes: float) -> datetime:
        """``minutes`` after :attr:`t0`."""
        return self.t0 + timedelta(minutes=minutes)

    def plate(self, id: str, plate: str, at: datetime = T0, *, camera: str = "cam-01",
              device: str = "camgw-01") -> PlateRead:
        return PlateRead(id=id, site=self.site, device=device, ts=at, camera=camera,
                         track_id=1, plate=plate, raw_text=plate, layout="one_line",
                         vehicle_class=VehicleClass.CAR, confidence=0.9, valid=True)

    def alert(self, id: str, alert_id: str, status: str = "raised", at: datetime = T0, *,
              audience: str = "operator", category: str = "weather",
              subcategory: str = "flood", severity: str = "medium", level: int = 1,
              plate: str | None = None, reading_id: str | None = None,
              match_distance: int | None = None, station: str | None = "kimlong") -> Alert:
        return Alert(id=id, site=self.site, device="stream", ts=at, alert_id=alert_id,
                     status=AlertStatus(status), category=category,  # type: ignore[arg-type]
                     subcategory=subcategory, severity=Severity(severity), station=station,
                     level=level, since=at, description=f"{alert_id} {status}",
                     audience=audience, plate=plate,  # type: ignore[arg-type]
                     reading_id=reading_id, match_distance=match_distance)

    def hit(self, id: str, read: PlateRead, watched: str, distance: int = 0) -> Alert:
        return self.alert(id, f"hit-{read.id}", at=read.ts, audience="police",
                          category="security", subcategory="watchlist", severity="high",
                          plate=watched, reading_id=read.id, match_distance=distance,
                          station=None)

    def violation(self, id: str, at: datetime = T0, *, plate: str | None = "75A12345",
                  images: list[tuple[str, str]] = ()) -> Violation:  # type: ignore[assignment]
        return Violation(id=id, site=self.site, device="camgw-01", ts=at, camera="cam-01",
                         track_id=7, violation=ViolationType.RED_LIGHT,
                         vehicle_class=VehicleClass.CAR, plate=plate, plate_color="white",
                         location="Lê Lợi × Hùng Vương, Huế", rule={"signal": "red"},
                         evidence=[EvidenceImage(image_id=i, role="at",  # type: ignore[arg-type]
                                                 taken_at=at, sha256=s) for i, s in images])

    def status(self, id: str, device: str, state: str, at: datetime = T0,
               config_version: str | None = None) -> DeviceStatus:
        return DeviceStatus(id=id, site=self.site, device=device, ts=at,
                            state=state, agent_version="1.0",  # type: ignore[arg-type]
                            config_version=config_version)

    def heartbeat(self, id: str, device: str, at: datetime = T0, *, queue_depth: int = 0,
                  config_version: str | None = None) -> Heartbeat:
        return Heartbeat(id=id, site=self.site, device=device, ts=at, uptime_s=10.0,
                         queue_depth=queue_depth, config_version=config_version)


@pytest.fixture
def make() -> Make:
    return Make()
