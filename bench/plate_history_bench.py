"""Plate history over millions of stored reads: exact, one-character-off and prefix latency.

Builds the store once (``--reads`` rows into ``--db``, reused on later runs when the
count matches), then times :meth:`cloud.stores.plates.PlateHistory.search` — the
same call the API makes — for plates that are in the store, and prints p50/p99.
The baseline, measured in the same run on the same file, is a primary-key read
of one row by its id (the cheapest query the table answers); each search is
also printed as a ratio of it.

    .venv/bin/python bench/plate_history_bench.py                 # 10 M reads (builds once)
    .venv/bin/python bench/plate_history_bench.py --reads 200000  # quick
    .venv/bin/python bench/plate_history_bench.py --backend postgres --reads 1000000

Targets (issue 7): exact p99 <= 10 ms, one-off p99 <= 50 ms at 10 M reads.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.stores.db import Database, PostgresDatabase, SqliteDatabase
from cloud.stores.plates import PlateHistory
from cloud.stores.schema import SCHEMA
from cloud.stores.times import to_ns
from ioc.plates import VehicleKind, random_plate

START = datetime(2025, 10, 1, tzinfo=UTC)
SPAN = timedelta(days=30)


def plate_pool(n: int, seed: int) -> list[str]:
    """``n`` distinct plates (cars and motorbikes, mostly Hue's area code)."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        kind = VehicleKind.MOTORBIKE if rng.random() < 0.6 else VehicleKind.CAR
        out.add(random_plate(rng, kind).text)
    return sorted(out)


def rows(n: int, plates: list[str], seed: int) -> Iterator[tuple[object, ...]]:
    """``n`` reads spread over 30 days and 640 cameras; plates drawn with a long tail."""
    rng = random.Random(seed)
    step = SPAN / n
    start = to_ns(START)
    step_ns = int(step.total_seconds() * 1e9)
    count = len(plates)
    for i in range(n):
        # a few plates pass often (commuters), most rarely: index ~ count * u^2
        plate = plates[int(count * rng.random() ** 2)]
        yield (f"r{i:09d}", plate, start + i * step_ns, "hue", f"camgw-{i % 160:03d}",
               f"cam-{i % 640:03d}", i % 100_000, plate, "two_line", "white", "motorbike",
               0.9, 1, None)


def build(db: Database, n: int, distinct: int, seed: int) -> list[str]:
    history = PlateHistory(db)
    plates = plate_pool(distinct, seed)
    have = history.count()
    if have == n:
        print(f"store already holds {n:,} reads", flush=True)
        return plates
    if have:
        sys.exit(f"{have:,} reads in the store, {n:,} asked: remove it or pass another --db")
    print(f"building {n:,} reads of {distinct:,} plates ...", flush=True)
    started = time.perf_counter()
    history.bulk_load(rows(n, plates, seed))
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)
    return plates


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out: list[float] = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else values[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reads", type=int, default=10_000_000)
    ap.add_argument("--plates", type=int, default=None, help="distinct plates (reads/10)")
    ap.add_argument("--db", type=Path, default=None,
                    help="SQLite file (default /tmp/ioc-plate-bench-<reads>.sqlite)")
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    distinct = args.plates or max(args.reads // 10, 1000)
    cluster = None
    db: Database
    if args.backend == "postgres":
        from cloud.stores.pgcluster import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
        db = PostgresDatabase(cluster.create_database(), SCHEMA)
    else:
        db = SqliteDatabase(args.db or Path(f"/tmp/ioc-plate-bench-{args.reads}.sqlite"), SCHEMA)
    try:
        plates = build(db, args.reads, distinct, args.seed)
        history = PlateHistory(db)
        rng = random.Random(args.seed + 1)
        sample = [rng.choice(plates) for _ in range(args.queries)]
        ids = [f"r{rng.randrange(args.reads):09d}" for _ in range(args.queries)]
        day = timedelta(days=1)
        it = iter(range(10**9))

        def each(fn: Callable[[int], object]) -> Callable[[], object]:
            return lambda: fn(next(it) % args.queries)

        for warm in sample[:50]:  # warm the page cache the way a running server has it
            history.search(warm, mode="one_off")
        cases: list[tuple[str, Callable[[], object]]] = [
            ("baseline: one read by id", each(lambda i: history.get(ids[i]))),
            ("exact", each(lambda i: history.search(sample[i]))),
            ("exact, 1-day range", each(lambda i: history.search(
                sample[i], since=START + SPAN / 2, until=START + SPAN / 2 + day))),
            ("exact, one camera", each(lambda i: history.search(sample[i], camera="cam-001"))),
            ("one_off", each(lambda i: history.search(sample[i], mode="one_off"))),
            ("one_off, 1-day range", each(lambda i: history.search(
                sample[i], mode="one_off", since=START + SPAN / 2,
                until=START + SPAN / 2 + day))),
            ("prefix (6 chars)", each(lambda i: history.search(sample[i][:6], mode="prefix"))),
        ]
        found = sum(len(history.search(p)) for p in sample[:200]) / 200
        print(f"\n{args.backend}, {args.reads:,} reads, {distinct:,} plates,"
              f" {args.queries} queries each; {found:.1f} reads per sampled plate on average")
        print(f"{'query':<28}{'p50 ms':>9}{'p99 ms':>9}{'p99 / baseline':>16}")
        base = None
        for name, fn in cases:
            ms = timed(fn, args.queries)
            p50, p99 = pct(ms, 50), pct(ms, 99)
            base = base or p99
            print(f"{name:<28}{p50:>9.3f}{p99:>9.3f}{p99 / base:>15.1f}x", flush=True)
    finally:
        db.close_all()
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
