"""Provisioning without a broker: hashes, the registry, the ACL each account gets, files."""

from __future__ import annotations

import grp
import stat
import subprocess
from pathlib import Path

import pytest

from ioc.config import ConfigError
from ioc.provision.accounts import Provisioner
from ioc.provision.acl import rights
from ioc.provision.passwd import mosquitto_hash, verify
from ioc.provision.registry import ProvisionError

# Written by Mosquitto 2.0.11's `mosquitto_passwd -b FILE u p`.
MOSQUITTO_HASH = ("$7$101$pZG1rpQPpy26L/t9$gL1+I7/Oydl78uRnrxA8TDmE1/bcN8ojJ5hF1PsMiY7iTJ83"
                  "530W0ug17Ug7e5+IO2O0qGS2J4QQrZiageMvXA==")


def test_hash_is_mosquittos_own_format() -> None:
    assert verify("p", MOSQUITTO_HASH)
    assert not verify("q", MOSQUITTO_HASH)
    ours = mosquitto_hash("s3cret")
    assert ours.startswith("$7$101$")
    assert verify("s3cret", ours)
    assert mosquitto_hash("s3cret") != ours  # a new salt each time


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def prov(tmp_path: Path) -> Provisioner:
    p = Provisioner(tmp_path / "prov")
    p.add_device("kimlong-01", site="hue", gateway="sensor")
    p.add_device("cam-hungvuong-01", site="hue", gateway="camera",
                 extra_read=["signals/hue/hungvuong"])
    p.add_service("stream", sites=["hue"])
    p.add_service("cloud", sites=["hue"])
    p.add_service("monitor", sites=["hue"])
    return p


@pytest.mark.parametrize(("name", "access", "topic", "granted"), [
    ("kimlong-01", "write", "ioc/v1/hue/kimlong-01/reading", True),
    ("kimlong-01", "write", "ioc/v1/hue/kimlong-01/status", True),
    ("kimlong-01", "write", "ioc/v1/hue/kimlong-01/plate", False),  # a sensor reads no plates
    ("kimlong-01", "write", "ioc/v1/hue/kimlong-01/config", False),  # nor writes its config
    ("kimlong-01", "read", "ioc/v1/hue/kimlong-01/config", True),
    ("kimlong-01", "read", "ioc/v1/hue/+/reading", False),
    ("cam-hungvuong-01", "write", "ioc/v1/hue/cam-hungvuong-01/violation", True),
    ("cam-hungvuong-01", "write", "ioc/v1/hue/cam-hungvuong-01/reading", False),
    ("cam-hungvuong-01", "read", "signals/hue/hungvuong", True),
    ("stream", "read", "ioc/v1/hue/+/reading", True),
    ("stream", "write", "ioc/v1/hue/alerts/#", True),
    ("stream", "write", "ioc/v1/hue/deadletter/#", True),
    ("stream", "read", "ioc/v1/hue/+/config", False),
    ("cloud", "write", "ioc/v1/hue/kimlong-01/config", True),
    ("cloud", "write", "ioc/v1/hue/cam-hungvuong-01/config", True),
    ("cloud", "read", "ioc/v1/hue/alerts/#", True),
    ("cloud", "read", "ioc/v1/hue/+/reading", False),
    ("monitor", "read", "ioc/v1/hue/+/heartbeat", True),
    ("monitor", "write", "ioc/v1/hue/alerts/#", False),
])
def test_each_account_gets_only_its_rights(prov: Provisioner, name: str, access: str,
                                           topic: str, granted: bool) -> None:
    registry = prov.registry()
    assert ((access, topic) in rights(name, registry.accounts[name], registry)) is granted
    line = f"topic {access} {topic}"
    block = prov.acl_path.read_text().split(f"user {name}\n")[1].split("\n\n")[0]
    assert (line in block.splitlines()) is granted


def test_files_hold_hashes_and_are_private(prov: Provisioner) -> None:
    registry = prov.registry()
    passwd = prov.passwd_path.read_text().splitlines()
    assert sorted(line.split(":")[0] for line in passwd) == sorted(registry.accounts)
    env = (prov.folder / "credentials" / "kimlong-01.env").read_text()
    password = env.split("IOC_MQTT_PASSWORD=")[1].strip()
    assert verify(password, registry.accounts["kimlong-01"].password_hash)
    assert password not in prov.registry_path.read_text()
    for path in (prov.registry_path, prov.folder / "credentials" / "kimlong-01.env",
                 prov.folder / "credentials" / "kimlong-01.password"):
        assert _mode(path) == 0o600, path
    for path in (prov.passwd_path, prov.acl_path):  # the broker's group may read them
        assert _mode(path) in (0o600, 0o640), path
        if _mode(path) == 0o640:
            assert grp.getgrgid(path.stat().st_gid).gr_name == "mosquitto"


