"""``ioc demo``: the city simulated end to end on embedded defaults.

Starts a broker (Mosquitto when installed, else the embedded one), the dataflow on
the embedded stores, the cloud API with the IOC page, one simulated gateway per
scenario device, camera gateways on simulated junctions (``--cameras``, live in
wall-clock time while the sensors replay their scenario day), and a monitor that
prints alerts as they arrive on the alerts topic. Ends with a summary read back
from the stores.

Evidence images stay on the camera gateway; the demo carries those of stored
violations to the cloud's evidence folder (checking each against the SHA-256 the
violation carries), standing in for the uplink a deployment runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

logger = logging.getLogger(__name__)

#: what a reading is stored under: its quantity
READING_MEASURES = ("water_level", "rain", "pm25", "pm10", "o3", "no2", "so2", "co",
                    "temperature", "humidity")
#: the city's 2025-11-03: river and rain gauges in the flood, and two air stations
DEFAULT_SCENARIOS = ("flood-2025-11-03", "air-2025-11-03")
#: camera gateways, in the order --cameras takes them (signalised junctions first)
CAMERAS = ("cam-hungvuong-01", "cam-lequydon-01", "cam-trangtien-01", "cam-lethanhton-01")

HUE_TZ = timezone(timedelta(hours=7), "ICT")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("demo", help="run the whole city simulated end to end (2025-11-03)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=_positive, default=60.0,
                   help="wall-clock seconds to run (default 60; Ctrl-C ends it early, with"
                        " the summary)")
    p.add_argument("--speed", type=_positive, default=None,
                   help="scenario seconds per real second (default: fit the scenario into"
                        " the duration)")
    p.add_argument("--scenario", action="append", default=None,
                   help="shipped scenario name or scenario file; repeat for several"
                        f" (default: {' and '.join(DEFAULT_SCENARIOS)})")
    p.add_argument("--config", type=Path, default=None, help="stream config (default: shipped)")
    p.add_argument("--configs", type=Path, default=None,
                   help="folder of sensor gateway configs (default: firmware_configs/hue)")
    p.add_argument("--broker", choices=("auto", "mosquitto", "embedded"), default="auto",
                   help="broker to start (auto: Mosquitto if installed)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where the stores are written (default: a fresh temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    p.add_argument("--cameras", type=int, default=1, choices=range(len(CAMERAS) + 1),
                   metavar=f"0..{len(CAMERAS)}",
                   help="camera gateways on simulated junctions (default 1; each runs ONNX"
                        " detection and plate reading on the CPU)")
    p.add_argument("--camera-fps", type=_fps, default=5.0,
                   help="frames per second of each camera (default 5)")
    p.set_defaults(func=run)


def _positive(text: str) -> float:
    """A finite number above 0 (``nan`` and ``inf`` parse as floats too)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a number above 0")
    return value


def _fps(text: str) -> float:
    """A camera frame rate: a number in (0, 60]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"{value:g} is not within (0, 60] frames/s")
    return value


@dataclass
class Monitor:
    """Subscribes like an operator's console: prints alerts, counts readings."""

    out: TextIO
    readings: int = 0
    alerts: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        from ioc.contract import Alert, DecodeError, decode_any

        if msg.topic.endswith("/reading"):
            with self.lock:
                self.readings += 1
            return
        event = decode_any(msg.topic, msg.payload)
        if isinstance(event, DecodeError) or not isinstance(event, Alert):
            return
        with self.lock:
            self.alerts.append(event)
        self.out.write(f"  ALERT {event.ts.astimezone(HUE_TZ):%Y-%m-%d %H:%M} "
                       f"{event.status.value:<11} {event.severity.value:<8} {event.description}\n")
        self.out.flush()


