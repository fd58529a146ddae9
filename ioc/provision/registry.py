"""The registry of broker accounts: every device and service, its site, rights and state.

A YAML file (``registry.yaml`` in the provisioning folder), validated like every
config (file, line, key on error). It keeps password *hashes* only: a password is
shown once, in the credentials file written when the account is made. Revoking an
account keeps its entry (who it was, when it was revoked) but takes it out of the
broker's password file and ACL.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, Field

from ioc.config import ConfigError, StrictModel, load_yaml_model
from ioc.contract import RESERVED_DEVICE_NAMES

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Role = Literal["device", "stream", "cloud", "monitor"]
GatewayKind = Literal["sensor", "camera"]
SERVICE_ROLES: tuple[str, ...] = ("stream", "cloud", "monitor")


_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def check_read_topic(topic: str) -> str:
    """A topic outside the contract a device may also read: one exact topic (a signal
    controller's). A line break would add lines of its own to the broker's ACL file, and a
    wildcard would open more than that topic."""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in topic):
        raise ValueError(f"topic {topic!r} has a space or control character")
    if "#" in topic or "+" in topic:
        raise ValueError(f"topic {topic!r} has a wildcard: give the exact topic")
    if topic.startswith("$") or "//" in topic or topic.startswith("/") or topic.endswith("/"):
        raise ValueError(f"topic {topic!r} is not a plain topic (no $SYS, no empty levels)")
    return topic


class ProvisionError(ValueError):
    """A provisioning request that cannot be done; the message says why and what to do."""


class Account(StrictModel):
    """One broker account: a gateway, or a service of the operations centre."""

    role: Role
    #: sites whose topics the account works on (a device has exactly one)
    sites: Annotated[list[Slug], Field(min_length=1)]
    #: devices only: what kind of gateway (decides which event kinds it may publish)
    gateway: GatewayKind | None = None
    password_hash: Annotated[str, Field(pattern=r"^\$7\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$")]
    created: datetime
    revoked: datetime | None = None
    #: topics outside the contract this account may also read (a signal controller's)
    extra_read: list[Annotated[str, Field(min_length=1, max_length=512),
                               AfterValidator(check_read_topic)]] = Field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.revoked is None


class Registry(StrictModel):
    """Every account, by user name."""

    version: Literal[1] = 1
    accounts: dict[Slug, Account] = Field(default_factory=dict)

    def active(self) -> dict[str, Account]:
        """Accounts that may connect, by name (sorted)."""
        return {n: a for n, a in sorted(self.accounts.items()) if a.active}

    def devices(self, site: str | None = None) -> dict[str, Account]:
        """Active device accounts (of one site)."""
        return {n: a for n, a in self.active().items()
                if a.role == "device" and (site is None or site in a.sites)}


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def check_device_name(name: str) -> None:
    """A device account name must be a topic-safe slug and not a service's."""
    if not _SLUG.fullmatch(name):  # '../x' wrote credentials outside --dir
        raise ProvisionError(f"{name!r} is not a device name: lower-case letters, digits,"
                             " '-' and '_', starting with a letter or digit, at most 63")
    if name in RESERVED_DEVICE_NAMES or name in SERVICE_ROLES:
        raise ProvisionError(f"{name!r} is reserved (services and topic families use it); "
                             "choose another device name")


def load_registry(path: Path) -> Registry:
    """The registry at ``path`` (an empty one when the file does not exist yet)."""
    if not path.exists():
        return Registry()
    return load_yaml_model(Registry, path)


def save_registry(registry: Registry, path: Path) -> None:
    """Write the registry atomically, readable by its owner only (it holds hashes)."""
    data = registry.model_dump(mode="json", exclude_defaults=False)
    write_private(path, "# Broker accounts: written by `ioc provision`, edit with it.\n"
                  + yaml.safe_dump(data, sort_keys=True, allow_unicode=True))


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` atomically with ``mode`` (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["Account", "ConfigError", "ProvisionError", "Registry", "load_registry",
           "save_registry"]
