"""``ioc edge``: run or validate a gateway agent from its config file."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from types import FrameType


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("edge", help="run or validate an edge gateway agent")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    r = verbs.add_parser("run", help="run the sensor gateway agent of CONFIG")
    r.add_argument("config", type=Path)
    r.set_defaults(func=run)
    v = verbs.add_parser("validate", help="validate gateway config files")
    v.add_argument("configs", type=Path, nargs="+")
    v.set_defaults(func=validate)


def validate(args: argparse.Namespace) -> int:
    from edge.config import load_sensor_config
    from ioc.config import ConfigError

    bad = 0
    for path in args.configs:
        try:
            load_sensor_config(path)
        except ConfigError as exc:
            bad += 1
            print(exc)
        else:
            print(f"{path}: ok")
    return 1 if bad else 0


def run(args: argparse.Namespace) -> int:
    from edge.config import load_sensor_config
    from edge.drivers.registry import make_driver
    from edge.publisher import MqttPublisher
    from edge.sensor_agent import SensorAgent
    from ioc import __version__
    from ioc.config import ConfigError

    try:
        cfg = load_sensor_config(args.config)
        address = cfg.broker.address()
    except (ConfigError, ValueError) as exc:
        print(f"{args.config}: {exc}")
        return 1
    agent = SensorAgent(cfg.site, cfg.device, make_driver(cfg),
                        MqttPublisher(address, cfg.site, cfg.device, agent_version=__version__),
                        poll_interval_s=cfg.poll_interval_s, heartbeat_s=cfg.heartbeat_s)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        agent.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    agent.start()
    try:
        stats = agent.run()
    finally:
        agent.stop()
    print(f"{cfg.device}: {stats.samples} samples, {stats.published} published, "
          f"{stats.rejected} rejected")
    return 0
