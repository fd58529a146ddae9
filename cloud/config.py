"""The cloud's configuration: listen address, store, users and their roles, retention,
notifications. Loaded with :func:`ioc.config.load_yaml_model`, so an error names the
file, line, key path and value.

Secrets (user tokens, the PostgreSQL connection string, webhook signing keys, MQTT
passwords) never sit in the file: the file names an environment variable
(``*_env``) or a file (``*_file``) holding them, resolved when the server starts.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from ioc.config import StrictModel, load_yaml_model

Role = Literal["police", "flood_operator", "traffic_officer", "technician", "admin"]
ROLES: tuple[Role, ...] = ("police", "flood_operator", "traffic_officer", "technician", "admin")
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Severity = Literal["informational", "low", "medium", "high", "critical"]
Category = Literal["weather", "environment", "traffic", "security", "health", "agriculture"]
Audience = Literal["operator", "police", "traffic", "technician"]


class SecretError(ValueError):
    """A secret the config refers to cannot be read; says which and where it was looked for."""


def resolve_secret(env: str | None, file: Path | None, what: str) -> str:
    """The secret named by an environment variable or a file (stripped of surrounding space)."""
    if env is not None:
        value = (os.environ.get(env) or "").strip()
        if not value:  # (only spaces had passed, and then signed nothing)
            raise SecretError(f"{what}: environment variable {env} is not set or blank")
        return value
    if file is not None:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretError(f"{what}: cannot read {file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise SecretError(f"{what}: {file} is not UTF-8 text") from None
        if not value:
            raise SecretError(f"{what}: {file} is empty")
        return value
    raise SecretError(f"{what}: no *_env or *_file given")


def _one_of(env: str | None, file: Path | None, what: str, *, required: bool) -> None:
    if env is not None and file is not None:
        raise ValueError(f"give {what}_env or {what}_file, not both")
    if required and env is None and file is None:
        raise ValueError(f"{what} must be given by reference: {what}_env or {what}_file")


class UserConfig(StrictModel):
    """Someone (or some system) that calls the API, with one role and a bearer token."""

    name: Name
    role: Role
    token_env: EnvName | None = None
    token_file: Path | None = None

    @model_validator(mode="after")
    def _token_by_reference(self) -> UserConfig:
        _one_of(self.token_env, self.token_file, "token", required=True)
        return self


class ListenConfig(StrictModel):
    """Where ``ioc cloud serve`` listens (the embedded server always takes 127.0.0.1)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class StoreSettings(StrictModel):
    """Which database holds the events, and where the other stores live."""

    backend: Literal["sqlite", "postgres"] = "sqlite"
    events_path: Path = Path("var/events.sqlite")
    postgres_dsn_env: EnvName | None = None
    postgres_dsn_file: Path | None = None
    timeseries_path: Path | None = Path("var/timeseries.sqlite")
    evidence_dir: Path = Path("var/evidence")

    @model_validator(mode="after")
    def _dsn_for_postgres(self) -> StoreSettings:
        _one_of(self.postgres_dsn_env, self.postgres_dsn_file, "postgres_dsn",
                required=self.backend == "postgres")
        return self


class RetentionConfig(StrictModel):
    """How long personal data is kept (days) and how often the purge runs."""

    plate_reads_days: float = Field(default=30.0, gt=0)
    evidence_days: float = Field(default=365.0, gt=0)
    interval_s: float = Field(default=3600.0, ge=0, description="0: never on its own")


class LimitsConfig(StrictModel):
    """What the API refuses before looking: bodies larger than this; when a device is stale."""

    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    device_stale_after_s: float = Field(default=120.0, gt=0)


class AlertStreamConfig(StrictModel):
    """The live alert stream (server-sent events)."""

    poll_s: float = Field(default=0.5, gt=0, le=10)
    keepalive_s: float = Field(default=15.0, gt=0, le=300)


class AlertFilterConfig(StrictModel):
    """Which alert changes a notifier gets (empty lists: all)."""

    categories: list[Category] = Field(default_factory=list)
    audiences: list[Audience] = Field(default_factory=list)
    min_severity: Severity = "informational"
    statuses: list[Literal["raised", "escalated", "deescalated", "cleared"]] = Field(
        default_factory=list)


