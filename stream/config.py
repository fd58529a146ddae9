"""Typed config of the stream, validated at load (see :mod:`ioc.config`)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from ioc.config import StrictModel, load_yaml_model, secret_by_reference
from stream.mqtt_client import MqttLogin

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class StationConfig(StrictModel):
    """A measuring station or camera site: its name and where it is. Alarm levels and
    every other threshold live in the rules file (``stream/rules.yaml``)."""

    name: str
    kind: Literal["river", "rain", "air", "camera", "other"] = "other"
    river: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class MqttTlsConfig(StrictModel):
    """TLS to the broker: the CA that signed its certificate, optionally a client
    certificate and key."""

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _pair(self) -> MqttTlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give cert_file and key_file together, or neither")
        return self


class MqttConfig(StrictModel):
    """How the stream reaches the broker, and as whom (the password only by reference:
    an environment variable or a file only its owner can read)."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: Slug = "ioc-stream"
    share_group: Slug | None = "ioc-stream"
    qos: int = Field(default=1, ge=0, le=2)
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    username: str | None = Field(default=None, min_length=1, max_length=256)
    password_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    password_file: Path | None = None
    tls: MqttTlsConfig | None = None

    @model_validator(mode="after")
    def _password(self) -> MqttConfig:
        if self.password_env is not None and self.password_file is not None:
            raise ValueError("give password_env or password_file, not both")
        if (self.password_env or self.password_file) and self.username is None:
            raise ValueError("a password needs a username")
        return self

    def login(self) -> MqttLogin:
        """The account and TLS files, the password read now (ValueError naming the key
        when its reference cannot be resolved or a file cannot be read)."""
        password = secret_by_reference(self.password_env, self.password_file,
                                       env_key="mqtt.password_env",
                                       file_key="mqtt.password_file")
        tls = self.tls
        if tls is not None:
            for key, path in (("ca_file", tls.ca_file), ("cert_file", tls.cert_file),
                              ("key_file", tls.key_file)):
                if path is not None and not path.is_file():
                    raise ValueError(f"mqtt.tls.{key}: {path}: no such file")
        return MqttLogin(self.username, password,
                         str(tls.ca_file) if tls else None,
                         str(tls.cert_file) if tls and tls.cert_file else None,
                         str(tls.key_file) if tls and tls.key_file else None)


class RainConfig(StrictModel):
    """Rain totals: window lengths, the step their ends fall on, and allowed lateness."""

    windows_h: list[int] = Field(default=[1, 3, 6, 12, 24], min_length=1)
    step_min: int = Field(default=60, ge=1, le=1440)
    lateness_min: int = Field(default=10, ge=0, le=1440)

    @field_validator("windows_h")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(h <= 0 or h > 168 for h in v):
            raise ValueError(f"rain windows must be 1..168 hours, got {v}")
        return sorted(set(v))

    @property
    def windows(self) -> tuple[timedelta, ...]:
        return tuple(timedelta(hours=h) for h in self.windows_h)


class StoreConfig(StrictModel):
    """Where the embedded stores keep their files."""

    timeseries_path: Path = Path("var/timeseries.sqlite")
    events_path: Path = Path("var/events.sqlite")


class IngestConfig(StrictModel):
    """What the decode step accepts beyond the contract: event times that make sense."""

    max_future_s: int = Field(default=600, ge=0, le=86400 * 7)
    oldest: datetime = datetime(2000, 1, 1, tzinfo=UTC)

    @field_validator("oldest")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError(f"oldest must carry a time zone, got {v.isoformat()}")
        if v > datetime.now(UTC):
            raise ValueError("oldest is in the future: every reading would be refused")
        return v


class RecoveryConfig(StrictModel):
    """Bytewax recovery: where snapshots and the input log live, and how often epochs close.

    ``dir`` None turns recovery off (the MQTT input then acknowledges on receipt)."""

    dir: Path | None = None
    epoch_interval_s: float = Field(default=1.0, gt=0, le=600)
    #: keep superseded snapshots this long: a crash soon after a restart resumes from an
    #: epoch whose snapshots Bytewax would otherwise already have deleted (seen in
    #: tests/integration/test_stream_recovery.py with backup_interval 0)
    backup_interval_s: float = Field(default=600.0, ge=0, le=86400)


