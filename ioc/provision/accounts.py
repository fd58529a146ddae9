"""Making, rotating and revoking broker accounts, and writing what Mosquitto reads.

:class:`Provisioner` works on one folder::

    registry.yaml              accounts (hashes only), see ioc.provision.registry
    mosquitto/passwd           password_file  (user:$7$...)
    mosquitto/acl              acl_file       (see ioc.provision.acl)
    mosquitto/ioc.conf         a Mosquitto config using both (+ the TLS listener)
    credentials/NAME.env       IOC_MQTT_USERNAME / IOC_MQTT_PASSWORD, mode 0600
    credentials/NAME.password  the password alone, mode 0600 (for password_file)
    tls/                       CA and broker certificate (ioc provision tls)

Every change rewrites the broker files from the registry and, when a Mosquitto
started with ``ioc.conf`` is running (its pid file), sends it SIGHUP: Mosquitto
re-reads both files and disconnects clients whose password no longer matches.
"""

from __future__ import annotations

import grp
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from ioc.provision.acl import render_acl, render_passwords
from ioc.provision.passwd import mosquitto_hash, new_password
from ioc.provision.registry import (
    SERVICE_ROLES,
    Account,
    GatewayKind,
    ProvisionError,
    Registry,
    check_device_name,
    load_registry,
    now,
    save_registry,
    write_private,
)
from ioc.provision.tls import tls_files

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Credentials:
    """A new account's password, and the files that carry it to where it is used."""

    name: str
    password: str
    env_file: Path
    password_file: Path


def share_with_broker(path: Path, mode: int) -> None:
    """Let the ``mosquitto`` group read ``path``: Mosquitto started as root drops to that
    user before it reads the password file and ACL (and again on every reload). Nothing
    happens when we are not root or there is no such group (a test broker runs as us)."""
    if os.geteuid() != 0 or not path.exists():
        return
    try:
        gid = grp.getgrnam("mosquitto").gr_gid
    except KeyError:
        return
    os.chown(path, 0, gid)
    path.chmod(mode)


