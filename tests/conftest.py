"""Shared fixtures: a private Mosquitto per test, and caches kept out of $HOME."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ioc.broker import MosquittoBroker, find_mosquitto


@pytest.fixture(autouse=True, scope="session")
def _private_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """onnxruntime, matplotlib and friends write caches under $HOME: keep them in tmp."""
    home = tmp_path_factory.mktemp("home")
    os.environ["HOME"] = str(home)
    os.environ["MPLCONFIGDIR"] = str(home / "mpl")


def _mosquitto(workdir: Path, *, persistence: bool) -> Iterator[MosquittoBroker]:
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run scripts/setup.sh (apt-get install mosquitto)")
    broker = MosquittoBroker(workdir, persistence=persistence)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A real Mosquitto on a free loopback port, stopped after the test."""
    yield from _mosquitto(tmp_path / "mosquitto", persistence=False)


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A real Mosquitto that keeps sessions and queued messages across its own restart."""
    yield from _mosquitto(tmp_path / "broker", persistence=True)


class VictoriaMetrics:
    """Debian's victoria-metrics on a free loopback port: it accepts the InfluxDB v2 write
    API unchanged (``measurement_field`` becomes the metric name, tags become labels)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = shutil.which("victoria-metrics")
        if exe is None:
            pytest.fail("victoria-metrics is not installed: run scripts/setup.sh"
                        " (apt-get install victoria-metrics)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        with (self.workdir / "vm.log").open("wb") as log:
            self.proc = subprocess.Popen(
                [exe, f"-httpListenAddr=127.0.0.1:{self.port}",
                 f"-storageDataPath={self.workdir / 'data'}", "-retentionPeriod=100y",
                 "-dedup.minScrapeInterval=1ms", "-search.latencyOffset=0s"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        log_text = (self.workdir / "vm.log").read_text()
        raise RuntimeError(f"victoria-metrics did not start:\n{log_text}")

    def export(self, match: str = '{__name__!=""}') -> list[dict]:
        """Every stored series with its samples (after a forced flush)."""
        urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10).read()
        query = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=30) as r:
            return [json.loads(line) for line in r.read().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A real VictoriaMetrics (InfluxDB v2 write API) on a free loopback port."""
    vm = VictoriaMetrics(tmp_path / "vm")
    vm.start()
    yield vm
    vm.stop()
