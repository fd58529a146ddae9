"""``ioc devices``: every gateway in one table, from the broker or from the cloud API.

From the broker (default): subscribes to every device's retained ``status`` (``online``,
or ``offline`` — said on a clean stop, or the broker's last will when a gateway vanished),
its heartbeats and config acks for ``--wait`` seconds, then prints one row per device:
state, last seen, fps, queue depth, dropped events, config version, disk used,
source state and reconnects. A device that says ``online`` but has not been heard
from for ``--stale-after`` seconds is ``stale``. ``--registry DIR`` adds the devices
``ioc provision`` registered that never spoke (``never seen``). ``--watch`` keeps the
subscription and redraws the table in place every ``--interval`` seconds.

From the cloud (``--api URL --token-env VAR``): the same table from
``GET /api/v1/devices`` (the cloud's device registry, technician role).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ioc.config import secret_by_reference

COLUMNS = ("SITE", "DEVICE", "STATE", "LAST SEEN", "FPS", "QUEUE", "DROPPED", "CONFIG",
           "DISK", "SOURCE", "RECONNECTS", "AGENT")


def _seconds(text: str) -> float:
    """A finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds (0 or more)")
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("devices", help="every gateway in one table (online/offline, health)")
    p.add_argument("--host", default="127.0.0.1", help="broker host")
    p.add_argument("--port", type=int, default=1883, help="broker port")
    p.add_argument("--username", default=None, help="broker user (e.g. the monitor account)")
    p.add_argument("--password-env", default=None, help="environment variable with its password")
    p.add_argument("--password-file", type=Path, default=None, help="file with its password")
    p.add_argument("--tls-ca", type=Path, default=None, help="CA file: connect with TLS")
    p.add_argument("--site", default="+", help="one site (default: every site)")
    p.add_argument("--wait", type=_seconds, default=3.0,
                   help="seconds to listen for heartbeats before printing (default 3)")
    p.add_argument("--stale-after", type=_seconds, default=90.0,
                   help="online but silent this long (s) counts as stale (default 90)")
    p.add_argument("--registry", type=Path, default=None,
                   help="provisioning folder: list registered devices never heard from")
    p.add_argument("--api", default=None, help="cloud API base URL instead of the broker")
    p.add_argument("--token-env", default="IOC_TOKEN",
                   help="environment variable with the API token (default IOC_TOKEN)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--watch", action="store_true", help="redraw in place until Ctrl-C")
    p.add_argument("--interval", type=_seconds, default=2.0, help="watch: seconds between redraws")
    p.add_argument("--count", type=int, default=None, help="watch: stop after this many redraws")
    p.set_defaults(func=run)


@dataclass
class DeviceRow:
    """What is known of one gateway."""

    site: str
    device: str
    state: str = "unknown"
    last_seen: datetime | None = None
    fps: float | None = None
    queue_depth: int | None = None
    dropped_events: int | None = None
    config_version: str | None = None
    disk_used_bytes: int | None = None
    source_state: str | None = None
    source_reconnects: int | None = None
    agent_version: str | None = None
    config_ack: str | None = None
    problems: list[str] = field(default_factory=list)

    def seen(self, ts: datetime) -> None:
        if self.last_seen is None or ts > self.last_seen:
            self.last_seen = ts