def _inputs(args: argparse.Namespace) -> tuple[list[Any], Any] | str:
    """The scenarios and the stream config, or what would stop the demo in one line (a
    traceback after the broker had started had left it running): those two, the data
    folder, and a gateway config for every device the scenarios play."""
    from ioc.config import ConfigError
    from simulators.sensors.scenario import load_scenario
    from stream.config import load_config

    try:
        scenarios = [load_scenario(s) for s in (args.scenario or DEFAULT_SCENARIOS)]
        config = load_config(args.config)
    except (ConfigError, OSError) as exc:
        return str(exc).splitlines()[0]
    if args.data_dir is not None and args.data_dir.exists() and not args.data_dir.is_dir():
        return f"--data-dir {args.data_dir} is a file, not a folder"
    folder = args.configs or Path(__file__).resolve().parents[2] / "firmware_configs" / "hue"
    for sc in scenarios:
        for device in sc.devices():
            if not (folder / f"{device}.yaml").is_file():
                return (f"scenario {sc.name!r} plays device {device!r}, which has no gateway"
                        f" config {folder / f'{device}.yaml'} (--configs names the folder)")
    return scenarios, config


def _agents(args: argparse.Namespace, scenarios: list[Any], clock: Any, port: int
            ) -> list[Any]:
    from edge.config import load_sensor_config
    from edge.drivers.registry import make_driver
    from edge.publisher import MqttPublisher
    from edge.sensor_agent import SensorAgent

    folder = args.configs or Path(__file__).resolve().parents[2] / "firmware_configs" / "hue"
    agents = []
    for device in [d for sc in scenarios for d in sc.devices()]:
        path = folder / f"{device}.yaml"
        cfg = load_sensor_config(path)
        broker = cfg.broker.model_copy(update={"host": "127.0.0.1", "port": port})
        driver = make_driver(cfg, clock=clock)
        publisher = MqttPublisher(broker.address(), cfg.site, cfg.device, agent_version="demo")
        agents.append(SensorAgent(cfg.site, cfg.device, driver, publisher,
                                  poll_interval_s=0.02, heartbeat_s=5.0))
    return agents


def _camera_agents(args: argparse.Namespace, data_dir: Path, port: int) -> list[Any]:
    """Camera gateways from their shipped configs, on this broker, with their queue and
    evidence in ``data_dir``, one inference thread each, at ``--camera-fps``."""
    from edge.camera.agent import CameraAgent
    from edge.camera.config import load_camera_config
    from edge.publisher import MqttPublisher

    root = Path(__file__).resolve().parents[2]
    folder = args.configs or root / "firmware_configs" / "hue"
    agents = []
    for device in CAMERAS[:args.cameras]:
        path = folder / f"{device}.yaml"
        cfg = load_camera_config(path)
        queue = cfg.queue or _default_queue()
        cfg = cfg.model_copy(update={
            "broker": cfg.broker.model_copy(update={"host": "127.0.0.1", "port": port}),
            "queue": queue.model_copy(update={"path": data_dir / "queue" / f"{device}.sqlite"}),
            "source": cfg.source.model_copy(update={"fps": args.camera_fps}),
            "detector": cfg.detector.model_copy(update={"threads": 1}),
            "plates": cfg.plates.model_copy(update={"threads": 1}),
            "evidence": cfg.evidence.model_copy(update={"dir": data_dir / "edge" / device}),
            "heartbeat_s": 10.0})
        publisher = MqttPublisher(cfg.broker.address(), cfg.site, cfg.device,
                                  agent_version="demo", queue=cfg.queue.build())
        agents.append(CameraAgent(cfg, publisher, config_path=str(path), base=root))
    return agents


def _default_queue() -> Any:
    from edge.config import QueueConfig

    return QueueConfig(path=Path("queue.sqlite"))


