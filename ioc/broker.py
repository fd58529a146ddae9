"""An MQTT broker for the demo and the tests: Mosquitto when installed, else an embedded one.

Mosquitto runs with a config of its own on a free loopback port. Without Mosquitto
the embedded broker (amqtt, pure Python, about 5x slower) runs in a thread bound
to 127.0.0.1. amqtt has no shared subscriptions; :attr:`Broker.shared_subscriptions`
says whether a client may use ``$share/...`` filters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

logger = logging.getLogger(__name__)

BrokerKind = Literal["auto", "mosquitto", "embedded"]


class BrokerError(RuntimeError):
    """The broker could not be started."""


class Broker(Protocol):
    """What the demo and the tests need of a broker."""

    name: str
    host: str
    port: int
    shared_subscriptions: bool

    def start(self) -> None: ...

    def stop(self) -> None: ...


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float) -> bool:
    """Wait until something accepts TCP connections on ``host:port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return True
        time.sleep(0.02)
    return False


def find_mosquitto() -> str | None:
    """Path of the mosquitto executable (Debian installs it in /usr/sbin, off a user's PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class TlsListener:
    """A second, TLS listener: the CA, the broker's certificate and key (PEM files);
    ``port`` 0 picks a free one."""

    cafile: Path
    certfile: Path
    keyfile: Path
    port: int = 0


class MosquittoBroker:
    """A private Mosquitto: own config and data dir, loopback only, stopped with the process.

    ``persistence`` keeps sessions and queued QoS 1 messages across a restart of the
    broker (used by the tests that stop the broker mid-run). With ``password_file``
    anonymous clients are refused; ``acl_file`` limits topics per user (both as
    ``ioc provision`` writes them; :meth:`reload` makes Mosquitto re-read them);
    ``tls`` adds a TLS listener on :attr:`tls_port`."""

    name = "mosquitto"
    shared_subscriptions = True

    def __init__(
        self,
        workdir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        persistence: bool = False,
        executable: str | None = None,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        tls: TlsListener | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.host = host
        self.port = port or 0
        self.persistence = persistence
        self.executable = executable
        self.password_file = password_file
        self.acl_file = acl_file
        self.tls = tls
        self.tls_port = tls.port if tls is not None else 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.workdir / "mosquitto.log"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'false' if self.password_file else 'true'}",
            # Run as the invoking user even when that is root, so the data dir stays ours.
            f"user {os.environ.get('USER') or 'root'}" if os.geteuid() == 0 else "",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            # The default of 1000 silently drops QoS 1 messages to a slow subscriber.
            "max_queued_messages 0",
            # Without it the first messages after an idle spell stall ~40 ms (Nagle).
            "set_tcp_nodelay true",
            f"persistence {'true' if self.persistence else 'false'}",
        ]
        if self.persistence:
            lines.append(f"persistence_location {self.workdir}/")
            lines.append("autosave_interval 1")
        if self.password_file is not None:
            lines.append(f"password_file {Path(self.password_file).resolve()}")
        if self.acl_file is not None:
            lines.append(f"acl_file {Path(self.acl_file).resolve()}")
        if self.tls is not None:  # listener-specific lines follow their listener
            lines += [f"listener {self.tls_port} {self.host}",
                      f"cafile {Path(self.tls.cafile).resolve()}",
                      f"certfile {Path(self.tls.certfile).resolve()}",
                      f"keyfile {Path(self.tls.keyfile).resolve()}"]
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(line for line in lines if line) + "\n")
        return conf

    def start(self) -> None:
        """Start Mosquitto and wait until it accepts connections."""
        exe = self.executable or find_mosquitto()
        if exe is None:
            raise BrokerError("mosquitto is not installed (apt-get install -y mosquitto)")
        attempts = 1 if self.port else 3
        for _ in range(attempts):
            if not self.port or attempts > 1:
                self.port = free_port(self.host)
            if self.tls is not None and (not self.tls.port or attempts > 1):
                self.tls_port = free_port(self.host)
            conf = self._write_config()
            log = self._log_path.open("ab")
            self._proc = subprocess.Popen(
                [exe, "-c", str(conf)], stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
            log.close()
            if wait_for_port(self.host, self.port, 10.0) and (
                    self.tls is None or wait_for_port(self.host, self.tls_port, 10.0)):
                logger.info("mosquitto listening on %s:%s (pid %s)", self.host, self.port,
                            self._proc.pid)
                return
            self._terminate()
        tail = self._log_path.read_text(errors="replace")[-2000:]
        raise BrokerError(f"mosquitto did not start on {self.host}:{self.port}: {tail}")

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop(self) -> None:
        """Stop Mosquitto (a persistent one saves its state first)."""
        self._terminate()

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its password file and ACL and drops clients whose
        password no longer matches."""
        if self._proc is None or self._proc.poll() is not None:
            raise BrokerError("mosquitto is not running")
        self._proc.send_signal(signal.SIGHUP)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


class EmbeddedBroker:
    """amqtt running on its own event loop in a daemon thread, bound to loopback."""

    name = "embedded"
    shared_subscriptions = False

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: object | None = None

    def start(self) -> None:
        """Start the broker thread and wait until it accepts connections."""
        try:
            from amqtt.broker import Broker as AmqttBroker
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise BrokerError(
                "no broker available: install mosquitto or the [demo] extra (amqtt)"
            ) from exc
        self.port = self.port or free_port(self.host)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {
                "allow_anonymous": True}},
        }
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._broker = AmqttBroker(config, loop=loop)
                loop.run_until_complete(self._broker.start())  # type: ignore[attr-defined]
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="embedded-broker", daemon=True)
        self._thread.start()
        # amqtt's start() returns once the listener is bound; no probe connection needed.
        if not started.wait(15) or failure:
            raise BrokerError(f"embedded broker did not start on {self.host}:{self.port}: "
                              f"{failure[0] if failure else 'timeout'}")
        logger.info("embedded broker listening on %s:%s", self.host, self.port)

    def stop(self) -> None:
        """Stop the broker and its thread."""
        loop, broker = self._loop, self._broker
        if loop is None or broker is None:
            return
        fut = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            fut.result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = self._broker = None


def make_broker(kind: BrokerKind, workdir: Path, *, port: int | None = None) -> Broker:
    """The broker to use: Mosquitto when asked or installed, else the embedded one."""
    if kind == "mosquitto" or (kind == "auto" and find_mosquitto()):
        return MosquittoBroker(workdir, port=port)
    return EmbeddedBroker(port=port)
