"""Every store the API reads and writes, opened on one database from the config."""

from __future__ import annotations

from dataclasses import dataclass

from cloud.config import StoreSettings, resolve_secret
from cloud.stores.alerts import AlertBoard
from cloud.stores.audit import AuditLog
from cloud.stores.db import Database, PostgresDatabase, SqliteDatabase
from cloud.stores.devices import DeviceRegistry
from cloud.stores.events import DbEventStore
from cloud.stores.evidence import EvidenceStore
from cloud.stores.plates import PlateHistory
from cloud.stores.schema import SCHEMA
from cloud.stores.timeseries import SqliteTimeSeriesStore
from cloud.stores.violations import ViolationBoard
from cloud.stores.watchlist import DbWatchlistStore


@dataclass(frozen=True, slots=True)
class CloudStores:
    """The stores over one database (plus the time-series file and the evidence folder)."""

    db: Database
    events: DbEventStore
    watchlist: DbWatchlistStore
    plates: PlateHistory
    alerts: AlertBoard
    violations: ViolationBoard
    devices: DeviceRegistry
    audit: AuditLog
    evidence: EvidenceStore
    timeseries: SqliteTimeSeriesStore | None

    def close_all(self) -> None:
        """Close every connection (when the server has stopped serving)."""
        self.db.close_all()
        if self.timeseries is not None:
            self.timeseries.close()


def stores_on(db: Database, settings: StoreSettings, *,
              stale_after_s: float = 120.0) -> CloudStores:
    """The stores over an already opened database."""
    return CloudStores(
        db=db, events=DbEventStore(db), watchlist=DbWatchlistStore(db), plates=PlateHistory(db),
        alerts=AlertBoard(db), violations=ViolationBoard(db),
        devices=DeviceRegistry(db, stale_after_s=stale_after_s), audit=AuditLog(db),
        evidence=EvidenceStore(settings.evidence_dir),
        timeseries=(SqliteTimeSeriesStore(settings.timeseries_path)
                    if settings.timeseries_path is not None else None),
    )


def open_stores(settings: StoreSettings, *, stale_after_s: float = 120.0) -> CloudStores:
    """The stores a config names; no connection is opened until first used.

    Raises :class:`cloud.config.SecretError` when the PostgreSQL connection string
    cannot be read from where the config says it is."""
    db: Database
    if settings.backend == "postgres":
        dsn = resolve_secret(settings.postgres_dsn_env, settings.postgres_dsn_file,
                             "store.postgres_dsn")
        db = PostgresDatabase(dsn, SCHEMA)
    else:
        db = SqliteDatabase(settings.events_path, SCHEMA)
    return stores_on(db, settings, stale_after_s=stale_after_s)
