"""The gateway's systemd unit (deploy/systemd/ioc-edge@.service): the keys a field install
relies on, systemd's own verdict on it, and its commands run against a shipped config."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "ioc-edge@.service"
VENV_IOC = "/opt/hue-ioc/.venv/bin/ioc"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


@pytest.mark.parametrize(("section", "key", "value"), [
    ("Service", "Restart", "on-failure"),
    ("Service", "User", "ioc-edge"),
    ("Service", "StateDirectory", "ioc-edge/%i"),
    ("Service", "WorkingDirectory", "/var/lib/ioc-edge/%i"),
    ("Service", "EnvironmentFile", "/etc/ioc-edge/%i.env"),
    ("Service", "ExecStart", f"{VENV_IOC} -v edge run /etc/ioc-edge/%i.yaml"),
    ("Service", "ExecStartPre", f"{VENV_IOC} edge validate /etc/ioc-edge/%i.yaml"),
    ("Service", "KillSignal", "SIGTERM"),
    ("Service", "NoNewPrivileges", "yes"),
    ("Unit", "After", "network-online.target time-sync.target"),
    ("Install", "WantedBy", "multi-user.target"),
])
def test_unit_has_what_a_gateway_relies_on(section: str, key: str, value: str) -> None:
    assert _unit()[section][key] == value


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze is not installed here (the key checks above still ran)")
    ioc = Path(sys.executable).with_name("ioc")
    unit = tmp_path / "ioc-edge@kimlong-modbus-01.service"
    unit.write_text(UNIT.read_text().replace(VENV_IOC, str(ioc)))
    done = subprocess.run([exe, "verify", str(unit)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    # unknown keys and bad values are only warnings for systemd: none may appear
    assert unit.name not in done.stderr, done.stderr


def test_the_units_commands_work_on_a_shipped_config(tmp_path: Path) -> None:
    ioc = Path(sys.executable).with_name("ioc")
    etc = tmp_path / "etc"
    etc.mkdir()
    shutil.copy(ROOT / "firmware_configs" / "hue" / "kimlong-modbus-01.yaml",
                etc / "kimlong-modbus-01.yaml")
    line = _unit()["Service"]["ExecStartPre"].replace("%i", "kimlong-modbus-01")
    argv = [a.replace(VENV_IOC, str(ioc)).replace("/etc/ioc-edge", str(etc))
            for a in shlex.split(line)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, f"{etc}/kimlong-modbus-01.yaml: ok")
    (etc / "kimlong-modbus-01.yaml").write_text(
        (etc / "kimlong-modbus-01.yaml").read_text().replace("heartbeat_s: 30", "heartbeat: 30"))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert ": heartbeat: 30: unknown key (a typo?); did you mean 'heartbeat_s'?" in done.stdout
