"""``ioc broker``: start the project's broker on a loopback port (for trying parts by hand)."""

from __future__ import annotations

import argparse
import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("broker", help="run a local MQTT broker (Mosquitto, else embedded)")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--kind", choices=("auto", "mosquitto", "embedded"), default="auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ioc.broker import make_broker

    broker = make_broker(args.kind, Path(tempfile.mkdtemp(prefix="ioc-broker-")), port=args.port)
    broker.start()
    print(f"{broker.name} broker on {broker.host}:{broker.port}; Ctrl-C stops it", flush=True)
    done = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    done.wait()
    broker.stop()
    return 0