@dataclass
class EvidenceUplink:
    """Carries the images of stored violations from the camera gateways to the cloud's
    evidence folder, each checked against the hash in its violation (the stand-in for a
    deployment's uplink). ``poll()`` does one round; ``run()`` rounds until stopped."""

    cameras: list[Any]
    stores: Any
    copied: int = 0
    mismatched: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def poll(self) -> None:
        import hashlib

        by_device = {a.cfg.device: a for a in self.cameras}
        for v in self.stores.violations.list(limit=1000):
            agent = by_device.get(v.device)
            if agent is None or agent.pipeline is None or agent.pipeline.evidence is None:
                continue
            for image in v.evidence:
                if self.stores.evidence.exists(image["image_id"]):
                    continue
                data = agent.pipeline.evidence.get(image["image_id"])
                if data is None:
                    continue
                if hashlib.sha256(data).hexdigest() != image["sha256"]:
                    self.mismatched += 1
                    logger.warning("evidence %s of violation %s does not match its hash",
                                   image["image_id"], v.id)
                    continue
                self.stores.evidence.put(image["image_id"], data)
                self.copied += 1

    def run(self) -> None:
        while not self.stop.wait(1.0):
            try:
                self.poll()
            except Exception:  # the next round tries again; the demo goes on
                logger.exception("evidence uplink round failed")