class Fleet:
    """Rows by (site, device), fed with contract events (thread-safe)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], DeviceRow] = {}
        self.lock = threading.Lock()
        self.refused = 0

    def row(self, site: str, device: str) -> DeviceRow:
        return self.rows.setdefault((site, device), DeviceRow(site, device))

    def on_message(self, topic: str, payload: bytes) -> None:
        """Take one message of a device's status, heartbeat or config-ack topic."""
        from ioc.contract import ConfigAck, DecodeError, DeviceStatus, Heartbeat, decode

        event = decode(topic, payload)
        with self.lock:
            if isinstance(event, DecodeError):
                self.refused += 1
                return
            row = self.row(event.site, event.device)
            row.seen(event.ts)
            if isinstance(event, DeviceStatus):
                row.state = event.state
                row.agent_version = event.agent_version or row.agent_version
                row.config_version = event.config_version or row.config_version
            elif isinstance(event, Heartbeat):
                row.fps, row.queue_depth = event.fps, event.queue_depth
                row.dropped_events, row.disk_used_bytes = event.dropped_events, \
                    event.disk_used_bytes
                row.source_state, row.source_reconnects = event.source_state, \
                    event.source_reconnects
                row.config_version = event.config_version or row.config_version
                if row.state == "unknown":
                    row.state = "online"
            elif isinstance(event, ConfigAck):
                row.config_ack = f"{event.result} {event.config_version or ''}".strip()
                row.problems = list(event.problems)

    def snapshot(self, now: datetime, stale_after_s: float) -> list[DeviceRow]:
        """Rows sorted by site and device, with ``stale`` applied."""
        with self.lock:
            rows = [DeviceRow(**{k: getattr(r, k) for k in r.__dataclass_fields__})
                    for _, r in sorted(self.rows.items())]
        for r in rows:
            if (r.state == "online" and r.last_seen is not None
                    and (now - r.last_seen).total_seconds() > stale_after_s):
                r.state = "stale"
        return rows


def _age(ts: datetime | None, now: datetime) -> str:
    if ts is None:
        return "never seen"
    s = max(0, int((now - ts).total_seconds()))
    if s < 120:
        return f"{s}s ago"
    if s < 7200:
        return f"{s // 60}m ago"
    return f"{s // 3600}h ago" if s < 172800 else f"{s // 86400}d ago"


def _bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return "-"  # pragma: no cover


def _cell(v: Any) -> str:
    return "-" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v)