def test_revoked_account_leaves_password_file_and_acl(prov: Provisioner) -> None:
    prov.revoke("kimlong-01")
    assert "kimlong-01:" not in prov.passwd_path.read_text()
    assert "kimlong-01" not in prov.acl_path.read_text()  # nor in the cloud's config rights
    assert not (prov.folder / "credentials" / "kimlong-01.env").exists()
    account = prov.registry().accounts["kimlong-01"]
    assert account.revoked is not None
    assert not account.active
    again = prov.add_device("kimlong-01", site="hue", gateway="sensor")  # re-enrolled
    assert verify(again.password, prov.registry().accounts["kimlong-01"].password_hash)


@pytest.mark.parametrize(("call", "error"), [
    (lambda p: p.add_device("kimlong-01", site="hue", gateway="sensor"),
     "already provisioned .*--rotate"),
    (lambda p: p.add_device("kimlong-01", site="danang", gateway="sensor", rotate=True),
     "belongs to site hue, not danang"),
    (lambda p: p.add_device("alerts", site="hue", gateway="sensor"), "'alerts' is reserved"),
    (lambda p: p.add_device("monitor", site="hue", gateway="sensor"), "'monitor' is reserved"),
    (lambda p: p.revoke("nobody"), "no account 'nobody' .known: cam-hungvuong-01, cloud"),
    (lambda p: p.add_service("stream", sites=["hue"]), "the stream account exists"),
    (lambda p: p.add_service("admin", sites=["hue"]), "unknown service 'admin'"),
    # a name that is no slug: '../../x' wrote its credentials outside the folder
    (lambda p: p.add_device("../../esc", site="hue", gateway="sensor"), "is not a device name"),
    (lambda p: p.add_device("Kimlong", site="hue", gateway="sensor"), "is not a device name"),
])
def test_refusals_say_why(prov: Provisioner, call, error: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProvisionError, match=error):
        call(prov)


@pytest.mark.parametrize(("topic", "error"), [
    ("x\ntopic readwrite #", "has a space or control character"),  # an ACL line of its own
    ("#", "has a wildcard"),
    ("signals/+/phase", "has a wildcard"),
    ("$SYS/broker", "not a plain topic"),
])
def test_a_read_topic_must_be_one_plain_topic(prov: Provisioner, topic: str,
                                               error: str) -> None:
    acl = prov.acl_path.read_text() if prov.acl_path.exists() else None
    with pytest.raises(ValueError, match=error):
        prov.add_device("signal-01", site="hue", gateway="camera", extra_read=[topic])
    assert "signal-01" not in prov.registry().accounts
    assert (prov.acl_path.read_text() if prov.acl_path.exists() else None) == acl
    prov.add_device("signal-01", site="hue", gateway="camera", extra_read=["signals/lequydon"])


@pytest.mark.parametrize("pid", [0, -1, 1])
def test_reload_never_signals_a_group_everyone_or_init(prov: Provisioner, pid: int) -> None:
    with pytest.raises(ProvisionError, match=f"pid {pid} is not a broker's"):
        prov.reload(pid)


def test_reload_refuses_a_pid_that_is_not_mosquitto(prov: Provisioner) -> None:
    import os

    with pytest.raises(ProvisionError, match=r"is 'python.*', not mosquitto: not signalled"):
        prov.reload(os.getpid())


def test_rotation_changes_the_password(prov: Provisioner) -> None:
    before = prov.registry().accounts["kimlong-01"].password_hash
    creds = prov.add_device("kimlong-01", site="hue", gateway="sensor", rotate=True)
    after = prov.registry().accounts["kimlong-01"].password_hash
    assert before != after
    assert verify(creds.password, after)


def test_a_damaged_registry_is_reported_with_its_line(prov: Provisioner) -> None:
    text = prov.registry_path.read_text().replace("role: stream", "role: streem")
    prov.registry_path.write_text(text)
    with pytest.raises(ConfigError) as info:
        prov.registry()
    line = text.splitlines().index("    role: streem") + 1
    assert str(info.value).startswith(
        f"{prov.registry_path}:{line}: accounts.stream.role: 'streem': Input should be")


def test_tls_material_is_a_ca_and_a_server_cert_for_the_hosts(tmp_path: Path) -> None:
    from ioc.provision.tls import TlsError, make_server_cert

    files = make_server_cert(tmp_path / "tls", ["broker.ioc.hue", "127.0.0.1"])
    text = subprocess.run(["openssl", "x509", "-in", str(files.server_cert), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert "DNS:broker.ioc.hue, IP Address:127.0.0.1" in text
    done = subprocess.run(["openssl", "verify", "-CAfile", str(files.ca_cert),
                           str(files.server_cert)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert _mode(files.ca_key) == 0o600
    ca_before = files.ca_cert.read_bytes()
    make_server_cert(tmp_path / "tls", ["localhost"])  # re-issued: the CA stays
    assert files.ca_cert.read_bytes() == ca_before
    pair = files.server_key.read_bytes(), files.server_cert.read_bytes()
    for hosts, days in (([""], 825), (["a,b"], 825), (["localhost"], 0)):
        with pytest.raises(TlsError):  # a failed issue had replaced the key, kept the cert
            make_server_cert(tmp_path / "tls", hosts, days=days)
        assert (files.server_key.read_bytes(), files.server_cert.read_bytes()) == pair
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == sorted(
        p.name for p in (tmp_path / "tls").iterdir() if not p.name.endswith(".new"))
