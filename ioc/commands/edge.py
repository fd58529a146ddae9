"""``ioc edge``: run or validate a gateway agent (sensor or camera) from its config file.

The config's ``kind`` (``sensor_gateway`` or ``camera_gateway``) picks the agent.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from types import FrameType


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("edge", help="run or validate an edge gateway agent")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    r = verbs.add_parser("run", help="run the gateway agent (sensor or camera) of CONFIG")
    r.add_argument("config", type=Path)
    r.add_argument("--frames", type=int, default=None,
                   help="camera: stop after this many frames (default: run until stopped)")
    r.set_defaults(func=run)
    v = verbs.add_parser("validate", help="validate gateway config files (camera models too)")
    v.add_argument("configs", type=Path, nargs="+")
    v.set_defaults(func=validate)
    e = verbs.add_parser("evidence", help="fetch an evidence image of a camera gateway by id")
    e.add_argument("config", type=Path)
    e.add_argument("image_id")
    e.add_argument("-o", "--out", type=Path, help="write the JPEG here (default: IMAGE_ID.jpg)")
    e.set_defaults(func=evidence)


def config_kind(path: Path) -> str | None:
    """The ``kind`` a config file declares (None if unreadable or absent)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data.get("kind") if isinstance(data, dict) else None


def _load(path: Path) -> object:
    """The typed config of either kind (raises ConfigError naming file, line and key)."""
    from edge.camera.build import load_models
    from edge.camera.config import load_camera_config
    from edge.config import load_sensor_config

    if config_kind(path) == "camera_gateway":
        cfg = load_camera_config(path)
        load_models(cfg, source=str(path))  # a model that is not ONNX or has the wrong shape
        return cfg
    return load_sensor_config(path)


def validate(args: argparse.Namespace) -> int:
    from ioc.config import ConfigError

    bad = 0
    for path in args.configs:
        try:
            _load(path)
        except ConfigError as exc:
            bad += 1
            print(exc)
        else:
            print(f"{path}: ok")
    return 1 if bad else 0


def _on_signals(stop: object) -> None:
    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop()  # type: ignore[operator]

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def run(args: argparse.Namespace) -> int:
    if config_kind(args.config) == "camera_gateway":
        return run_camera(args)
    return run_sensor(args)


def run_sensor(args: argparse.Namespace) -> int:
    from edge.config import load_sensor_config
    from edge.sensor_agent import SensorAgent
    from ioc import __version__
    from ioc.config import ConfigError

    try:
        cfg = load_sensor_config(args.config)
        agent = SensorAgent.from_config(cfg, agent_version=__version__)
    except ConfigError as exc:  # names the file itself
        print(exc)
        return 1
    except ValueError as exc:
        print(f"{args.config}: {exc}")
        return 1
    _on_signals(agent.request_stop)
    agent.start()
    try:
        stats = agent.run()
    finally:
        agent.stop()
    print(f"{cfg.device}: {stats.samples} samples, {stats.published} published, "
          f"{stats.rejected} rejected")
    return 0


def run_camera(args: argparse.Namespace) -> int:
    from edge.camera.agent import CameraAgent
    from edge.camera.config import load_camera_config
    from edge.camera.source import SourceError
    from edge.disk_queue import QueueError
    from edge.publisher import MqttPublisher
    from ioc import __version__
    from ioc.config import ConfigError

    try:
        cfg = load_camera_config(args.config)
        address = cfg.broker.address()
    except (ConfigError, ValueError) as exc:
        print(exc if isinstance(exc, ConfigError) else f"{args.config}: {exc}")
        return 1
    if args.frames is not None and hasattr(cfg.source, "max_frames"):
        cfg = cfg.model_copy(update={"source": cfg.source.model_copy(
            update={"max_frames": args.frames})})
    queue = cfg.queue.build() if cfg.queue is not None else None
    publisher = MqttPublisher(address, cfg.site, cfg.device, agent_version=__version__,
                              queue=queue)
    agent = CameraAgent(cfg, publisher, config_path=str(args.config))
    _on_signals(agent.request_stop)
    try:
        agent.start()
    except (ConfigError, SourceError, QueueError) as exc:
        print(exc if isinstance(exc, ConfigError) else f"{args.config}: {exc}")
        agent.stop()
        return 1
    try:
        frames = agent.run()
    finally:
        agent.stop()
    pipe = agent.pipeline
    stats = pipe.stats if pipe is not None else None
    print(f"{cfg.device}: {frames} frames, {agent.events_published} events published"
          + (f" ({stats.violations} violations, {stats.plate_reads} plate reads, "
             f"{stats.tracks} vehicles)" if stats else ""))
    return 0


def evidence(args: argparse.Namespace) -> int:
    """Copy one evidence image out of the gateway's store; print its SHA-256."""
    import hashlib

    from edge.camera.config import load_camera_config
    from edge.camera.evidence import EvidenceStore
    from ioc.config import ConfigError

    try:
        cfg = load_camera_config(args.config)
    except ConfigError as exc:
        print(exc)
        return 1
    ev = cfg.evidence
    store = EvidenceStore(ev.dir, cfg.camera, tz=cfg.timezone, max_images=ev.max_images,
                          max_bytes=ev.max_bytes, max_age_s=ev.max_age_days * 86400).open()
    data = store.get(args.image_id)
    if data is None:
        print(f"{ev.dir}: no evidence image {args.image_id!r} (unknown, or expired)")
        return 1
    out = args.out or Path(f"{args.image_id}.jpg")
    out.write_bytes(data)
    print(f"{out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0
