"""A local certificate authority and a broker certificate, made with the ``openssl`` tool.

For tests and for a city that has no PKI yet: ``ioc provision tls`` makes a CA
(``ca.crt``/``ca.key``) once, then a server certificate for the broker signed by
it, with every host name and IP address gateways use to reach the broker in its
subjectAltName (clients check it). The CA key stays in the provisioning folder
(mode 0600); gateways get ``ca.crt`` only. ``openssl`` is on every Debian
machine that runs Mosquitto, so no Python crypto package is needed.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


class TlsError(RuntimeError):
    """openssl is missing or refused; the message has its own words."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Where the CA and the broker's certificate are."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def tls_files(folder: Path) -> TlsFiles:
    """The file names used in ``folder``."""
    return TlsFiles(folder / "ca.crt", folder / "ca.key", folder / "server.crt",
                    folder / "server.key")


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise TlsError("openssl is not installed (apt-get install -y openssl)")
    done = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=60)
    if done.returncode != 0:
        raise TlsError(f"openssl {args[0]} failed: {done.stderr.strip()[-800:]}")


def subject_alt_names(hosts: list[str]) -> str:
    """``DNS:name`` / ``IP:address`` entries for openssl's subjectAltName."""
    out = []
    for host in hosts:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            out.append(f"DNS:{host}")
        else:
            out.append(f"IP:{host}")
    return ",".join(out)


def make_ca(folder: Path, *, name: str = "Hue IOC local CA", days: int = 3650) -> TlsFiles:
    """Create the CA in ``folder`` unless it exists (an existing CA is kept: gateways trust it)."""
    files = tls_files(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if files.ca_cert.exists() and files.ca_key.exists():
        return files
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", files.ca_key.name, "-out", files.ca_cert.name,
             "-days", str(days), "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    files.ca_key.chmod(0o600)
    logger.info("made CA %s", files.ca_cert)
    return files


def make_server_cert(folder: Path, hosts: list[str], *, days: int = 825) -> TlsFiles:
    """Issue (or re-issue) the broker's certificate for ``hosts``, signed by the CA."""
    if not hosts:
        raise TlsError("give at least one host name or address the broker is reached by")
    for host in hosts:  # openssl reads the list comma-separated: one host, one entry
        if not host or any(c in host for c in ", \t\n/\\") or len(host) > 253:
            raise TlsError(f"{host!r} is not a host name or address")
    if days < 1:
        raise TlsError(f"--days {days}: a certificate must be valid for at least a day")
    files = make_ca(folder)
    ext = folder / "server.ext"
    ext.write_text(f"subjectAltName={subject_alt_names(hosts)}\n"
                   "basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n")
    # the new key and certificate under other names first: a failed issue leaves the
    # running pair as it was (it had replaced the key and kept the old certificate)
    key_new, crt_new = f"{files.server_key.name}.new", f"{files.server_cert.name}.new"
    try:
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", key_new, "-out", "server.csr", "-subj", f"/CN={hosts[0]}",
                 cwd=folder)
        (folder / key_new).chmod(0o600)
        _openssl("x509", "-req", "-in", "server.csr", "-CA", files.ca_cert.name,
                 "-CAkey", files.ca_key.name, "-CAcreateserial", "-out", crt_new,
                 "-days", str(days), "-extfile", ext.name, cwd=folder)
        os.replace(folder / key_new, files.server_key)
        os.replace(folder / crt_new, files.server_cert)
    finally:
        for name in (key_new, crt_new, "server.csr"):
            (folder / name).unlink(missing_ok=True)
    logger.info("issued broker certificate %s for %s", files.server_cert, ", ".join(hosts))
    return files
