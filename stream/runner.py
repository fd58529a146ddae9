"""Running the dataflow: in a background thread (demo, tests) or in the foreground (service)."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from datetime import timedelta
from pathlib import Path
from types import FrameType

from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from cloud.stores.events import SqliteEventStore
from cloud.stores.timeseries import SqliteTimeSeriesStore
from cloud.stores.watchlist import SqliteWatchlistStore
from stream.config import StreamConfig
from stream.flow import FlowIO, build_flow

logger = logging.getLogger(__name__)


def embedded_io(config: StreamConfig, *, share_group: str | None = None) -> FlowIO:
    """Flow I/O on the embedded stores named in the config, with fresh ready/stop events."""
    events_path = config.store.events_path
    return FlowIO(
        timeseries=SqliteTimeSeriesStore(config.store.timeseries_path),
        events=SqliteEventStore(events_path),
        ready=threading.Event(),
        stop=threading.Event(),
        share_group=share_group,
        # the police watchlist lives in the events file, edited by the cloud API
        watchlist=lambda: SqliteWatchlistStore(events_path),
    )


def recovery_config(config: StreamConfig) -> RecoveryConfig | None:
    """Bytewax's recovery config for ``config``, creating the partitions on first use.

    Recovery partitions are made once, as many as the source has partitions (at least
    one); the input logs live beside them (``<dir>/input``)."""
    rc = config.recovery
    if rc.dir is None:
        return None
    db_dir = Path(rc.dir) / "bytewax"
    if not any(db_dir.glob("part-*.sqlite3")):
        db_dir.mkdir(parents=True, exist_ok=True)
        init_db_dir(db_dir, config.partitions)
        logger.info("recovery: created %d partitions in %s", config.partitions, db_dir)
    return RecoveryConfig(db_dir, backup_interval=timedelta(seconds=rc.backup_interval_s))


def run_flow(config: StreamConfig, io: FlowIO, *, workers: int = 1, process_id: int | None = None,
             addresses: list[str] | None = None) -> None:
    """Run the dataflow in this thread until its source ends (one process of a cluster
    when ``addresses`` is given)."""
    cli_main(
        build_flow(config, io),
        workers_per_process=workers,
        process_id=process_id,
        addresses=addresses,
        epoch_interval=timedelta(seconds=config.recovery.epoch_interval_s),
        recovery_config=recovery_config(config),
    )


class StreamRunner:
    """The dataflow in a background thread: ``start()`` waits for the subscription,
    ``stop()`` lets the flow drain what it received, flush its sinks and end."""

    def __init__(self, config: StreamConfig, io: FlowIO, *, workers: int = 1,
                 process_id: int | None = None, addresses: list[str] | None = None) -> None:
        if io.ready is None or io.stop is None:
            raise ValueError("StreamRunner needs FlowIO with ready and stop events")
        self.config = config
        self.io = io
        self.workers = workers
        self.process_id = process_id
        self.addresses = addresses
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            run_flow(self.config, self.io, workers=self.workers, process_id=self.process_id,
                     addresses=self.addresses)
        except BaseException as exc:  # reported by start()/stop() in the calling thread
            self.error = exc
            logger.exception("dataflow failed")
            assert self.io.ready is not None
            self.io.ready.set()

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the flow and wait until its MQTT subscription is acknowledged."""
        self._thread = threading.Thread(target=self._run, name="dataflow", daemon=True)
        self._thread.start()
        assert self.io.ready is not None
        if not self.io.ready.wait(timeout_s) or self.error is not None:
            raise RuntimeError(f"dataflow did not subscribe within {timeout_s} s: {self.error}")

    def stop(self, timeout_s: float = 60.0) -> None:
        """Ask the flow to finish and wait for it."""
        assert self.io.stop is not None
        self.io.stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise RuntimeError(f"dataflow did not stop within {timeout_s} s")
        if self.error is not None:
            raise RuntimeError(f"dataflow failed: {self.error}") from self.error


def tune_gc() -> None:
    """Garbage collection for a long-running flow: what start-up made (modules, config,
    rules) is frozen out of every collection, and the young generation is collected
    every 20,000 allocations instead of 700. A reading allocates dozens of short-lived
    objects that reference counting frees anyway; scanning for cycles that often cost
    the flood benchmark ~5 % of its time."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def run_foreground(config: StreamConfig, *, workers: int = 1, process_id: int | None = None,
                   addresses: list[str] | None = None) -> int:
    """Run the flow until SIGINT or SIGTERM, then drain and exit."""
    io = embedded_io(config)
    runner = StreamRunner(config, io, workers=workers, process_id=process_id,
                          addresses=addresses)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.warning("signal %s: draining and stopping", signum)
        assert io.stop is not None
        io.stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    tune_gc()
    runner.start()
    logger.warning("stream running: mqtt %s:%s, site %s, %d worker(s), process %s of %s,"
                   " recovery %s", config.mqtt.host, config.mqtt.port, config.site, workers,
                   process_id, len(addresses) if addresses else 1, config.recovery.dir)
    assert io.stop is not None
    while not io.stop.wait(10):
        logger.info("stream counters: %s", io.counters.snapshot())
    runner.stop()
    logger.warning("stream stopped; counters: %s", io.counters.snapshot())
    return 0