class RetryConfig(StrictModel):
    """Exponential back-off: first_delay_s, then ×factor each failure, at most max_delay_s."""

    first_delay_s: float = Field(default=2.0, gt=0)
    factor: float = Field(default=2.0, ge=1)
    max_delay_s: float = Field(default=600.0, gt=0)
    max_attempts: int = Field(default=10, ge=1, le=1000)

    @model_validator(mode="after")
    def _order(self) -> RetryConfig:
        if self.max_delay_s < self.first_delay_s:
            raise ValueError(f"max_delay_s {self.max_delay_s:g} is below first_delay_s"
                             f" {self.first_delay_s:g}")
        return self


def _http_url(value: str) -> str:
    """An http(s) URL a request can be sent to: a host, a port that exists."""
    parts = urlsplit(value)
    try:
        port = parts.port  # raises for a port out of range or not a number
    except ValueError as exc:
        raise ValueError(f"{value!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL with a host")
    if port == 0:
        raise ValueError(f"{value!r}: port 0 cannot be connected to")
    return value


HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s]+$"), AfterValidator(_http_url)]


class WebhookConfig(StrictModel):
    """POST each alert change as JSON to a URL, signed when a secret is given."""

    name: Name
    url: HttpUrl
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    secret_env: EnvName | None = None
    secret_file: Path | None = None
    filter: AlertFilterConfig = AlertFilterConfig()

    @model_validator(mode="after")
    def _secret(self) -> WebhookConfig:
        _one_of(self.secret_env, self.secret_file, "secret", required=False)
        return self


class MqttNotifyConfig(StrictModel):
    """Publish each alert change on the contract's alert topic of another broker."""

    name: Name
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password_env: EnvName | None = None
    password_file: Path | None = None
    #: the CA that signed the broker's certificate: connect with TLS (the port is then
    #: the broker's TLS listener, often 8883)
    tls_ca_file: Path | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    filter: AlertFilterConfig = AlertFilterConfig()

    @model_validator(mode="after")
    def _password(self) -> MqttNotifyConfig:
        _one_of(self.password_env, self.password_file, "password", required=False)
        if self.tls_ca_file is not None and not self.tls_ca_file.is_file():
            raise ValueError(f"tls_ca_file {self.tls_ca_file} is not a readable file")
        return self


class TextGatewayConfig(StrictModel):
    """An SMS or app-push gateway reached over HTTP: POST {"to": ..., "text": ...}."""

    name: Name
    url: HttpUrl
    recipients: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1)
    token_env: EnvName | None = None
    token_file: Path | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    filter: AlertFilterConfig = AlertFilterConfig()

    @model_validator(mode="after")
    def _token(self) -> TextGatewayConfig:
        _one_of(self.token_env, self.token_file, "token", required=False)
        return self


class NotifyConfig(StrictModel):
    """Where alert changes are delivered, and how failed deliveries are retried."""

    poll_s: float = Field(default=1.0, gt=0, le=60)
    retry: RetryConfig = RetryConfig()
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    mqtt: list[MqttNotifyConfig] = Field(default_factory=list)
    text: list[TextGatewayConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> NotifyConfig:
        names = [n.name for n in (*self.webhooks, *self.mqtt, *self.text)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"notifier names must be unique; repeated: {', '.join(dupes)}")
        return self


class CloudConfig(StrictModel):
    """Everything the cloud API server needs."""

    site: Name = "hue"
    listen: ListenConfig = ListenConfig()
    store: StoreSettings = StoreSettings()
    users: list[UserConfig] = Field(default_factory=list)
    retention: RetentionConfig = RetentionConfig()
    limits: LimitsConfig = LimitsConfig()
    alert_stream: AlertStreamConfig = AlertStreamConfig()
    notify: NotifyConfig = NotifyConfig()
    local_utc_offset_hours: float = Field(default=7.0, ge=-14, le=14,
                                          description="local time printed in evidence packages")

    @model_validator(mode="after")
    def _unique_users(self) -> CloudConfig:
        names = [u.name for u in self.users]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"user names must be unique; repeated: {', '.join(dupes)}")
        return self


def default_config_path() -> Path:
    """The shipped defaults (tokens from IOC_TOKEN_* environment variables)."""
    return Path(str(resources.files("cloud") / "defaults.yaml"))


def load_cloud_config(path: Path | str | None = None) -> CloudConfig:
    """Load a cloud config file (the shipped defaults when ``path`` is None)."""
    return load_yaml_model(CloudConfig, path or default_config_path())
