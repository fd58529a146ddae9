"""Readings and aggregates to an InfluxDB v2 write API through influxdb-client.

Any server speaking that protocol works (InfluxDB 2.x/3.x, VictoriaMetrics, …).
Points are identified by measurement, tag set and timestamp, which is exactly
InfluxDB's own point identity: writing the same point twice overwrites it, so
replays after a crash change nothing (VictoriaMetrics needs
``-dedup.minScrapeInterval`` for the same effect).

Batching is aligned with Bytewax epochs rather than left to the WriteApi's
background batching: that mode's ``flush()`` does nothing (influxdb-client 1.50,
``WriteApi.flush`` is a TODO), so points it still held when the process was
killed would be lost although the epoch that produced them was committed. Here
each sink partition buffers line protocol, writes a batch synchronously
(``WriteApi`` in synchronous mode) whenever ``batch_size`` lines are buffered,
and writes the rest in ``snapshot()``, which Bytewax calls before it commits an
epoch: what a committed epoch produced is on the server. Failed writes are
retried with back-off; a batch that still fails is logged with its size and
kept for the next attempt (bounded), never raised into the dataflow.
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import Any

from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from cloud.stores.timeseries import Point
from ioc.contract import Aggregate, SensorReading
from stream.config import InfluxConfig
from stream.sinks import to_point

logger = logging.getLogger(__name__)

_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_TAG_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\="})


def _field(value: float | int | str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def line_protocol(point: Point) -> str:
    """One point as an InfluxDB line (nanosecond timestamp)."""
    tags = "".join(
        f",{k.translate(_TAG_ESCAPES)}={v.translate(_TAG_ESCAPES)}"
        for k, v in sorted(point.tags.items()) if v != ""
    )
    fields = ",".join(f"{k.translate(_TAG_ESCAPES)}={_field(v)}"
                      for k, v in point.fields.items())
    return f"{point.measurement.translate(_MEASUREMENT_ESCAPES)}{tags} {fields} {point.ts_ns}"


MAX_BUFFERED_LINES = 500_000
OUTAGE_MAX_PAUSE_S = 30.0  # longest pause between tries while the server is away


class InfluxWriter:
    """A synchronous writer of line-protocol batches with retries (one per sink partition)."""

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self._client: Any = None
        self._api: Any = None
        self.written = 0
        self.failures = 0

    def start(self) -> None:
        """Create the client (no request is made yet)."""
        # imported here, not with the module: influxdb_client took 0.24 s of the 0.63 s
        # that importing the dataflow took, and most deployments write to the embedded
        # store only
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        cfg = self.config
        self._client = InfluxDBClient(url=cfg.url, token=cfg.token(), org=cfg.org,
                                      timeout=cfg.timeout_ms)
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: list[str], *, attempts: int = 4) -> bool:
        """Write lines in one request, retrying with back-off; True when written."""
        if not lines:
            return True
        if self._api is None:
            self.start()
        delay = 0.2
        for attempt in range(1, attempts + 1):
            try:
                self._api.write(bucket=self.config.bucket, org=self.config.org,
                                record="\n".join(lines), write_precision="ns")
                self.written += len(lines)
                return True
            except Exception as exc:  # network, HTTP 4xx/5xx: report, retry, never crash
                self.failures += 1
                logger.warning("influx %s: writing %d points failed (attempt %d/%d): %s",
                               self.config.url, len(lines), attempt, attempts, exc)
                if attempt < attempts:
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
        return False

    def close(self) -> None:
        """Release the client."""
        if self._client is not None:
            self._client.close()
            self._client = None
            self._api = None


class _InfluxPartition(StatefulSinkPartition[SensorReading | Aggregate, None]):
    def __init__(self, config: InfluxConfig) -> None:
        self._writer = InfluxWriter(config)
        self._batch = config.batch_size
        self._buffer: list[str] = []
        self._away = False  # the last write failed: the server is taken to be away
        self._pause = 1.0
        self._retry_at = 0.0

    def _drain(self, everything: bool) -> None:
        if time.monotonic() < self._retry_at:  # the server is away: only buffer until the next try
            self._cap()
            return
        while self._buffer and (everything or len(self._buffer) >= self._batch):
            chunk = self._buffer[: self._batch]
            if not self._writer.write(chunk, attempts=1 if self._away else 4):
                # every batch had waited out four attempts in the dataflow's thread, with
                # four warnings, for as long as the server was away: now one try per pause
                self._pause = min(self._pause * 2, OUTAGE_MAX_PAUSE_S) if self._away else 1.0
                if not self._away:
                    logger.error("influx %s: server unreachable; buffering points and trying"
                                 " again every %.0f s at most", self._writer.config.url,
                                 OUTAGE_MAX_PAUSE_S)
                self._away = True
                self._retry_at = time.monotonic() + self._pause
                self._cap()
                return
            if self._away:
                logger.warning("influx %s: server back; writing the %d points buffered",
                               self._writer.config.url, len(self._buffer))
                self._away, self._retry_at = False, 0.0
            del self._buffer[: len(chunk)]

    def _cap(self) -> None:
        if len(self._buffer) > MAX_BUFFERED_LINES:
            dropped = len(self._buffer) - MAX_BUFFERED_LINES
            logger.error("influx: server unreachable; dropping the %d oldest points", dropped)
            del self._buffer[:dropped]

    def write_batch(self, values: list[SensorReading | Aggregate]) -> None:
        self._buffer.extend(line_protocol(to_point(v)) for v in values)
        self._drain(everything=False)

    def snapshot(self) -> None:
        self._drain(everything=True)

    def close(self) -> None:
        self._retry_at = 0.0  # a last try, whatever the pause
        self._drain(everything=True)
        if self._buffer:  # the server is still away: say what is lost, not only that it failed
            logger.error("influx: %s did not take the last %d points before the stream stopped;"
                         " they are lost (the SQLite store has them)", self._writer.config.url,
                         len(self._buffer))
        self._writer.close()


class InfluxSink(FixedPartitionedSink[SensorReading | Aggregate, None]):
    """Readings and aggregates, keyed by series, to an InfluxDB v2 write API."""

    def __init__(self, config: InfluxConfig, partitions: int = 1) -> None:
        self.config = config
        self.partitions = partitions

    def list_parts(self) -> list[str]:
        return [f"influx-{i}" for i in range(self.partitions)]

    def part_fn(self, item_key: str) -> int:
        return zlib.adler32(item_key.encode())

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _InfluxPartition:
        return _InfluxPartition(self.config)