class Provisioner:
    """Accounts of one provisioning folder; no I/O until a method is called."""

    def __init__(self, folder: Path | str, *, plain_port: int = 1883,
                 tls_port: int = 8883) -> None:
        self.folder = Path(folder)
        self.registry_path = self.folder / "registry.yaml"
        self.passwd_path = self.folder / "mosquitto" / "passwd"
        self.acl_path = self.folder / "mosquitto" / "acl"
        self.conf_path = self.folder / "mosquitto" / "ioc.conf"
        self.pid_path = self.folder / "mosquitto" / "mosquitto.pid"
        self.tls_dir = self.folder / "tls"
        self.plain_port = plain_port
        self.tls_port = tls_port

    def registry(self) -> Registry:
        """The registry as it is on disk."""
        return load_registry(self.registry_path)

    # --- changes ---------------------------------------------------------------------

    def add_device(self, name: str, *, site: str, gateway: GatewayKind,
                   extra_read: list[str] | None = None, rotate: bool = False) -> Credentials:
        """Register a gateway (or give an existing one a new password with ``rotate``)."""
        check_device_name(name)
        registry = self.registry()
        old = registry.accounts.get(name)
        if old is not None and old.role != "device":
            raise ProvisionError(f"{name!r} is the {old.role} service's account")
        if old is not None and old.active and not rotate:
            raise ProvisionError(f"device {name!r} is already provisioned (site "
                                 f"{old.sites[0]}); --rotate gives it a new password")
        if old is not None and old.sites != [site]:
            raise ProvisionError(f"device {name!r} belongs to site {old.sites[0]}, not {site}")
        return self._put(registry, name, role="device", sites=[site], gateway=gateway,
                         extra_read=list(extra_read or (old.extra_read if old else [])))

    def add_service(self, role: str, *, sites: list[str], rotate: bool = False) -> Credentials:
        """The account of the stream, the cloud or a monitor (its user name is the role)."""
        if role not in SERVICE_ROLES:
            raise ProvisionError(f"unknown service {role!r} (known: {', '.join(SERVICE_ROLES)})")
        registry = self.registry()
        old = registry.accounts.get(role)
        if old is not None and old.active and not rotate:
            raise ProvisionError(f"the {role} account exists; --rotate gives it a new password")
        return self._put(registry, role, role=role, sites=sorted(set(sites)))

    def revoke(self, name: str) -> Account:
        """Lock an account out: it leaves the password file and the ACL; the broker is reloaded
        so a connected client is disconnected."""
        registry = self.registry()
        account = registry.accounts.get(name)
        if account is None:
            known = ", ".join(registry.accounts) or "none"
            raise ProvisionError(f"no account {name!r} (known: {known})")
        if not account.active:
            raise ProvisionError(f"{name!r} was already revoked on {account.revoked}")
        account = account.model_copy(update={"revoked": now()})
        registry = registry.model_copy(update={"accounts": {**registry.accounts,
                                                            name: account}})
        self._commit(registry)
        for suffix in (".env", ".password"):  # a dead password is no use to anyone
            (self.folder / "credentials" / f"{name}{suffix}").unlink(missing_ok=True)
        return account

    def _put(self, registry: Registry, name: str, **fields: object) -> Credentials:
        password = new_password()
        account = Account.model_validate({**fields, "password_hash": mosquitto_hash(password),
                                          "created": now()})
        registry = registry.model_copy(update={"accounts": {**registry.accounts,
                                                            name: account}})
        creds = self._write_credentials(name, password)
        self._commit(registry)
        return creds

    def _write_credentials(self, name: str, password: str) -> Credentials:
        folder = self.folder / "credentials"
        env = folder / f"{name}.env"
        write_private(env, f"# MQTT account {name}: copy to the gateway (mode 0600) and "
                           f"name it in the service's EnvironmentFile.\n"
                           f"IOC_MQTT_USERNAME={name}\nIOC_MQTT_PASSWORD={password}\n")
        single = folder / f"{name}.password"
        write_private(single, password + "\n")
        return Credentials(name, password, env, single)

    def _commit(self, registry: Registry) -> None:
        save_registry(registry, self.registry_path)
        self.write_broker_files(registry)

    # --- broker files ----------------------------------------------------------------

    def write_broker_files(self, registry: Registry | None = None) -> None:
        """Rewrite Mosquitto's password file, ACL and config snippet from the registry."""
        registry = registry if registry is not None else self.registry()
        write_private(self.passwd_path, render_passwords(registry))
        write_private(self.acl_path, render_acl(registry))
        write_private(self.conf_path, self.render_conf(), mode=0o644)
        share_with_broker(self.passwd_path.parent, 0o770)  # it writes its pid file there
        for path in (self.passwd_path, self.acl_path, tls_files(self.tls_dir).server_key):
            share_with_broker(path, 0o640)

    def render_conf(self) -> str:
        """A Mosquitto config: no anonymous clients, the password file and ACL, a plain
        listener on loopback (stream and cloud on the broker's host), and a TLS listener
        for gateways once ``ioc provision tls`` has made the certificates."""
        lines = ["# Mosquitto config written by `ioc provision`; include or copy it.",
                 "per_listener_settings false", "allow_anonymous false",
                 f"password_file {self.passwd_path.resolve()}",
                 f"acl_file {self.acl_path.resolve()}",
                 f"pid_file {self.pid_path.resolve()}",
                 "max_queued_messages 0", "set_tcp_nodelay true", "",
                 f"listener {self.plain_port} 127.0.0.1"]
        tls = tls_files(self.tls_dir)
        if tls.server_cert.exists():
            lines += ["", f"listener {self.tls_port}", f"cafile {tls.ca_cert.resolve()}",
                      f"certfile {tls.server_cert.resolve()}",
                      f"keyfile {tls.server_key.resolve()}", "tls_version tlsv1.2"]
        return "\n".join(lines) + "\n"

    def reload(self, pid: int | None = None) -> int | None:
        """SIGHUP the broker (``pid``, else the one whose pid file ``ioc.conf`` names);
        the pid signalled, or None when none is running."""
        if pid is None:
            try:
                pid = int(self.pid_path.read_text().strip())
            except (OSError, ValueError):
                return None
        if pid <= 1:  # 0, -1 and 1 signal a process group, every process, or init
            raise ProvisionError(f"pid {pid} is not a broker's: give mosquitto's pid")
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            comm = None  # gone (handled below), or no /proc to ask
        if comm is not None and comm != "mosquitto":
            raise ProvisionError(f"pid {pid} is {comm!r}, not mosquitto: not signalled (a stale"
                                 f" pid file, {self.pid_path}?)")
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            logger.warning("mosquitto pid %d is not running; restart it to apply", pid)
            return None
        except PermissionError:
            raise ProvisionError(f"not allowed to signal mosquitto (pid {pid}): run as its"
                                 " user or root") from None
        logger.info("mosquitto (pid %d) reloads its password file and ACL", pid)
        return pid
