"""The dataflow's own throughput, and its scale-out over processes, with the broker out of
the way: a flood of water-level readings from 100 gauges (as the peer harness sends them,
10 % above 3.5 m, each above-threshold reading a fresh crossing) is fed from memory through
a partitioned source into the full flow (decode and validate, per-station state: rate of
rise and the alert rules, stores in SQLite, alerts published to a real Mosquitto), and the
wall time to the end is measured for one process and for a cluster of two (``-a``
addresses, one worker each, stores per process). The input is split by device, as a
sticky broker would; the keyed step still sends about half the readings to the other
process (Bytewax routes keys by its own hash), as it does with a shared subscription.
The input never waits on a broker, so the ratio is the dataflow's own scale-out, bounded
by the cores the machine gives it: printed are CPU seconds per process, the load average,
and, as the ceiling, two independent processes that each run the flow on half the gauges
(no cluster, nothing exchanged).
Baseline in the same run: ``json.loads`` of the same messages.

    .venv/bin/python bench/stream_bench.py            # 100,000 readings
    .venv/bin/python bench/stream_bench.py -n 20000   # quicker
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import socket
import tempfile
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.run import cli_main

from cloud.stores.events import SqliteEventStore
from cloud.stores.timeseries import SqliteTimeSeriesStore
from ioc.broker import MosquittoBroker
from ioc.contract import SensorReading, Topics, encode
from stream.config import load_config
from stream.flow import FlowIO, build_flow
from stream.mqtt_source import MqttMessage
from stream.runner import tune_gc

ROOT = Path(__file__).resolve().parents[1]
DEVICES = [f"gauge-{i:03d}" for i in range(100)]


def messages(n: int) -> list[MqttMessage]:
    """n readings round-robin over 100 gauges; every 10th reading of a gauge above 3.5 m."""
    t0 = datetime.now(UTC) - timedelta(hours=1)
    out = []
    for i in range(n):
        d, k = i % 100, i // 100
        above = (k + d) % 10 == 0
        r = SensorReading(id=f"b-{i}", site="hue", device=DEVICES[d],
                          ts=t0 + timedelta(milliseconds=i), quantity="water_level",
                          value=3.6 if above else 2.5, unit="m")
        out.append(MqttMessage(Topics.for_event(r), encode(r), 0.0))
    return out


FIRST_BATCH: list[float] = []  # wall time of the first batch this process read


class _Part(StatefulSourcePartition[MqttMessage, int]):
    def __init__(self, items: list[MqttMessage], at: int) -> None:
        self.items, self.at = items, at

    def next_batch(self) -> list[MqttMessage]:
        if not FIRST_BATCH:
            FIRST_BATCH.append(time.time())
        if self.at >= len(self.items):
            raise StopIteration
        batch = self.items[self.at:self.at + 1000]
        self.at += len(batch)
        return batch

    def snapshot(self) -> int:
        return self.at


class MemorySource(FixedPartitionedSource[MqttMessage, int]):
    """Messages split into partitions by device (as a sticky broker would)."""

    def __init__(self, msgs: list[MqttMessage], partitions: int, only: str | None = None
                 ) -> None:
        self.parts = {f"p{i}": [] for i in range(partitions)}  # type: dict[str, list]
        for m in msgs:
            device = m.topic.split("/")[3]
            self.parts[f"p{zlib.adler32(device.encode()) % partitions}"].append(m)
        if only is not None:  # one partition only: an independent process (no cluster)
            self.parts = {only: self.parts[only]}

    def list_parts(self) -> list[str]:
        return list(self.parts)

    def build_part(self, step_id: str, for_part: str, resume: int | None) -> _Part:
        return _Part(self.parts[for_part], resume or 0)


def _process(n: int, partitions: int, index: int, addresses: list[str] | None, workdir: str,
             port: int, result: mp.Queue, independent: bool) -> None:
    config = load_config().model_copy(update={"rules": ROOT / "bench/peers/rules.yaml"})
    mqtt = {"port": port}
    if independent:  # two separate services: each its own client ids on the broker
        mqtt["client_id"] = f"{config.mqtt.client_id}-{index}"
    config = config.model_copy(update={"mqtt": config.mqtt.model_copy(update=mqtt)})
    d = Path(workdir)
    io = FlowIO(timeseries=SqliteTimeSeriesStore(d / f"ts-{index}.sqlite"),
                events=SqliteEventStore(d / f"events-{index}.sqlite"),
                ready=threading.Event(), stop=threading.Event(), watchlist=None,
                source=MemorySource(messages(n), partitions,
                                    only=f"p{index}" if independent else None))
    flow = build_flow(config, io)
    tune_gc()  # as the service does
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    cli_main(flow, workers_per_process=1, process_id=index if addresses else None,
             addresses=addresses)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    result.put((index, (FIRST_BATCH[0], time.time()), io.counters.snapshot(), cpu))


def run(n: int, processes: int, port: int, *, independent: bool = False
        ) -> tuple[float, dict[str, int], list[float]]:
    """Wall time for the flow over n readings with ``processes`` processes (a cluster, or
    with ``independent`` separate dataflows each given its share of the gauges)."""
    with tempfile.TemporaryDirectory() as workdir:
        addresses = None
        if processes > 1 and not independent:
            socks = [socket.socket() for _ in range(processes)]
            for s in socks:
                s.bind(("127.0.0.1", 0))
            addresses = [f"127.0.0.1:{s.getsockname()[1]}" for s in socks]
            for s in socks:
                s.close()
        ctx = mp.get_context("spawn")
        result: mp.Queue = ctx.Queue()
        procs = [ctx.Process(target=_process, args=(n, processes, i, addresses, workdir, port,
                                                    result, independent)) for i in range(processes)]
        for p in procs:
            p.start()
        outs = [result.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(60)
        # from the first batch read anywhere to the last process done: start-up excluded
        wall = max(o[1][1] for o in outs) - min(o[1][0] for o in outs)
        totals: dict[str, int] = {}
        for _i, _dt, counters, _cpu in outs:
            for k, v in counters.items():
                totals[k] = totals.get(k, 0) + v
        return wall, totals, [o[3] for o in sorted(outs)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=100_000)
    a = ap.parse_args()
    msgs = messages(a.n)
    t = time.perf_counter()
    for m in msgs:
        json.loads(m.payload)
    base = a.n / (time.perf_counter() - t)
    with tempfile.TemporaryDirectory() as tmp:  # alerts go out through a real Mosquitto
        broker = MosquittoBroker(Path(tmp))
        broker.start()
        try:
            load = os.getloadavg()[0]
            one, c1, cpu1 = run(a.n, 1, broker.port)
            two, c2, cpu2 = run(a.n, 2, broker.port)
            ind, c3, cpu3 = run(a.n, 2, broker.port, independent=True)
        finally:
            broker.stop()
    for name, counters in (("1 process", c1), ("2 processes", c2), ("2 independent", c3)):
        assert counters.get("in.reading") == a.n, (name, counters)
    print(f"{a.n} readings, 100 gauges, 10 % crossing 3.5 m; full flow with SQLite stores")
    print(f"baseline json.loads          {base:>10,.0f} msg/s")
    print(f"flow, 1 process              {a.n / one:>10,.0f} msg/s  ({one:.1f} s wall,"
          f" {c1.get('out.alert', 0)} alert changes, {sum(cpu1) / a.n * 1e6:.0f} us CPU"
          " per reading)")
    print(f"flow, 2 processes (cluster)  {a.n / two:>10,.0f} msg/s  ({two:.1f} s wall,"
          f" {c2.get('out.alert', 0)} alert changes, {sum(cpu2) / a.n * 1e6:.0f} us CPU"
          f" per reading)  = {one / two:.2f}x one process")
    print(f"2 independent processes      {a.n / ind:>10,.0f} msg/s  ({ind:.1f} s wall,"
          f" {c3.get('out.alert', 0)} alert changes, {sum(cpu3) / a.n * 1e6:.0f} us CPU"
          f" per reading)  = {one / ind:.2f}x one process: what this machine gives two"
          " processes that share nothing")
    print(f"CPU seconds per process: 1 process {cpu1[0]:.1f}; cluster "
          + " + ".join(f"{c:.1f}" for c in cpu2)
          + f" (CPU-bound when close to the wall time); {os.cpu_count()} cores,"
          f" load average {load:.1f} at the start")
    print("(wall time from the first batch read to the end of the last process)")


if __name__ == "__main__":
    main()
