"""Typed config of a sensor gateway (one YAML file per gateway in ``firmware_configs/``).

Secrets are never in the file: the broker password is named by an environment
variable (``password_env``) or a file readable only by its owner (``password_file``),
and read when the agent starts. TLS names the CA (and optionally a client
certificate) by path. ``checks`` are the gateway's own checks of what its sensors
give: a plausible range (a reading outside is a sensor fault, refused and counted)
and alarm levels, above which the gateway polls faster.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from edge.disk_queue import DiskQueue, FullPolicy
from edge.drivers.modbus_config import ModbusDriverConfig
from edge.publisher import BrokerAddress
from ioc.config import StrictModel, load_yaml_model, secret_by_reference
from ioc.contract import Quantity

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")]


class TlsConfig(StrictModel):
    """TLS to the broker: the CA that signed the broker's certificate, and optionally a
    client certificate and key (all paths on the gateway)."""

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = Field(default=None, validate_default=True)

    @field_validator("key_file")
    @classmethod
    def _pair(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if (v is None) != (info.data.get("cert_file") is None):
            raise ValueError("give cert_file and key_file together, or neither")
        return v

    def check_files(self) -> None:
        """Every file named exists (at start, on the gateway; not when validated elsewhere)."""
        for key in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, key)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"broker.tls.{key}: {path}: no such file")


class BrokerConfig(StrictModel):
    """Where the gateway publishes, and as whom (the password only by reference)."""

    host: str = Field(default="127.0.0.1", min_length=1, max_length=253)
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password_env: EnvName | None = None
    #: a file holding the password on its first line, mode 0600
    password_file: Path | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    tls: TlsConfig | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> BrokerConfig:
        if self.password_env is not None and self.password_file is not None:
            raise ValueError("give password_env or password_file, not both")
        return self

    def password(self) -> str | None:
        """The password, read from its environment variable or file (None: anonymous)."""
        return secret_by_reference(self.password_env, self.password_file,
                                   env_key="broker.password_env",
                                   file_key="broker.password_file")

    def address(self) -> BrokerAddress:
        """The broker address with the password read from where the config says."""
        password = self.password()
        tls = self.tls
        if tls is not None:
            tls.check_files()
        return BrokerAddress(
            self.host, self.port, self.username, password, self.keepalive_s,
            tls_ca=str(tls.ca_file) if tls else None,
            tls_cert=str(tls.cert_file) if tls and tls.cert_file else None,
            tls_key=str(tls.key_file) if tls and tls.key_file else None)


class QueueConfig(StrictModel):
    """The on-disk store-and-forward queue: where, how big, and what happens when full."""

    path: Path
    max_messages: int = Field(default=100_000, ge=1, le=100_000_000)
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    #: drop_oldest: the oldest queued events make room; drop_newest: new events are refused
    full_policy: FullPolicy = FullPolicy.DROP_OLDEST
    #: NORMAL survives a crash of the agent; FULL also a power cut (an fsync per event)
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"

    def build(self, base: Path | None = None) -> DiskQueue:
        """The queue (not yet opened); a relative path is taken from ``base``."""
        path = self.path if self.path.is_absolute() or base is None else base / self.path
        return DiskQueue(path, max_messages=self.max_messages, max_bytes=self.max_bytes,
                         policy=self.full_policy, synchronous=self.synchronous)


class ScenarioDriverConfig(StrictModel):
    """A simulated gauge playing a scenario (shipped name or file path)."""

    type: Literal["scenario"]
    scenario: str
    speed: float = Field(default=1.0, gt=0, le=1_000_000)


DriverConfig = Annotated[ScenarioDriverConfig | ModbusDriverConfig,
                         Field(discriminator="type")]


class QuantityCheck(StrictModel):
    """The gateway's own checks of one quantity."""

    #: plausible range of this sensor: a reading outside is a fault, refused and counted
    min: float | None = None
    max: float | None = None
    #: alarm levels (e.g. a river's I, II, III), strictly increasing; at or above the
    #: first one the gateway polls every ``alarm_poll_interval_s``
    alarm_levels: list[float] = Field(default_factory=list, max_length=10)

    @field_validator("max")
    @classmethod
    def _above_min(cls, v: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min")
        if v is not None and low is not None and v <= low:
            raise ValueError(f"max must be above min ({low})")
        return v

    @field_validator("alarm_levels")
    @classmethod
    def _increasing(cls, v: list[float], info: ValidationInfo) -> list[float]:
        for i, (a, b) in enumerate(itertools.pairwise(v)):
            if b <= a:
                raise ValueError(f"alarm levels must increase: level {i + 2} ({b:g}) is not "
                                 f"above level {i + 1} ({a:g})")
        low, high = info.data.get("min"), info.data.get("max")
        for i, level in enumerate(v):  # beyond the range: never reached, or always
            if (high is not None and level > high) or (low is not None and level <= low):
                raise ValueError(f"alarm level {i + 1} ({level:g}) is outside the sensor's"
                                 f" range ({low if low is not None else '-inf'}, "
                                 f"{high if high is not None else 'inf'}]")
        return v


class SensorGatewayConfig(StrictModel):
    """A river-level, rain or air-quality gateway."""

    kind: Literal["sensor_gateway"]
    version: int = Field(default=1, ge=1, le=2**63 - 1)  # (an ack carries it: 64 chars)
    site: Slug
    device: Slug
    broker: BrokerConfig = BrokerConfig()
    driver: DriverConfig
    poll_interval_s: float = Field(default=1.0, gt=0, le=3600)
    #: poll interval while a quantity is at or above its first alarm level (None: unchanged)
    alarm_poll_interval_s: float | None = Field(default=None, gt=0, le=3600)
    heartbeat_s: float = Field(default=30.0, ge=1, le=86400)
    checks: dict[Quantity, QuantityCheck] = Field(default_factory=dict)
    #: None: events wait in memory while the broker is away (bounded, counted when full)
    queue: QueueConfig | None = None


def load_sensor_config(path: Path | str, *, text: str | None = None) -> SensorGatewayConfig:
    """Load and validate a sensor gateway config file (or ``text`` named as ``path``)."""
    return load_yaml_model(SensorGatewayConfig, path, text=text)
