"""``ioc provision`` from the command line: what it prints, exit codes, a broker reload."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ioc.cli import main


def _run(capsys: pytest.CaptureFixture[str], folder: Path, *argv: str) -> tuple[int, str]:
    code = main(["provision", "--dir", str(folder), *argv])
    return code, capsys.readouterr().out


def test_add_list_acl_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "prov"
    code, out = _run(capsys, folder, "add", "kimlong-01", "--site", "hue", "--kind", "sensor")
    assert code == 0
    assert out.startswith(f"kimlong-01: account created; credentials in {folder}/credentials/"
                          "kimlong-01.env (mode 0600)")
    assert "no running mosquitto found" in out
    code, out = _run(capsys, folder, "add", "kimlong-01", "--site", "hue", "--kind", "sensor")
    assert (code, out.strip()) == (1, "ioc provision add: device 'kimlong-01' is already "
                                      "provisioned (site hue); --rotate gives it a new password")
    assert _run(capsys, folder, "service", "stream", "--site", "hue")[0] == 0
    code, out = _run(capsys, folder, "acl")
    assert out.splitlines()[:3] == ["kimlong-01 (device)",
                                    "  write  ioc/v1/hue/kimlong-01/reading",
                                    "  write  ioc/v1/hue/kimlong-01/status"]
    assert "stream (stream)" in out
    assert _run(capsys, folder, "revoke", "kimlong-01")[0] == 0
    code, out = _run(capsys, folder, "list")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "KIND", "SITES", "STATE", "CREATED", "REVOKED"]
    assert lines[1].split()[:5] == ["kimlong-01", "device", "sensor", "hue", "revoked"]
    assert lines[2].split()[:5] == ["stream", "stream", "-", "hue", "active"]
    code, out = _run(capsys, folder, "revoke", "nobody")
    assert (code, out.strip()) == (1, "ioc provision revoke: no account 'nobody' (known: "
                                      "kimlong-01, stream)")


def test_a_change_reloads_the_running_broker(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    # a stand-in process that counts SIGHUPs the way Mosquitto receives them, named as it
    # (only a process called mosquitto is signalled)
    proc = subprocess.Popen([sys.executable, "-c", (
        "import signal, sys, time\n"
        "open('/proc/self/comm', 'w').write('mosquitto')\n"
        "signal.signal(signal.SIGHUP, lambda *a: print('HUP', flush=True))\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        folder = tmp_path / "prov"
        code, out = _run(capsys, folder, "--pid", str(proc.pid), "add", "kimlong-01",
                         "--site", "hue", "--kind", "sensor")
        assert code == 0
        assert f"mosquitto (pid {proc.pid}) reloaded" in out
        assert proc.stdout.readline().strip() == "HUP"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
