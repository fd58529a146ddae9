"""``ioc stream run``: the dataflow as a long-running service."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("stream", help="run the Bytewax dataflow")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    r = verbs.add_parser("run", help="validate, aggregate, store and alert until stopped")
    r.add_argument("--config", type=Path, default=None, help="stream config (default: shipped)")
    r.add_argument("--mqtt-host", default=None, help="override mqtt.host")
    r.add_argument("--mqtt-port", type=int, default=None, help="override mqtt.port")
    r.add_argument("-w", "--workers", type=int, default=1, help="worker threads (default 1)")
    r.add_argument("-i", "--process-id", type=int, default=None,
                   help="this process's index in a cluster (with -a)")
    r.add_argument("-a", "--addresses", default=None,
                   help="cluster: every process's host:port, separated by ';'")
    r.add_argument("--partitions", type=int, default=None,
                   help="override partitions (MQTT source partitions, spread over workers)")
    r.add_argument("--recovery-dir", type=Path, default=None,
                   help="override recovery.dir: turn on Bytewax recovery and the input log")
    r.set_defaults(func=run)
    c = verbs.add_parser("check-config", help="validate a stream config file")
    c.add_argument("config", type=Path)
    c.set_defaults(func=check)


def _load(path: Path | None):  # type: ignore[no-untyped-def]
    from stream.config import load_config

    return load_config(path)


def check(args: argparse.Namespace) -> int:
    from ioc.config import ConfigError

    try:
        _load(args.config)
    except ConfigError as exc:
        print(exc)
        return 1
    print(f"{args.config}: ok")
    return 0


def run(args: argparse.Namespace) -> int:
    from ioc.config import ConfigError
    from stream.runner import run_foreground

    try:
        config = _load(args.config)
    except ConfigError as exc:
        print(exc)
        return 1
    mqtt = {k: v for k, v in (("host", args.mqtt_host), ("port", args.mqtt_port)) if v}
    if mqtt:
        config = config.model_copy(update={"mqtt": config.mqtt.model_copy(update=mqtt)})
    if args.partitions:
        config = config.model_copy(update={"partitions": args.partitions})
    if args.recovery_dir:
        config = config.model_copy(
            update={"recovery": config.recovery.model_copy(update={"dir": args.recovery_dir})})
    addresses = args.addresses.split(";") if args.addresses else None
    if (addresses is None) != (args.process_id is None):
        print("stream run: -a/--addresses and -i/--process-id go together")
        return 2
    return run_foreground(config, workers=args.workers, process_id=args.process_id,
                          addresses=addresses)
