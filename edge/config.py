"""Typed config of a sensor gateway (one YAML file per gateway in ``firmware_configs/``).

Secrets are never in the file: the broker password is named by an environment
variable (``password_env``) and read when the agent starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from edge.disk_queue import DiskQueue, FullPolicy
from edge.publisher import BrokerAddress
from ioc.config import StrictModel, load_yaml_model

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class BrokerConfig(StrictModel):
    """Where the gateway publishes, and as whom."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)

    def address(self) -> BrokerAddress:
        """The broker address with the password read from its environment variable."""
        password = None
        if self.password_env is not None:
            password = os.environ.get(self.password_env)
            if password is None:
                raise ValueError(f"broker.password_env: environment variable "
                                 f"{self.password_env} is not set")
        return BrokerAddress(self.host, self.port, self.username, password, self.keepalive_s)


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


DriverConfig = Annotated[ScenarioDriverConfig, Field(discriminator="type")]


class SensorGatewayConfig(StrictModel):
    """A river-level, rain or air-quality gateway."""

    kind: Literal["sensor_gateway"]
    version: int = Field(default=1, ge=1)
    site: Slug
    device: Slug
    broker: BrokerConfig = BrokerConfig()
    driver: DriverConfig
    poll_interval_s: float = Field(default=1.0, gt=0, le=3600)
    heartbeat_s: float = Field(default=30.0, ge=1, le=86400)
    #: None: events wait in memory while the broker is away (bounded, counted when full)
    queue: QueueConfig | None = None


def load_sensor_config(path: Path | str) -> SensorGatewayConfig:
    """Load and validate a sensor gateway config file."""
    return load_yaml_model(SensorGatewayConfig, path)