def run(args: argparse.Namespace) -> int:
    """Run the demo; return 0 when the pipeline ran without errors."""
    import paho.mqtt.client as mqtt

    from cloud.api.server import CloudServer, local_config
    from ioc.broker import make_broker
    from ioc.contract import Topics
    from simulators.clock import SimClock
    from stream.runner import StreamRunner, embedded_io

    out = sys.stdout
    inputs = _inputs(args)  # before anything is started or created
    if isinstance(inputs, str):
        out.write(f"ioc demo: {inputs}\n")
        return 2
    scenarios, config = inputs
    start = min(sc.start for sc in scenarios)
    end = max(sc.end for sc in scenarios)
    tmp = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="ioc-demo-")) if tmp else args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    budget = max(args.duration - 8.0, 1.0)  # leave time to drain and summarise
    speed = args.speed or (end - start).total_seconds() / budget
    clock = SimClock(start, speed)

    broker = make_broker(args.broker, data_dir / "broker")
    broker.start()
    out.write(f"broker: {broker.name} on {broker.host}:{broker.port}\n")
    config = config.model_copy(update={
        "mqtt": config.mqtt.model_copy(update={"host": broker.host, "port": broker.port}),
        "store": config.store.model_copy(update={
            "timeseries_path": data_dir / "timeseries.sqlite",
            "events_path": data_dir / "events.sqlite"}),
        # Simulated time runs `speed` times faster than the wall clock, so a gateway thread
        # that lags a few wall seconds on a busy machine looks minutes late: judge silence
        # with that much slack, or the demo would report gauges as silent that are not.
        "no_data_slack_min": max(config.no_data_slack_min, math.ceil(speed * 5 / 60)),
    })
    io = embedded_io(config, share_group=None if broker.shared_subscriptions else "")
    runner = StreamRunner(config, io)
    cloud_config, tokens = local_config(data_dir, site=config.site)
    cloud = CloudServer(cloud_config)
    monitor = Monitor(out)
    console = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="ioc-demo-console")
    console.on_message = monitor.on_message
    agents: list[Any] = []
    cameras: list[Any] = []
    threads: list[threading.Thread] = []
    camera_threads: list[threading.Thread] = []
    uplink: EvidenceUplink | None = None
    uplink_thread: threading.Thread | None = None
    started = time.monotonic()
    api_alerts: int | None = None
    api_violations: int | None = None
    interrupted = _stop_on_signals()
    try:
        runner.start()
        cloud.start()
        out.write(f"cloud API: {cloud.url}/docs (tokens per role in {data_dir / 'tokens'})\n")
        out.write(f"IOC page: {cloud.url}/ioc (paste a token from {data_dir / 'tokens'},"
                  " e.g. admin)\n")
        console.connect(broker.host, broker.port)
        console.subscribe([(Topics.alerts(config.site), 1),
                           (Topics.device_filter("reading", config.site), 0)])
        console.loop_start()
        agents = _agents(args, scenarios, clock, broker.port)
        out.write(f"scenario {' + '.join(sc.name for sc in scenarios)}:"
                  f" {start.astimezone(HUE_TZ):%Y-%m-%d %H:%M} → "
                  f"{end.astimezone(HUE_TZ):%Y-%m-%d %H:%M} (+07:00), {len(agents)} gateways, "
                  f"×{speed:,.0f} speed, stores in {data_dir}\n")
        cameras = _camera_agents(args, data_dir, broker.port)
        for camera in cameras:
            camera.start()
        if cameras:
            out.write(f"cameras: {', '.join(c.cfg.device for c in cameras)} live at"
                      f" {args.camera_fps:g} frames/s (wall-clock time)\n")
            uplink = EvidenceUplink(cameras, cloud.stores)
            uplink_thread = threading.Thread(target=uplink.run, name="evidence-uplink",
                                             daemon=True)
            uplink_thread.start()
        for agent in agents:
            agent.start()
        threads = [threading.Thread(target=a.run, name=a.device, daemon=True) for a in agents]
        camera_threads = [threading.Thread(target=c.run, name=c.cfg.device, daemon=True)
                          for c in cameras]
        for t in [*threads, *camera_threads]:
            t.start()
        deadline = started + args.duration - 5.0
        next_progress = time.monotonic() + 5.0
        while ((any(t.is_alive() for t in threads) or cameras)
               and time.monotonic() < deadline and not interrupted.is_set()):
            time.sleep(0.1)
            if time.monotonic() >= next_progress:
                next_progress += 5.0
                out.write(f"  … scenario time {clock.now().astimezone(HUE_TZ):%Y-%m-%d %H:%M}, "
                          f"{monitor.readings} readings, {len(monitor.alerts)} alerts\n")
                out.flush()
    finally:
        for agent in [*agents, *cameras]:
            agent.request_stop()
        for t in [*threads, *camera_threads]:
            t.join(10)
        for agent in agents:
            agent.stop()
        stuck = {t.name for t in camera_threads if t.is_alive()}
        for camera in cameras:
            if camera.cfg.device in stuck:  # still in a frame: not safe to finish its passes
                logger.warning("%s did not stop within 10 s", camera.cfg.device)
                continue
            camera.stop()  # ends open passes and publishes them
        _drain(io, sum(a.stats.published for a in agents), timeout_s=5.0)
        _drain_violations(io, _published_violations(cameras), timeout_s=5.0)
        if uplink is not None and uplink_thread is not None:
            uplink.stop.set()
            uplink_thread.join(10)
            uplink.poll()  # the last violations' images
        runner_error = None
        try:
            runner.stop()
        except RuntimeError as exc:
            runner_error = exc
        api_alerts = _api_alert_count(cloud.url, tokens["admin"])
        api_violations = _api_count(cloud.url, tokens["traffic_officer"],
                                    "/api/v1/violations?limit=1000")
        cloud.stop()
        time.sleep(0.3)  # the last alerts reach the console
        console.loop_stop()
        console.disconnect()
        broker.stop()
    ok = _summary(out, io, agents, monitor, time.monotonic() - started, api_alerts)
    if cameras:
        ok = _camera_summary(out, io, cameras, uplink, api_violations) and ok
    if tmp and not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    if runner_error is not None:
        out.write(f"ERROR: {runner_error}\n")
        return 1
    return 0 if ok else 1


def _drain(io: Any, published: int, timeout_s: float) -> None:
    """Wait until the stores hold every published reading (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if io.timeseries.count(READING_MEASURES) >= published:
            return
        time.sleep(0.1)


def _stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM: the demo then ends early, with its summary."""
    import signal

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda _s, _f: stop.set())
    return stop


