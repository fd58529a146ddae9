"""Per-event cost of the stream's aggregators, against baselines measured in the same run.

    .venv/bin/python bench/aggregates_bench.py [-n 200000]

Baselines: a bare dict counter keyed by hour (the least any windowed aggregate can do)
and the existing rain aggregator (:class:`stream.rain.RainWindows`). Measured: the air
station (:class:`stream.air.AirStation`, six pollutants, one reading each a minute) and
the camera (:class:`stream.traffic.CameraTraffic`, a vehicle pass every 0.2 s on four
lanes, 1 % out of order, 1 % repeated, a violation every 100 passes). Each includes the
windows it closes and the aggregates it builds. Events are built before timing.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from ioc.contract import VehicleClass, VehicleTrack, Violation, ViolationType
from stream.air import AirStation
from stream.rain import RainWindows
from stream.traffic import CameraTraffic

T0 = datetime(2025, 11, 3, tzinfo=UTC)
POLLUTANTS = ("pm25", "pm10", "o3", "no2", "so2", "co")


def _time(fn: Callable[[], int], n: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    produced = fn()
    return (time.perf_counter() - t0) / n * 1e6, produced


def _readings(n: int) -> list[tuple[datetime, str, float]]:
    rng = random.Random(1)
    return [(T0 + timedelta(minutes=i // 6), POLLUTANTS[i % 6], rng.uniform(5, 120))
            for i in range(n)]


def _traffic(n: int) -> Sequence[VehicleTrack | Violation]:
    rng = random.Random(2)
    out: list[VehicleTrack | Violation] = []
    classes = list(VehicleClass)
    for i in range(n):
        at = T0 + timedelta(seconds=i * 0.2 - (5 if rng.random() < 0.01 else 0))
        if i % 100 == 99:
            out.append(Violation(id=f"v{i}", site="hue", device="gw", ts=at, camera="cam",
                                 track_id=i, violation=ViolationType.RED_LIGHT,
                                 vehicle_class=VehicleClass.MOTORBIKE, location="x"))
            continue
        ev = VehicleTrack(id=f"t{i}", site="hue", device="gw", ts=at, camera="cam", track_id=i,
                          vehicle_class=rng.choice(classes), lane=str(i % 4),
                          first_seen=at - timedelta(seconds=3), last_seen=at,
                          speed_kmh=rng.uniform(5, 60), confidence=0.9)
        out.append(ev)
        if rng.random() < 0.01:
            out.append(ev)  # at-least-once delivery
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=200_000)
    n = ap.parse_args().n
    readings = _readings(n)
    events = _traffic(n)

    def bare() -> int:
        counts: dict[int, int] = {}
        for ts, _q, _v in readings:
            k = int(ts.timestamp()) // 3600
            counts[k] = counts.get(k, 0) + 1
        return len(counts)

    def rain() -> int:
        rw = RainWindows()
        return sum(len(rw.add(ts, v / 100).totals) for ts, _q, v in readings)

    def air() -> int:
        st = AirStation(site="hue", station="s1", device="d1")
        return sum(len(st.add(ts, q, v).aggregates) for ts, q, v in readings)

    def traffic() -> int:
        cam = CameraTraffic(site="hue", camera="cam", correction=timedelta(minutes=10))
        return sum(len(cam.add(e).aggregates) for e in events)

    base_us, _ = _time(bare, n)
    rain_us, rain_out = _time(rain, n)
    air_us, air_out = _time(air, n)
    traffic_us, traffic_out = _time(traffic, len(events))
    print(f"{n} air readings ({n // 6} minutes, 6 pollutants), {len(events)} traffic events")
    print(f"{'aggregator':<38}{'us/event':>9}{'events/s':>12}{'vs dict':>9}{'vs rain':>9}"
          f"{'aggregates':>12}")
    for name, us, produced in (("bare dict counter (baseline)", base_us, 0),
                               ("RainWindows.add (baseline)", rain_us, rain_out),
                               ("AirStation.add", air_us, air_out),
                               ("CameraTraffic.add", traffic_us, traffic_out)):
        print(f"{name:<38}{us:>9.2f}{1e6 / us:>12,.0f}{us / base_us:>8.1f}x"
              f"{us / rain_us:>8.2f}x{produced:>12,}")


if __name__ == "__main__":
    main()
