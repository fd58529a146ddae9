"""Decode throughput of the wire contract, against plain ``json.loads`` in the same process.

    .venv/bin/python bench/contract_bench.py [-n 200000]

Prints messages per second for: json.loads alone (no validation, the baseline),
the contract's full decode (topic check, schema, units, ranges), and a bad message
turned into a named error. Ratios are against the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime

from ioc.contract import DecodeError, SensorReading, Topics, decode, encode, reading_id


def _rate(fn, payloads: list[bytes], topic: str) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    for p in payloads:
        fn(topic, p)
    return len(payloads) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=200_000)
    n = ap.parse_args().n
    ts = datetime(2025, 11, 3, tzinfo=UTC)
    event = SensorReading(id=reading_id("kimlong-01", "water_level", ts), site="hue",
                          device="kimlong-01", ts=ts, station="kimlong",
                          quantity="water_level", value=3.54, unit="m")
    topic = Topics.for_event(event)
    good = [encode(event)] * n
    bad = [encode(event).replace(b"3.54", b'"high"')] * n
    assert not isinstance(decode(topic, good[0]), DecodeError)
    assert isinstance(decode(topic, bad[0]), DecodeError)
    base = _rate(lambda _t, p: json.loads(p), good, topic)
    full = _rate(decode, good, topic)
    err = _rate(decode, bad, topic)
    print(f"payload {len(good[0])} B, {n} messages each")
    print(f"json.loads (baseline, no validation)  {base:>10,.0f} msg/s  1.00x")
    print(f"contract decode + validate            {full:>10,.0f} msg/s  {full / base:.2f}x")
    print(f"contract decode of a bad message      {err:>10,.0f} msg/s  {err / base:.2f}x")


if __name__ == "__main__":
    main()
