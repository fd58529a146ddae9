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
    except (OSError, ValueError, yaml.YAMLError):  # UnicodeDecodeError is a ValueError
        return None
    return data.get("kind") if isinstance(data, dict) else None


KINDS = ("camera_gateway", "sensor_gateway")


def _kind(path: Path) -> str | None:
    """The config's ``kind``, read once; one that is neither gateway kind is a ConfigError
    of one line (instead of the sensor model's list of every camera key as unknown)."""
    kind = config_kind(path)
    if kind is None or kind in KINDS:
        return kind
    from edge.camera.config import key_lines
    from ioc.config import ConfigError, ConfigProblem

    line = key_lines(path.read_text(encoding="utf-8")).get("kind")
    raise ConfigError([ConfigProblem(str(path), line, "kind", repr(kind),
                                     "not a gateway kind (camera_gateway or sensor_gateway)")])


def _load(path: Path, kind: str | None) -> object:
    """The typed config of either kind (raises ConfigError naming file, line and key)."""
    from edge.camera.build import load_models
    from edge.camera.config import load_camera_config
    from edge.config import load_sensor_config

    if kind == "camera_gateway":
        cfg = load_camera_config(path)
        load_models(cfg, source=str(path))  # a model that is not ONNX or has the wrong shape
        return cfg
    cfg = load_sensor_config(path)
    if cfg.driver.type == "scenario":
        _check_scenario(path, cfg.driver.scenario)
    return cfg


def _check_scenario(path: Path, scenario: str) -> None:
    """A scenario the simulated gauge cannot play, named by the gateway config's key."""
    from edge.camera.config import key_lines
    from ioc.config import ConfigError, ConfigProblem
    from simulators.sensors.scenario import load_scenario

    try:
        load_scenario(scenario)
    except (OSError, ValueError) as exc:  # ConfigError is a ValueError
        why = ("it is not a scenario file (it does not validate as one)"
               if isinstance(exc, ConfigError) else str(exc))
        line = key_lines(path.read_text(encoding="utf-8")).get("driver.scenario")
        raise ConfigError([ConfigProblem(str(path), line, "driver.scenario", repr(scenario),
                                         why)]) from None


def validate(args: argparse.Namespace) -> int:
    from ioc.config import ConfigError

    bad = 0
    for path in args.configs:
        try:
            _load(path, _kind(path))
        except ConfigError as exc:
            bad += 1
            print(exc)
        except ValueError as exc:
            bad += 1
            print(f"{path}: {exc}")
        else:
            print(f"{path}: ok")
    return 1 if bad else 0


def _on_signals(stop: object) -> None:
    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop()  # type: ignore[operator]

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def run(args: argparse.Namespace) -> int:
    from ioc.config import ConfigError

    try:
        kind = _kind(args.config)
    except ConfigError as exc:
        print(exc)
        return 1
    if args.frames is not None and args.frames < 1:
        print(f"--frames {args.frames}: give at least 1 (or leave it out to run until stopped)")
        return 2
    if kind == "camera_gateway":
        return run_camera(args)
    return run_sensor(args)


def run_sensor(args: argparse.Namespace) -> int:
    from edge.config import load_sensor_config
    from edge.disk_queue import QueueError
    from edge.sensor_agent import SensorAgent
    from ioc import __version__
    from ioc.config import ConfigError

    try:
        cfg = load_sensor_config(args.config)
        if cfg.driver.type == "scenario":
            _check_scenario(args.config, cfg.driver.scenario)
        agent = SensorAgent.from_config(cfg, agent_version=__version__)
    except ConfigError as exc:  # names the file itself
        print(exc)
        return 1
    except (ValueError, OSError) as exc:
        print(f"{args.config}: {exc}")
        return 1
    _on_signals(agent.request_stop)
    try:
        agent.start()
    except (QueueError, OSError) as exc:
        print(f"{args.config}: {exc}")
        agent.stop()
        return 1
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
    except (ConfigError, SourceError, QueueError, OSError, ValueError) as exc:
        print(exc if isinstance(exc, ConfigError) else f"{args.config}: {exc}")
        agent.stop()
        return 1
    try:
        frames = agent.run()
    except SourceError as exc:
        print(f"{args.config}: {exc}")
        return 1
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
    try:  # read only: fetching an image creates, expires and deletes nothing
        store = EvidenceStore(ev.dir, cfg.camera, tz=cfg.timezone, max_images=ev.max_images,
                              max_bytes=ev.max_bytes,
                              max_age_s=ev.max_age_days * 86400).open(read_only=True)
        data = store.get(args.image_id)
    except OSError as exc:
        print(f"{args.config}: evidence.dir {ev.dir}: {exc}")
        return 1
    if data is None:
        print(f"{ev.dir}: no evidence image {args.image_id!r} (unknown, or expired)")
        return 1
    out = args.out or Path(f"{args.image_id}.jpg")
    try:
        out.write_bytes(data)
    except OSError as exc:
        print(f"{out}: cannot write the image: {exc.strerror or exc}")
        return 1
    print(f"{out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0
