"""The sensor gateway agent: polls a driver, checks and publishes readings at QoS 1, heartbeats.

The gateway's own checks (``checks`` in its config) run before anything is
published: a reading outside the sensor's plausible range is a fault, refused,
logged and counted; a quantity at or above its first alarm level makes the agent
poll every ``alarm_poll_interval_s`` until it falls back below. A driver that
cannot read its device raises :class:`~edge.drivers.base.DriverError`: the agent
logs it and keeps polling (the driver backs off), and the heartbeat carries the
driver's state and reconnect count.

Remote config (an agent built with :meth:`SensorAgent.from_config`): a full gateway
config published on the device's config topic is validated like the file; a newer
``version`` that changes only what may change while running (poll intervals,
heartbeat, checks) is applied between two polls and answered with a ``ConfigAck``
``applied``; anything else is answered ``refused`` with every problem, and the running
config stays.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge.drivers.base import DriverError, DriverHealth, Sample, SensorDriver
from edge.publisher import MqttPublisher
from ioc.config import ConfigError
from ioc.contract import (
    MAX_PAYLOAD_BYTES,
    ConfigAck,
    Heartbeat,
    SensorReading,
    Topics,
    now_utc,
    reading_id,
    stable_id,
)

if TYPE_CHECKING:
    from edge.config import QuantityCheck, SensorGatewayConfig

logger = logging.getLogger(__name__)

#: What a pushed config may not change: who the gateway is, where it talks, what it reads.
RESTART_ONLY = ("kind", "site", "device", "broker", "driver", "queue")


def check_remote_config(current: SensorGatewayConfig, topic: str,
                        payload: bytes) -> SensorGatewayConfig | list[str]:
    """The new config a payload on ``topic`` describes, or every reason to refuse it."""
    from edge.config import load_sensor_config

    if len(payload) > MAX_PAYLOAD_BYTES:
        return [f"mqtt:{topic}: config of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}"]
    try:
        new = load_sensor_config(f"mqtt:{topic}", text=payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return [f"mqtt:{topic}: config is not UTF-8: {exc}"]
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    problems = [f"mqtt:{topic}: {key}: cannot change without a restart (edit the config "
                f"file on the gateway)" for key in RESTART_ONLY
                if getattr(new, key) != getattr(current, key)]
    if new.version <= current.version:
        problems.append(f"mqtt:{topic}: version: {new.version}: not newer than the running "
                        f"version {current.version}")
    return problems or new


def _claimed_version(payload: bytes) -> str | None:
    """The ``version`` a refused payload claims, when it can be read at all."""
    import yaml

    try:
        data = yaml.safe_load(payload[:MAX_PAYLOAD_BYTES].decode("utf-8", "replace"))
    except yaml.YAMLError:
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return str(version)[:64] if version is not None else None


@dataclass(slots=True)
class AgentStats:
    """What the agent did, for heartbeats and summaries."""

    samples: int = 0
    published: int = 0
    rejected: int = 0
    #: polls the driver could not complete (DriverError)
    driver_errors: int = 0


class SensorAgent:
    """Runs one sensor gateway: ``start()`` opens the driver and the publisher, ``run()``
    polls until stopped or the driver is exhausted, ``stop()`` closes in reverse order."""

    def __init__(
        self,
        site: str,
        device: str,
        driver: SensorDriver,
        publisher: MqttPublisher,
        *,
        poll_interval_s: float = 1.0,
        heartbeat_s: float = 30.0,
        checks: Mapping[str, QuantityCheck] | None = None,
        alarm_poll_interval_s: float | None = None,
        config: SensorGatewayConfig | None = None,
    ) -> None:
        self.site = site
        self.device = device
        self.driver = driver
        self.publisher = publisher
        self.poll_interval_s = poll_interval_s
        self.heartbeat_s = heartbeat_s
        self.checks = dict(checks or {})
        self.alarm_poll_interval_s = alarm_poll_interval_s
        self.stats = AgentStats()
        #: alarm level (1 = the first) each checked quantity/station is at now; 0: below
        self.alarm_level: dict[tuple[str, str | None], int] = {}
        #: the running config (remote config is on only when the agent has one)
        self.config = config
        self.config_acks: list[ConfigAck] = []
        self._pushed: deque[tuple[str, bytes]] = deque(maxlen=16)
        self._stopping = threading.Event()
        self._wake = threading.Event()  # a stop request or a pushed config ends the wait
        self._started_at = time.monotonic()

    @classmethod
    def from_config(cls, cfg: SensorGatewayConfig, *, base: Path | None = None,
                    agent_version: str = "", clock: object | None = None) -> SensorAgent:
        """The agent a gateway config describes: its driver, its publisher (with the disk
        queue, a relative queue path taken from ``base``), its checks. Reads the broker
        password (raises ValueError when its reference cannot be resolved)."""
        from edge.drivers.registry import make_driver

        queue = cfg.queue.build(base) if cfg.queue is not None else None
        publisher = MqttPublisher(cfg.broker.address(), cfg.site, cfg.device,
                                  agent_version=agent_version, queue=queue)
        publisher.config_version = str(cfg.version)
        return cls(cfg.site, cfg.device, make_driver(cfg, clock=clock), publisher,
                   poll_interval_s=cfg.poll_interval_s, heartbeat_s=cfg.heartbeat_s,
                   checks=cfg.checks, alarm_poll_interval_s=cfg.alarm_poll_interval_s,
                   config=cfg)

    def start(self) -> None:
        """Open the driver, then connect the publisher (and listen on the config topic)."""
        self.driver.open()
        if self.config is not None:
            self.publisher.subscribe(Topics.config(self.site, self.device), self._on_config)
        self.publisher.start()
        self._started_at = time.monotonic()

    def _on_config(self, topic: str, payload: bytes) -> None:
        """paho's thread: keep the pushed config for the run loop (applied between polls)."""
        if len(self._pushed) == self._pushed.maxlen:  # the oldest would go without an answer
            logger.warning("%s: %d pushed configs wait already; the oldest is dropped unanswered"
                           " (push one at a time and wait for its config_ack)", self.device,
                           len(self._pushed))
        self._pushed.append((topic, payload))
        self._wake.set()

    def apply_pushed_configs(self) -> int:
        """Answer every config pushed since the last poll; return how many were applied."""
        applied = 0
        while self._pushed and self.config is not None:
            topic, payload = self._pushed.popleft()
            result = check_remote_config(self.config, topic, payload)
            if isinstance(result, list):
                logger.warning("%s: pushed config refused: %s", self.device, "; ".join(result))
                self._ack(topic, payload, result, _claimed_version(payload))
                continue
            self.config = result
            self.poll_interval_s, self.heartbeat_s = result.poll_interval_s, result.heartbeat_s
            self.alarm_poll_interval_s = result.alarm_poll_interval_s
            self.checks = dict(result.checks)
            # a quantity whose alarm levels are gone is in no alarm (it kept the fast polls)
            self.alarm_level = {k: v for k, v in self.alarm_level.items()
                                if (c := self.checks.get(k[0])) is not None and c.alarm_levels}
            self.publisher.config_version = str(result.version)
            self.publisher.announce_online()  # the retained status names the new version
            logger.info("%s: pushed config version %d applied", self.device, result.version)
            self._ack(topic, payload, [], str(result.version))
            applied += 1
        return applied

    def _ack(self, topic: str, payload: bytes, problems: list[str], version: str | None) -> None:
        assert self.config is not None
        result = "refused" if problems else "applied"
        # the outcome is part of the identity: the same payload pushed twice is applied,
        # then refused as not newer, and both answers must reach the cloud
        ack = ConfigAck(
            id=stable_id("config-ack", self.device, topic, payload, result, self.config.version),
            site=self.site, device=self.device, ts=now_utc(), config_version=version,
            result=result, running_version=str(self.config.version),
            problems=[p[:2000] for p in problems[:50]])
        self.config_acks.append(ack)
        self.publisher.publish(ack)

    def to_event(self, sample: Sample) -> SensorReading | None:
        """The contract event of a sample; None (logged, counted) if the sample breaks the
        contract or the gateway's plausible range."""
        check = self.checks.get(sample.quantity)
        if check is not None and ((check.min is not None and sample.value < check.min)
                                  or (check.max is not None and sample.value > check.max)):
            self.stats.rejected += 1
            logger.error("%s: %s %s %s at %s is outside this sensor's range [%s, %s]: "
                         "refused (sensor fault?)", self.device, sample.quantity,
                         sample.value, sample.unit, sample.ts.isoformat(), check.min, check.max)
            return None
        try:
            return SensorReading(
                id=reading_id(self.device, sample.quantity, sample.ts, sample.station),
                site=self.site,
                device=self.device,
                ts=sample.ts,
                station=sample.station,
                quantity=sample.quantity,  # type: ignore[arg-type]
                value=sample.value,
                unit=sample.unit,
                period_s=sample.period_s,
            )
        except (ValueError, TypeError) as exc:
            self.stats.rejected += 1
            logger.error("%s: sample %s refused: %s", self.device, sample, exc)
            return None

    def _track_alarm(self, sample: Sample) -> None:
        check = self.checks.get(sample.quantity)
        if check is None or not check.alarm_levels:
            return
        level = sum(1 for lv in check.alarm_levels if sample.value >= lv)
        key = (sample.quantity, sample.station)
        before = self.alarm_level.get(key, 0)
        if level != before:
            logger.warning("%s: %s%s at %s %s: alarm level %d → %d", self.device,
                           sample.quantity, f" ({sample.station})" if sample.station else "",
                           sample.value, sample.unit, before, level)
        self.alarm_level[key] = level

    @property
    def current_poll_interval_s(self) -> float:
        """The poll interval now: faster while any checked quantity is at an alarm level."""
        if self.alarm_poll_interval_s is not None and any(self.alarm_level.values()):
            return min(self.alarm_poll_interval_s, self.poll_interval_s)
        return self.poll_interval_s

    def poll_once(self) -> int:
        """Read the driver once and publish what it gave; return how many were published."""
        try:
            samples = self.driver.read()
        except DriverError as exc:
            self.stats.driver_errors += 1
            logger.warning("%s: %s", self.device, exc)
            return 0
        n = 0
        for sample in samples:
            self.stats.samples += 1
            event = self.to_event(sample)
            if event is None:
                continue
            self._track_alarm(sample)
            if self.publisher.publish(event):
                n += 1
        self.stats.published += n
        return n

    def heartbeat(self) -> None:
        """Publish a heartbeat with the agent's health."""
        ts = now_utc()
        health = self.driver if isinstance(self.driver, DriverHealth) else None
        self.publisher.publish(Heartbeat(
            id=stable_id(self.device, "heartbeat", ts.isoformat()),
            site=self.site, device=self.device, ts=ts,
            uptime_s=round(time.monotonic() - self._started_at, 3),
            queue_depth=self.publisher.queue_depth, dropped_events=self.publisher.dropped,
            disk_used_bytes=self.publisher.disk_used_bytes,
            config_version=self.publisher.config_version,
            source_state=health.state if health is not None else None,
            source_reconnects=health.reconnects if health is not None else 0,
        ))

    def run(self) -> AgentStats:
        """Poll until stopped or the driver has nothing more to give."""
        next_beat = time.monotonic()
        while not self._stopping.is_set():
            self._wake.clear()  # set again by a config that arrives from here on
            if self.apply_pushed_configs():  # a shorter heartbeat counts from now
                next_beat = min(next_beat, time.monotonic() + self.heartbeat_s)
            self.poll_once()
            if time.monotonic() >= next_beat:
                self.heartbeat()
                next_beat = time.monotonic() + self.heartbeat_s
            if self.driver.exhausted:
                logger.info("%s: driver exhausted after %d samples", self.device,
                            self.stats.samples)
                break
            self._wake.wait(self.current_poll_interval_s)
        return self.stats

    def request_stop(self) -> None:
        """Ask ``run()`` to return after its current poll."""
        self._stopping.set()
        self._wake.set()

    def stop(self) -> None:
        """Flush and disconnect the publisher, then close the driver."""
        self.publisher.stop()
        self.driver.close()
