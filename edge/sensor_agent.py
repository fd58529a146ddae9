"""The sensor gateway agent: polls a driver, publishes readings at QoS 1, sends heartbeats."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from edge.drivers.base import Sample, SensorDriver
from edge.publisher import MqttPublisher
from ioc.contract import Heartbeat, SensorReading, now_utc, reading_id, stable_id

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class AgentStats:
    """What the agent did, for heartbeats and summaries."""

    samples: int = 0
    published: int = 0
    rejected: int = 0


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
    ) -> None:
        self.site = site
        self.device = device
        self.driver = driver
        self.publisher = publisher
        self.poll_interval_s = poll_interval_s
        self.heartbeat_s = heartbeat_s
        self.stats = AgentStats()
        self._stopping = threading.Event()
        self._started_at = time.monotonic()

    def start(self) -> None:
        """Open the driver, then connect the publisher."""
        self.driver.open()
        self.publisher.start()
        self._started_at = time.monotonic()

    def to_event(self, sample: Sample) -> SensorReading | None:
        """The contract event of a sample; None (logged, counted) if the sample breaks it."""
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

    def poll_once(self) -> int:
        """Read the driver once and publish what it gave; return how many were published."""
        n = 0
        for sample in self.driver.read():
            self.stats.samples += 1
            event = self.to_event(sample)
            if event is not None and self.publisher.publish(event):
                n += 1
        self.stats.published += n
        return n

    def heartbeat(self) -> None:
        """Publish a heartbeat with the agent's health."""
        ts = now_utc()
        self.publisher.publish(Heartbeat(
            id=stable_id(self.device, "heartbeat", ts.isoformat()),
            site=self.site, device=self.device, ts=ts,
            uptime_s=round(time.monotonic() - self._started_at, 3),
            queue_depth=self.publisher.queue_depth, dropped_events=self.publisher.dropped,
            disk_used_bytes=self.publisher.disk_used_bytes,
        ))

    def run(self) -> AgentStats:
        """Poll until stopped or the driver has nothing more to give."""
        next_beat = time.monotonic()
        while not self._stopping.is_set():
            self.poll_once()
            if time.monotonic() >= next_beat:
                self.heartbeat()
                next_beat = time.monotonic() + self.heartbeat_s
            if self.driver.exhausted:
                logger.info("%s: driver exhausted after %d samples", self.device,
                            self.stats.samples)
                break
            self._stopping.wait(self.poll_interval_s)
        return self.stats

    def request_stop(self) -> None:
        """Ask ``run()`` to return after its current poll."""
        self._stopping.set()

    def stop(self) -> None:
        """Flush and disconnect the publisher, then close the driver."""
        self.publisher.stop()
        self.driver.close()