def _published_violations(cameras: list[Any]) -> int:
    return sum(c.pipeline.stats.violations for c in cameras if c.pipeline is not None)


def _drain_violations(io: Any, published: int, timeout_s: float) -> None:
    """Wait until the event store holds every violation the cameras found (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if io.events.counts().get("violation", 0) >= published:
            return
        time.sleep(0.1)


def _api_count(url: str, token: str, path: str) -> int | None:
    """How many items a page of the cloud API lists (a real HTTP request)."""
    request = urllib.request.Request(f"{url}{path}",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return len(json.loads(response.read())["items"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("cloud API did not answer %s with a page: %s", path, exc)
        return None


def _camera_summary(out: TextIO, io: Any, cameras: list[Any], uplink: EvidenceUplink | None,
                    api_violations: int | None) -> bool:
    """The cameras' lines of the summary; False when a violation they found is missing."""
    stats = [c.pipeline.stats for c in cameras if c.pipeline is not None]
    counts = io.events.counts()
    found = sum(s.violations for s in stats)
    out.write(f"  camera frames          {sum(s.frames for s in stats)}"
              f" ({', '.join(c.cfg.device for c in cameras)})\n")
    out.write(f"  vehicle passes         {counts.get('vehicle', 0)} stored\n")
    out.write(f"  plate reads            {counts.get('plate', 0)} stored\n")
    out.write(f"  violations             {found} found, {counts.get('violation', 0)} stored,"
              f" {api_violations} in the API (GET /api/v1/violations as traffic officer)\n")
    if uplink is not None:
        out.write(f"  evidence images        {uplink.copied} carried to the cloud"
                  + (f", {uplink.mismatched} refused (hash mismatch)" if uplink.mismatched
                     else "") + "\n")
    ok = counts.get("violation", 0) == found and api_violations == found
    if not ok:
        out.write("  WARNING: not every violation the cameras found arrived\n")
    return ok


def _api_alert_count(url: str, token: str) -> int | None:
    """How many alerts the cloud API lists for an admin (every audience; a real HTTP request)."""
    request = urllib.request.Request(f"{url}/api/v1/alerts?limit=500",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
        return len(body["items"])  # an AlertPage: {"count": …, "items": [...]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("cloud API did not answer with an alert page: %s", exc)
        return None


def _summary(out: TextIO, io: Any, agents: list[Any], monitor: Monitor, elapsed: float,
             api_alerts: int | None) -> bool:
    readings = io.timeseries.count(READING_MEASURES)
    aggregates = io.timeseries.count(["rain_total", "rate_of_rise", "mean_1h", "mean_24h",
                                      "nowcast_pm25", "nowcast_pm10", "vn_aqi_hourly",
                                      "vn_aqi_daily"])
    counts = io.events.counts()
    alerts = io.events.alerts()
    published = sum(a.stats.published for a in agents)
    out.write("\nsummary\n")
    out.write(f"  readings published     {published}\n")
    out.write(f"  readings in (stored)   {readings}\n")
    out.write(f"  dead-lettered          {counts.get('deadletter', 0)}\n")
    out.write(f"  aggregates written     {aggregates}\n")
    out.write(f"  alerts raised          {sum(1 for a in alerts if a.status.value == 'raised')}"
              f" ({len(alerts)} state changes: "
              + ", ".join(f"{s} {sum(1 for a in alerts if a.status.value == s)}"
                          for s in ("raised", "escalated", "deescalated", "cleared")) + ")\n")
    out.write(f"  alerts on MQTT         {len(monitor.alerts)}\n")
    out.write(f"  alerts in the API      {api_alerts} (GET /api/v1/alerts as admin)\n")
    out.write(f"  wall time              {elapsed:.1f} s\n")
    ok = (readings == published and len(monitor.alerts) == len(alerts)
          and api_alerts == len({a.alert_id for a in alerts}))
    if not ok:
        out.write("  WARNING: not every published reading or alert arrived\n")
    return ok