def render_table(rows: list[DeviceRow], now: datetime) -> str:
    """The fleet as an aligned text table, one gateway a line."""
    table = [COLUMNS] + [(
        r.site, r.device, r.state, _age(r.last_seen, now), _cell(r.fps), _cell(r.queue_depth),
        _cell(r.dropped_events), _cell(r.config_version), _bytes(r.disk_used_bytes),
        _cell(r.source_state), _cell(r.source_reconnects), _cell(r.agent_version or None))
        for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in table]
    counts = {s: sum(1 for r in rows if r.state == s) for s in
              ("online", "stale", "offline", "unknown")}
    lines.append(f"{len(rows)} gateways: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines)


def to_json(rows: list[DeviceRow]) -> str:
    """The rows as a JSON list (times in ISO 8601)."""
    out = []
    for r in rows:
        d = asdict(r)
        d["last_seen"] = r.last_seen.isoformat() if r.last_seen else None
        out.append(d)
    return json.dumps(out, ensure_ascii=False, indent=1)


def _password(args: argparse.Namespace) -> str | None:
    return secret_by_reference(args.password_env or None, args.password_file,
                               env_key="--password-env", file_key="--password-file")


def _subscribe(args: argparse.Namespace, fleet: Fleet) -> Any:
    """A started paho client feeding ``fleet``; raises ConnectionError when refused."""
    import paho.mqtt.client as mqtt

    from edge.publisher import BrokerAddress
    from ioc.contract import Topics

    filters = [Topics.device_filter(k, args.site) for k in ("status", "heartbeat", "config_ack")]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                         client_id=f"ioc-devices-{os.getpid()}")
    BrokerAddress(args.host, args.port, args.username, _password(args),
                  tls_ca=str(args.tls_ca) if args.tls_ca else None).configure(client)
    answer: list[Any] = []
    ready = threading.Event()

    def on_connect(c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        answer.append(reason)
        if not reason.is_failure:
            for f in filters:
                c.subscribe(f, qos=1)
        ready.set()

    client.on_connect = on_connect
    client.on_message = lambda _c, _u, msg: fleet.on_message(msg.topic, msg.payload)
    client.connect(args.host, args.port, keepalive=30)
    client.loop_start()
    if not ready.wait(10) or answer[-1].is_failure:
        client.loop_stop()
        client.disconnect()
        raise ConnectionError(f"broker {args.host}:{args.port} refused us: "
                              f"{answer[-1] if answer else 'no answer'}")
    return client


def _from_registry(fleet: Fleet, folder: Path, site: str) -> None:
    from ioc.provision.registry import load_registry

    if not (folder / "registry.yaml").is_file():  # (a wrong folder showed "0 gateways")
        raise ValueError(f"--registry {folder}: no registry.yaml there (give the folder"
                         " ioc provision --dir wrote)")
    registry = load_registry(folder / "registry.yaml")
    for name, account in registry.devices(None if site == "+" else site).items():
        with fleet.lock:
            fleet.row(account.sites[0], name)


def _from_api(args: argparse.Namespace) -> list[DeviceRow]:
    import urllib.error
    import urllib.request

    token = os.environ.get(args.token_env)
    if token is None:
        raise ValueError(f"--token-env: environment variable {args.token_env} is not set")
    query = f"?site={args.site}" if args.site != "+" else ""
    url = f"{args.api.rstrip('/')}/api/v1/devices{query}"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            page = json.loads(resp.read(MAX_PAGE_BYTES + 1)[:MAX_PAGE_BYTES])
        return _rows(page)
    except urllib.error.HTTPError as exc:  # the status: "HTTP Error 403: Forbidden"
        raise ValueError(f"{url}: {exc}") from None
    except (OSError, http.client.HTTPException) as exc:  # URLError and timeouts included
        raise ValueError(f"{url}: {getattr(exc, 'reason', None) or exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{url}: not a device page as the cloud API gives it"
                         f" ({type(exc).__name__}: {exc})") from None


#: the largest device page read (a fleet of thousands is a few MB)
MAX_PAGE_BYTES = 50_000_000


def _rows(page: Any) -> list[DeviceRow]:
    """The rows of ``GET /api/v1/devices``; raises on anything else."""
    rows = []
    for d in page["items"]:
        last = datetime.fromisoformat(d["last_seen"]) if d.get("last_seen") else None
        if last is not None and last.tzinfo is None:
            raise ValueError(f"last_seen {d['last_seen']!r} has no time zone")
        for key in ("fps", "queue_depth", "dropped_events", "disk_used_bytes",
                    "source_reconnects"):
            if d.get(key) is not None and not isinstance(d[key], int | float):
                raise ValueError(f"{key} {d[key]!r} of {d.get('device')!r} is not a number")
        state = {"ok": "online", "stale": "stale", "offline": "offline"}.get(d["health"],
                                                                             "unknown")
        rows.append(DeviceRow(
            d["site"], d["device"], state, last,
            d.get("fps"), d.get("queue_depth"), d.get("dropped_events"), d.get("config_version"),
            d.get("disk_used_bytes"), d.get("source_state"), d.get("source_reconnects"),
            d.get("agent_version"),
            (f"{d['config_ack_result']} {d.get('config_ack_version') or ''}".strip()
             if d.get("config_ack_result") else None), list(d.get("config_ack_problems") or [])))
    return rows


def _print(rows: list[DeviceRow], args: argparse.Namespace, now: datetime) -> None:
    print(to_json(rows) if args.json else render_table(rows, now), flush=True)


def run(args: argparse.Namespace) -> int:
    import urllib.error

    try:
        if args.api:
            _print(_from_api(args), args, datetime.now(UTC))
            return 0
        fleet = Fleet()
        if args.registry is not None:
            _from_registry(fleet, args.registry, args.site)
        client = _subscribe(args, fleet)
    except (ValueError, ConnectionError, OSError, urllib.error.URLError) as exc:  # ConfigError too
        print(f"ioc devices: {exc}", file=sys.stderr)
        return 1
    try:
        time.sleep(args.wait)
        shown = 0
        while True:
            if args.watch and sys.stdout.isatty():
                print("\x1b[H\x1b[2J", end="")  # redraw in place
            _print(fleet.snapshot(datetime.now(UTC), args.stale_after), args, datetime.now(UTC))
            shown += 1
            if not args.watch or (args.count is not None and shown >= args.count):
                break
            time.sleep(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        client.loop_stop()
        client.disconnect()
    return 0