class WatchlistConfig(StrictModel):
    """How plate reads are matched against the police watchlist in the event store."""

    enabled: bool = True
    refresh_s: float = Field(default=1.0, gt=0, le=3600)
    max_distance: int = Field(default=1, ge=0, le=1)
    #: reads less sure than this raise no police alert: on 16 held-out simulator seeds,
    #: 2 of 75 reads under 0.5 were right, against 1,003 of 1,054 from 0.5 up
    min_confidence: float = Field(default=0.5, ge=0, le=1)


class InfluxConfig(StrictModel):
    """An InfluxDB v2 write API server (InfluxDB, or any server speaking its protocol).

    The token is read from the environment variable named by ``token_env``, never from
    the file."""

    url: str = Field(pattern=r"^https?://")
    org: str = "ioc"
    bucket: str = "ioc"
    token_env: str | None = "IOC_INFLUX_TOKEN"
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    flush_interval_ms: int = Field(default=200, ge=10, le=60_000)
    timeout_ms: int = Field(default=10_000, ge=100, le=600_000)

    def token(self) -> str:
        """The API token ("" with ``token_env: null``, for a server without one); a named
        variable that is not set is a ValueError (every write would get a 401)."""
        if self.token_env is None:
            return ""
        value = os.environ.get(self.token_env)
        if value is None:
            raise ValueError(f"influx.token_env: environment variable {self.token_env} is not"
                             " set (token_env: null for a server without a token)")
        return value


class StreamConfig(StrictModel):
    """Everything the dataflow needs."""

    site: Slug = "hue"
    mqtt: MqttConfig = MqttConfig()
    partitions: int = Field(default=1, ge=1, le=256)
    ingest: IngestConfig = IngestConfig()
    recovery: RecoveryConfig = RecoveryConfig()
    watchlist: WatchlistConfig = WatchlistConfig()
    influx: InfluxConfig | None = None
    #: alert rules (None: the shipped ``stream/rules.yaml``)
    rules: Path | None = None
    #: no-data ticks: a series is judged silent against the freshest event time seen
    #: in the city minus this slack (devices' clocks and links differ a little)
    no_data_slack_min: int = Field(default=15, ge=0, le=1440)

    def location(self, station_id: str) -> str:
        """A station's or camera's name for people (its id when it is not configured)."""
        station = self.stations.get(station_id)
        return station.name if station is not None else station_id
    stations: dict[Slug, StationConfig] = Field(default_factory=dict)
    rain: RainConfig = RainConfig()
    rise_window_min: int = Field(default=60, ge=5, le=1440)
    store: StoreConfig = StoreConfig()


def default_config_path() -> Path:
    """The shipped defaults: Hue's stations with the alarm levels of Decision 05/2020."""
    return Path(str(resources.files("stream") / "defaults.yaml"))


def load_config(path: Path | str | None = None) -> StreamConfig:
    """Load a stream config file (the shipped defaults when ``path`` is None)."""
    return load_yaml_model(StreamConfig, path or default_config_path())


def preflight(config: StreamConfig) -> list[str]:
    """What would stop ``config`` from running, found before the dataflow starts (each
    problem a line naming the key): the rules file (loaded, and checked against the
    configured stations when it lists any), the broker password and InfluxDB token
    references, and store and recovery folders that cannot be created or written.
    Nothing is created."""
    from ioc.config import ConfigError
    from stream.rules_config import load_rules

    problems: list[str] = []
    try:  # (a config that lists no stations leaves the rules' stations unchecked)
        load_rules(config.rules, stations=config.stations or None)
    except ConfigError as exc:
        problems += [str(p) for p in exc.problems]
    checks = [config.mqtt.login] + ([config.influx.token] if config.influx else [])
    for check in checks:
        try:
            check()
        except ValueError as exc:
            problems.append(str(exc))
    folders = [("store.timeseries_path", config.store.timeseries_path.parent),
               ("store.events_path", config.store.events_path.parent)]
    if config.recovery.dir is not None:
        folders.append(("recovery.dir", config.recovery.dir))
    for key, folder in folders:
        why = _unwritable(folder)
        if why:
            problems.append(f"{key}: {folder}: {why}")
    return problems


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be made in ``folder`` (None: they can, creating it if needed)."""
    at = folder.absolute()
    while not at.exists():
        if at.parent == at:
            break
        at = at.parent
    if not at.is_dir():
        return f"{at} is not a folder"
    if not os.access(at, os.W_OK | os.X_OK):
        return f"{at} is not writable by this user"
    return None
