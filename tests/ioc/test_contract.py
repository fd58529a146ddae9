"""The wire contract: round trips of every event, and every bad input with its named error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from ioc import contract as c

TS = datetime(2025, 11, 3, 1, 0, tzinfo=UTC)


def _reading(**kw: object) -> c.SensorReading:
    base: dict[str, object] = dict(id="kimlong-01:water_level:1", site="hue", device="kimlong-01",
                                   ts=TS, station="kimlong", quantity="water_level", value=3.54,
                                   unit="m")
    base.update(kw)
    return c.SensorReading(**base)  # type: ignore[arg-type]


EVENTS: list[c.Event] = [
    _reading(),
    c.SensorReading(id="r2", site="hue", device="rain-aluoi-01", ts=TS, quantity="rain",
                    value=4.2, unit="mm", period_s=600),
    c.VehicleTrack(id="v1", site="hue", device="cam-01", ts=TS, camera="cam-01", track_id=7,
                   vehicle_class=c.VehicleClass.MOTORBIKE, first_seen=TS, last_seen=TS,
                   speed_kmh=31.5, confidence=0.9, lane="l1"),
    c.PlateRead(id="p1", site="hue", device="cam-01", ts=TS, camera="cam-01", track_id=7,
                plate="75A12345", raw_text="75A-123.45", layout="one_line",
                vehicle_class=c.VehicleClass.CAR, confidence=0.97, valid=True),
    c.Violation(id="x1", site="hue", device="cam-01", ts=TS, camera="cam-01", track_id=7,
                violation=c.ViolationType.RED_LIGHT, vehicle_class=c.VehicleClass.CAR,
                plate="75A12345", plate_color="white", location="Lê Lợi x Hùng Vương",
                rule={"stop_line": "s1", "red_for_s": 2.5},
                evidence=[c.EvidenceImage("img-1", "at", TS, "a" * 64)]),
    c.DeviceStatus(id="s1", site="hue", device="cam-01", ts=TS, state="online"),
    c.Heartbeat(id="h1", site="hue", device="cam-01", ts=TS, uptime_s=12.5, fps=9.8,
                inference_ms=14.2, queue_depth=3),
    c.Alert(id="a1-1", site="hue", device="kimlong-01", ts=TS, alert_id="a1",
            status=c.AlertStatus.RAISED, category="weather", subcategory="flood",
            severity=c.Severity.CRITICAL, station="kimlong", level=3, value=3.54,
            threshold=3.5, unit="m", since=TS, reading_id="r1"),
    c.Aggregate(id="g1", site="hue", device="kimlong-01", ts=TS, station="kimlong",
                measure="rain_total", window_s=3600, value=12.0, unit="mm", samples=6),
    c.DeadLetter(id="d1", site="hue", device="stream", ts=TS, step="decode", code="json",
                 reason="bad", topic="t", payload="{", payload_size=1),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_round_trip(event: c.Event) -> None:
    topic = c.Topics.for_event(event)
    data = c.encode(event)
    assert c.decode_any(topic, data) == event
    if type(event) in (c.Alert, c.Aggregate, c.DeadLetter):
        assert isinstance(c.decode(topic, data), c.DecodeError)  # not a device topic
    else:
        assert c.decode(topic, data) == event


def test_every_event_carries_version_and_kind() -> None:
    for event in EVENTS:
        doc = msgspec.json.decode(c.encode(event))
        assert doc["v"] == c.SCHEMA_VERSION
        assert doc["kind"] == c.KIND_OF[type(event)]


GOOD = c.encode(_reading())
TOPIC = "ioc/v1/hue/kimlong-01/reading"


@pytest.mark.parametrize(
    ("topic", "payload", "code", "needle"),
    [
        (TOPIC, b"{", "json", "truncated"),
        (TOPIC, b"\xff\xfe\x00", "json", "malformed"),
        (TOPIC, b"[1,2]", "schema", "Expected `object`, got `array`"),
        (TOPIC, b"{}", "schema", "missing required field"),
        (TOPIC, GOOD.replace(b'"reading"', b'"teleport"'), "schema", "$.kind"),
        (TOPIC, GOOD.replace(b"3.54", b'"high"'), "schema", "$.value"),
        (TOPIC, GOOD.replace(b'"v":1', b'"v":2'), "schema", "schema version 2"),
        (TOPIC, GOOD.replace(b'"m"', b'"cm"'), "schema", "$.unit"),
        (TOPIC, GOOD.replace(b"3.54", b"354"), "schema", "outside the possible range"),
        (TOPIC, GOOD.replace(b'Z"', b'"'), "schema", "timezone"),
        (TOPIC, GOOD[:-1] + b',"extra":1}', "schema", "unknown field `extra`"),
        (TOPIC, GOOD.replace(b'"hue"', b'"Hue City"'), "schema", "$.site"),
        (TOPIC, b"[" * 10000 + b"]" * 10000, "schema", "Expected `object`"),
        (TOPIC, b" " * (c.MAX_PAYLOAD_BYTES + 1), "size", "exceeds"),
        ("ioc/v1/hue/kimlong-01", GOOD, "topic", "is not ioc/v1"),
        ("ioc/v1/hue/alerts/reading", GOOD, "topic", "not a device name"),
        ("ioc/v1/hue/kimlong-01/bogus", GOOD, "topic", "kind 'bogus'"),
        ("ioc/v1/hue/phuoc-01/reading", GOOD, "mismatch", "phuoc-01"),
        ("ioc/v1/hue/kimlong-01/plate", GOOD, "mismatch", "plate"),
    ],
)
def test_bad_input_is_a_named_error(topic: str, payload: bytes, code: str, needle: str) -> None:
    result = c.decode(topic, payload)
    assert isinstance(result, c.DecodeError), result
    assert result.code == code
    assert needle in result.reason
    assert topic in result.reason or code == "size"


def test_dead_letter_of_an_error_is_stable_and_bounded() -> None:
    err = c.decode(TOPIC, b"\x00" * 5000 + b"{")
    assert isinstance(err, c.DecodeError)
    dl1 = err.to_deadletter("hue", "decode", TS)
    dl2 = err.to_deadletter("hue", "decode", TS + timedelta(seconds=5))
    assert dl1.id == dl2.id  # a replayed bad message is the same dead letter
    assert dl1.payload_size == 5001
    assert len(dl1.payload) <= 4096
    assert c.decode_any(c.Topics.for_event(dl1), c.encode(dl1)) == dl1


def test_topics_refuse_what_breaks_the_layout() -> None:
    assert c.Topics.device("hue", "kimlong-01", "reading") == TOPIC
    assert c.Topics.shared("g", c.Topics.device_filter("reading")) == "$share/g/ioc/v1/+/+/reading"
    assert c.Topics.parse(TOPIC) == c.TopicParts("hue", "kimlong-01", "reading")
    with pytest.raises(c.ContractError, match="reserved"):
        c.Topics.device("hue", "alerts", "reading")
    with pytest.raises(c.ContractError, match="not a slug"):
        c.Topics.device("hue", "Kim Long", "reading")
    with pytest.raises(c.ContractError, match="unknown event kind"):
        c.Topics.device("hue", "kimlong-01", "alert")


def test_reading_id_is_stable_and_naive_time_refused() -> None:
    assert c.reading_id("d", "rain", TS) == c.reading_id("d", "rain", TS)
    assert c.reading_id("d", "rain", TS) != c.reading_id("d", "rain", TS + timedelta(seconds=1))
    with pytest.raises(c.ContractError, match="naive"):
        c.utc(datetime(2025, 1, 1))
