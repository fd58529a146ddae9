"""``ioc stream run``: the dataflow as a long-running service."""

from __future__ import annotations

import argparse
from pathlib import Path


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and 256")
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("stream", help="run the Bytewax dataflow")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    r = verbs.add_parser("run", help="validate, aggregate, store and alert until stopped")
    r.add_argument("--config", type=Path, default=None, help="stream config (default: shipped)")
    r.add_argument("--mqtt-host", default=None, help="override mqtt.host")
    r.add_argument("--mqtt-port", type=int, default=None, help="override mqtt.port")
    r.add_argument("-w", "--workers", type=_positive, default=1,
                   help="worker threads (default 1)")
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


def _load(path: Path | None, overrides: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    """The config with the command line's overrides, validated, and every problem that
    would stop it running (:func:`stream.config.preflight`) raised as a ValueError."""
    from ioc.config import validate_data
    from stream.config import StreamConfig, load_config, preflight

    config = load_config(path)
    if overrides:
        data = config.model_dump()
        for key, value in overrides.items():
            section, _, name = key.rpartition(".")
            (data[section] if section else data)[name] = value
        config = validate_data(StreamConfig, data, "command line", {})
    problems = preflight(config)
    if problems:
        raise ValueError("\n".join(problems))
    return config


def check(args: argparse.Namespace) -> int:
    try:
        _load(args.config)
    except ValueError as exc:  # ConfigError included
        print(exc)
        return 1
    print(f"{args.config}: ok")
    return 0


def run(args: argparse.Namespace) -> int:
    from stream.runner import run_foreground

    given = {"mqtt.host": args.mqtt_host, "mqtt.port": args.mqtt_port,
             "partitions": args.partitions, "recovery.dir": args.recovery_dir}
    try:
        config = _load(args.config, {k: v for k, v in given.items() if v is not None})
    except ValueError as exc:  # ConfigError included
        print(exc)
        return 1
    addresses = args.addresses.split(";") if args.addresses else None
    if (addresses is None) != (args.process_id is None):
        print("stream run: -a/--addresses and -i/--process-id go together")
        return 2
    return run_foreground(config, workers=args.workers, process_id=args.process_id,
                          addresses=addresses)
