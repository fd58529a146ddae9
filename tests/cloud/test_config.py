"""The cloud config: shipped defaults load, errors name file:line:key, secrets only by reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.api.auth import TokenTable
from cloud.config import CloudConfig, SecretError, UserConfig, load_cloud_config, resolve_secret
from ioc.config import ConfigError


def test_shipped_defaults_load() -> None:
    config = load_cloud_config()
    assert {u.role for u in config.users} == {"police", "flood_operator", "traffic_officer",
                                              "technician", "admin"}
    assert all(u.token_env for u in config.users)
    assert config.store.backend == "sqlite"


@pytest.mark.parametrize(("text", "where"), [
    ("users:\n  - {name: a, role: police, token: abc}\n",
     "c.yaml:2: users.0.token: 'abc': unknown key (a typo?)"),
    ("users:\n  - {name: a, role: sheriff, token_env: T}\n", "c.yaml:2: users.0.role: 'sheriff'"),
    ("users:\n  - {name: a, role: police}\n",
     "c.yaml:2: users.0: {'name': 'a', 'role': 'police'}: token must be given by reference"),
    ("users:\n  - {name: a, role: police, token_env: T, token_file: /x}\n",
     "give token_env or token_file, not both"),
    ("store:\n  backend: postgres\n", "c.yaml:1: store: {'backend': 'postgres'}:"
     " postgres_dsn must be given by reference"),
    ("retention:\n  plate_reads_days: 0\n",
     "c.yaml:2: retention.plate_reads_days: 0: Input should be greater than 0"),
    ("users:\n  - {name: a, role: police, token_env: T}\n  - {name: a, role: admin,"
     " token_env: U}\n", "user names must be unique; repeated: a"),
    ("notify:\n  webhooks:\n    - {name: w, url: 'ftp://x'}\n",
     "c.yaml:3: notify.webhooks.0.url: 'ftp://x'"),
    # URLs no request can be sent to passed, then failed every alert max_attempts times
    ("notify:\n  webhooks:\n    - {name: w, url: 'http://127.0.0.1:99999/x'}\n",
     "c.yaml:3: notify.webhooks.0.url: 'http://127.0.0.1:99999/x': 'http://127.0.0.1:99999/x':"
     " Port out of range"),
    ("notify:\n  webhooks:\n    - {name: w, url: 'http:///nohost'}\n",
     "is not an http(s) URL with a host"),
    ("notify:\n  text:\n    - {name: t, url: 'http://[::1/x', recipients: ['+84']}\n",
     "c.yaml:3: notify.text.0.url: 'http://[::1/x'"),
    ("notify:\n  mqtt:\n    - {name: m, host: ''}\n",
     "c.yaml:3: notify.mqtt.0.host: '': String should have at least 1 character"),
    ("notify:\n  mqtt:\n    - {name: m, host: h, tls_ca_file: /nope/ca.pem}\n",
     "tls_ca_file /nope/ca.pem is not a readable file"),
    ("notify:\n  retry: {first_delay_s: 900, max_delay_s: 1}\n",
     "max_delay_s 1 is below first_delay_s 900"),
])
def test_errors_name_file_line_key(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_cloud_config(path)
    assert where in str(info.value).replace(str(tmp_path) + "/", "")


def test_secrets_by_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_T", " from-env-0123456789 \n")
    assert resolve_secret("IOC_T", None, "x") == "from-env-0123456789"
    (tmp_path / "tok").write_text("from-file-0123456789\n")
    assert resolve_secret(None, tmp_path / "tok", "x") == "from-file-0123456789"
    monkeypatch.delenv("IOC_MISSING", raising=False)
    with pytest.raises(SecretError, match=r"users\.a\.token: environment variable IOC_MISSING"):
        resolve_secret("IOC_MISSING", None, "users.a.token")
    with pytest.raises(SecretError, match=r"cannot read .*nope"):
        resolve_secret(None, tmp_path / "nope", "users.a.token")
    monkeypatch.setenv("IOC_BLANK", "   ")  # a webhook's HMAC secret: signing was off
    with pytest.raises(SecretError, match=r"IOC_BLANK is not set or blank"):
        resolve_secret("IOC_BLANK", None, "notify.webhooks.w.secret")
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    with pytest.raises(SecretError, match=r"x: .*bin is not UTF-8 text"):
        resolve_secret(None, tmp_path / "bin", "x")


def test_tokens_must_be_long_and_distinct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T1", "short")
    with pytest.raises(ValueError, match="at least 16"):
        TokenTable.from_config([UserConfig(name="a", role="police", token_env="T1")])
    monkeypatch.setenv("T1", "same-token-0123456789")
    monkeypatch.setenv("T2", "same-token-0123456789")
    with pytest.raises(ValueError, match="users a and b have the same token"):
        TokenTable.from_config(CloudConfig(users=[
            UserConfig(name="a", role="police", token_env="T1"),
            UserConfig(name="b", role="admin", token_env="T2")]).users)
