"""The cloud server: the API under uvicorn in a thread, the notification dispatcher, the
retention timer. ``ioc demo`` embeds it; ``ioc cloud serve`` runs it in the foreground.

``start()`` resolves the tokens and secrets, opens the stores (and checks the
database answers), binds the socket (port 0: a free one, read back as
:attr:`CloudServer.url`), and returns once uvicorn accepts connections.
``stop()`` ends the live streams, uvicorn, the dispatcher and the timer, in that
order, and closes the stores.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from cloud.api.app import create_app
from cloud.api.auth import TokenTable
from cloud.api.context import ApiContext
from cloud.config import ROLES, CloudConfig, StoreSettings, UserConfig
from cloud.notify.dispatcher import Dispatcher
from cloud.notify.factory import notifiers_from_config
from cloud.stores.bundle import CloudStores, open_stores

logger = logging.getLogger(__name__)


class CloudServer:
    """One running cloud API with its background work."""

    def __init__(self, config: CloudConfig, *, host: str = "127.0.0.1",
                 port: int | None = None) -> None:
        self.config = config
        self.host = host
        self.port = config.listen.port if port is None else port
        self.ctx: ApiContext | None = None
        self.app: FastAPI | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._dispatcher: Dispatcher | None = None
        self._retention_stop = threading.Event()
        self._retention: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (the real port once started)."""
        return f"http://{self.host}:{self.port}"

    @property
    def stores(self) -> CloudStores:
        """The stores of the running server."""
        if self.ctx is None:
            raise RuntimeError("the cloud server is not started")
        return self.ctx.stores

    def start(self) -> None:
        """Start everything; raises SecretError, DatabaseError or OSError naming the problem."""
        tokens = TokenTable.from_config(self.config.users)
        notifiers = notifiers_from_config(self.config.notify)
        stores = open_stores(self.config.store,
                             stale_after_s=self.config.limits.device_stale_after_s)
        stores.db.query("SELECT 1")  # an unreachable database fails here, not on first request
        self.ctx = ApiContext(self.config, stores, tokens)
        # IPPROTO_TCP spelled out: asyncio turns Nagle off only on sockets whose proto says
        # TCP, and without that every keep-alive response waits ~40 ms for a delayed ACK
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            stores.close_all()
            raise OSError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        sock.listen(128)
        self.port = int(sock.getsockname()[1])
        self.app = create_app(self.ctx)
        config = uvicorn.Config(self.app, log_config=None, access_log=False,
                                lifespan="off", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="ioc-cloud-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the API server did not start on {self.url}")
            time.sleep(0.02)
        self._dispatcher = Dispatcher(stores.db, notifiers, self.config.notify.retry,
                                      poll_s=self.config.notify.poll_s)
        self._dispatcher.start()
        if self.config.retention.interval_s > 0:
            self._retention_stop.clear()
            self._retention = threading.Thread(target=self._retention_loop,
                                               name="ioc-retention", daemon=True)
            self._retention.start()
        logger.info("cloud API on %s (docs at %s/docs)", self.url, self.url)

    def purge(self) -> None:
        """One retention purge now, recorded in the audit log as the system's."""
        if self.ctx is None:
            raise RuntimeError("the cloud server is not started")
        cfg = self.config.retention
        result = self.ctx.retention().purge(datetime.now(UTC))
        self.ctx.stores.audit.record(actor="retention", role="system", action="retention.purge",
                            target={"plate_reads_days": cfg.plate_reads_days,
                                    "evidence_days": cfg.evidence_days},
                            result_count=result.plate_reads + result.hit_plate_reads
                            + result.violations)

    def _retention_loop(self) -> None:
        while not self._retention_stop.is_set():
            try:
                self.purge()
            except Exception:  # the next round tries again; the API keeps serving
                logger.exception("retention purge failed")
            self._retention_stop.wait(self.config.retention.interval_s)
        self.stores.db.close()

    def stop(self) -> None:
        """Stop in reverse order of start; safe to call twice."""
        if self.ctx is not None:
            self.ctx.stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():
                logger.warning("the API server thread did not end within 10 s")
            self._thread = None
        if self._dispatcher is not None:
            self._dispatcher.stop()
            self._dispatcher = None
        self._retention_stop.set()
        if self._retention is not None:
            self._retention.join(30)
            self._retention = None
        if self.ctx is not None:
            self.ctx.stores.close_all()
        self._server = None

    def __enter__(self) -> CloudServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def local_config(data_dir: Path, *, site: str = "hue") -> tuple[CloudConfig, dict[str, str]]:
    """A config for one machine (the demo): the stores in ``data_dir`` (the events file the
    stream writes is ``data_dir/events.sqlite``), port 0, and one user per role
    (``<role>-demo``) whose fresh random token is written to ``data_dir/tokens/<role>``
    (mode 0600) and referenced by file. Returns the config and the tokens by role."""
    folder = data_dir / "tokens"
    folder.mkdir(parents=True, exist_ok=True)
    tokens: dict[str, str] = {}
    users: list[UserConfig] = []
    for role in ROLES:
        token = secrets.token_urlsafe(24)
        path = folder / role
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token)
        tokens[role] = token
        users.append(UserConfig(name=f"{role.replace('_', '-')}-demo", role=role,
                                token_file=path))
    store = StoreSettings(events_path=data_dir / "events.sqlite",
                          timeseries_path=data_dir / "timeseries.sqlite",
                          evidence_dir=data_dir / "evidence")
    config = CloudConfig(site=site, store=store, users=users, listen={"port": 0})
    return config, tokens
