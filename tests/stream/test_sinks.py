"""The stores' fast row builder gives exactly the rows of the Point path."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ioc.contract import Aggregate, SensorReading
from stream.sinks import to_point, to_row

TS = datetime(2025, 11, 3, 4, 40, 12, 345678, tzinfo=UTC)


@pytest.mark.parametrize(
    "event",
    [
        SensorReading(id="r", site="hue", device="kimlong-01", ts=TS, station="kimlong",
                      quantity="water_level", value=3.54, unit="m"),
        SensorReading(id="r", site="hue", device="aqi-01", ts=TS, quantity="pm25",
                      value=1e-7, unit="ug/m3"),
        Aggregate(id="a", site="hue", device="cam-01", ts=TS, station="cam-01",
                  measure="vehicle_count", window_s=60, value=12, unit="",
                  samples=12, labels={"vehicle_class": "car", "lane": "l1"}),
        Aggregate(id="a", site="hue", device="kimlong-01", ts=TS, station="kimlong",
                  measure="rate_of_rise", window_s=3600, value=0.1333, unit="m/h"),
    ],
)
def test_row_equals_point(event: SensorReading | Aggregate) -> None:
    p = to_point(event)
    measurement, series, ts_ns, fields = to_row(event)
    assert (measurement, series, ts_ns) == (p.measurement, p.series, p.ts_ns)
    assert json.loads(fields) == p.fields
    assert fields == json.dumps({k: float(v) if k == "value" else v for k, v in p.fields.items()},
                                separators=(",", ":"))


def test_alert_publisher_survives_an_unreachable_broker() -> None:
    """Alerts published while the broker is down stay queued; the dataflow keeps going."""
    import socket

    from ioc.contract import DeadLetter
    from stream.sinks import MqttPublishSink

    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    part = MqttPublishSink("127.0.0.1", port).build("mqtt_out", 0, 1)
    dl = DeadLetter(id="d", site="hue", device="stream", ts=TS, step="decode", code="json",
                    reason="bad", topic="t", payload="", payload_size=0)
    part.write_batch([dl, dl])
    part.write_batch([dl])
    assert part.pending() == 3  # queued, not lost, not raised
    part.close()


def test_influx_points_lost_at_close_are_counted_and_named(
        caplog: pytest.LogCaptureFixture) -> None:
    """Points the server never took were dropped at close with nothing said of them."""
    import logging

    from stream.config import InfluxConfig
    from stream.influx import InfluxSink

    config = InfluxConfig(url="http://127.0.0.1:9", token_env=None, timeout_ms=100)
    part = InfluxSink(config).build_part("s", "influx-0", None)
    part._writer.write = lambda lines, attempts=4: False  # the server is away
    ts = datetime(2025, 11, 3, tzinfo=UTC)
    part.write_batch([SensorReading(id=f"r{i}", site="hue", device="k", ts=ts, station="k",
                                    quantity="water_level", value=1.0, unit="m")
                      for i in range(5)])
    with caplog.at_level(logging.ERROR):
        part.close()
    assert ("influx: http://127.0.0.1:9 did not take the last 5 points before the stream"
            " stopped; they are lost" in caplog.text)


def test_while_influx_is_away_batches_are_only_buffered(caplog: pytest.LogCaptureFixture) -> None:
    """Every batch had waited out four attempts in the dataflow's thread (1.4 s, 41 s with
    a server that hangs), with four warnings each, for as long as the server was away."""
    import logging

    from stream.config import InfluxConfig
    from stream.influx import InfluxSink

    part = InfluxSink(InfluxConfig(url="http://127.0.0.1:9", token_env=None,
                                   batch_size=2)).build_part("s", "influx-0", None)
    calls: list[tuple[int, int]] = []
    up = [False]

    def write(lines: list[str], attempts: int = 4) -> bool:
        calls.append((len(lines), attempts))
        return up[0]

    part._writer.write = write  # type: ignore[method-assign]
    ts = datetime(2025, 11, 3, tzinfo=UTC)

    def batch(n: int) -> list[SensorReading]:
        return [SensorReading(id=f"r{n}-{i}", site="hue", device="k", ts=ts, station="k",
                              quantity="water_level", value=1.0, unit="m") for i in range(2)]

    with caplog.at_level(logging.WARNING):
        part.write_batch(batch(0))
        assert calls == [(2, 4)]  # the first failure: the usual attempts
        for n in range(1, 6):
            part.write_batch(batch(n))
        assert calls == [(2, 4)]  # away: buffered, no request
        part._retry_at = 0.0  # the pause is over
        part.write_batch(batch(6))
        assert calls[1:] == [(2, 1)]  # one try
        up[0] = True
        part._retry_at = 0.0
        part.write_batch(batch(7))
    assert len(part._buffer) == 0
    assert sum(n for n, _a in calls[2:]) == 16  # everything buffered went, in batches of 2
    assert caplog.text.count("server unreachable; buffering points") == 1
    assert "server back; writing the 16 points buffered" in caplog.text
