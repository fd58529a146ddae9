"""``ioc cloud serve``: the cloud API (police, operators, traffic officers, technicians)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("cloud", help="run the cloud HTTP API")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    s = verbs.add_parser("serve", help="serve the API (OpenAPI at /docs) until stopped")
    s.add_argument("config", type=Path, nargs="?", default=None,
                   help="cloud config (default: the shipped cloud/defaults.yaml)")
    s.add_argument("--host", default=None, help="override listen.host")
    s.add_argument("--port", type=int, default=None, help="override listen.port (0: any free)")
    s.set_defaults(func=serve)
    c = verbs.add_parser("check-config", help="validate a cloud config file and its secrets")
    c.add_argument("config", type=Path)
    c.set_defaults(func=check)


def _load(path: Path | None):  # type: ignore[no-untyped-def]
    from cloud.config import load_cloud_config

    return load_cloud_config(path)


def check(args: argparse.Namespace) -> int:
    from cloud.api.auth import TokenTable
    from cloud.config import SecretError
    from cloud.notify.factory import notifiers_from_config
    from ioc.config import ConfigError

    try:
        config = _load(args.config)
        TokenTable.from_config(config.users)
        notifiers_from_config(config.notify)
    except (ConfigError, SecretError, ValueError) as exc:
        print(exc)
        return 1
    print(f"{args.config}: ok ({len(config.users)} users, store {config.store.backend})")
    return 0


def serve(args: argparse.Namespace) -> int:
    from cloud.api.server import CloudServer
    from cloud.config import SecretError
    from cloud.stores.db import DatabaseError
    from ioc.config import ConfigError

    try:
        config = _load(args.config)
    except ConfigError as exc:
        print(exc)
        return 1
    server = CloudServer(config, host=args.host or config.listen.host, port=args.port)
    try:
        server.start()
    except (SecretError, DatabaseError, OSError, ValueError, RuntimeError) as exc:
        print(f"cannot start the cloud API: {exc}")
        return 1
    print(f"cloud API on {server.url} (OpenAPI: {server.url}/docs); Ctrl-C stops", flush=True)
    done = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: stopping", signum)
        done.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not done.wait(0.5):
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        server.stop()
    return 0
