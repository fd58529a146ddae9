"""The batch decoder/router: the contract's decode exactly, keys and groups per batch, cheap
to send to another process; the keyed step merges several workers' batches in event time."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import pytest

import ioc.contract as contract
from ioc.contract import (
    MAX_PAYLOAD_BYTES,
    DeadLetter,
    DecodeError,
    SensorReading,
    Topics,
    decode,
    encode,
)
from stream.config import load_config
from stream.counters import FlowCounters
from stream.flow import KeyLogic
from stream.mqtt_wire import Message
from stream.route import UNKEYED, Routed, Router
from stream.rules_config import load_rules
from stream.station import StationProcessor, Tick

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def reading(device: str, minute: int, value: float = 2.0, station: str | None = None,
            rid: str | None = None) -> SensorReading:
    return SensorReading(id=rid or f"{device}-{minute}", site="hue", device=device,
                         ts=NOW - timedelta(hours=1) + timedelta(minutes=minute),
                         station=station, quantity="water_level", value=value, unit="m")


def msg(r: SensorReading) -> Message:
    return Message(Topics.for_event(r), encode(r), 0.0)


GOOD = msg(reading("gauge-1", 0))
CASES = [
    ("good", GOOD.topic, GOOD.payload),
    ("not json", GOOD.topic, b"{nope"),
    ("wrong type", GOOD.topic, GOOD.payload.replace(b'"value":2.0', b'"value":"2"')),
    ("unknown kind", GOOD.topic, GOOD.payload.replace(b'"reading"', b'"rumour"')),
    ("schema version", GOOD.topic, GOOD.payload.replace(b'"v":1', b'"v":9')),
    ("out of range", GOOD.topic, GOOD.payload.replace(b'"value":2.0', b'"value":99.0')),
    ("topic mismatch", "ioc/v1/hue/gauge-2/reading", GOOD.payload),
    ("bad topic", "ioc/v1/hue/reading", GOOD.payload),
    ("unknown topic kind", "ioc/v1/hue/gauge-1/rumour", GOOD.payload),
    ("huge", GOOD.topic, b" " * (MAX_PAYLOAD_BYTES + 1)),
    ("nested", GOOD.topic, b"[" * 5000 + b"]" * 5000),
    ("random bytes", GOOD.topic, bytes(range(256))),
]


def decode_uncached(topic: str, payload: bytes) -> object:
    """The contract's decode with its topic cache emptied first."""
    contract._parse_topic_cached.cache_clear()
    return decode(topic, payload)


@pytest.mark.parametrize(("name", "topic", "payload"), CASES, ids=[c[0] for c in CASES])
def test_cached_topic_check_decodes_as_the_uncached_one(name: str, topic: str,
                                                        payload: bytes) -> None:
    assert Topics.parse(topic) == contract._parse_topic(topic)
    for _ in range(2):  # the second time the topic check comes from the cache
        assert decode(topic, payload) == decode_uncached(topic, payload)


def router() -> Router:
    return Router(load_config(), FlowCounters(), now=lambda: NOW)


def test_router_keys_and_groups_a_batch_in_order() -> None:
    rs = [reading("gauge-1", 0), reading("gauge-2", 0), reading("gauge-1", 5),
          reading("gauge-3", 5, station="gauge-1")]
    bad = Message(GOOD.topic, b"{nope", 0.0)
    r = router()
    out = r([msg(rs[0]), msg(rs[1]), bad, msg(rs[2]), msg(rs[3])])
    unkeyed = [item for key, item in out if key == UNKEYED]
    assert len(unkeyed) == 1
    assert isinstance(unkeyed[0], DeadLetter)
    assert unkeyed[0].code == "json"
    groups = {key: group for key, (_token, group) in
              ((k, v) for k, v in out if k != UNKEYED)}  # type: ignore[misc]
    station_1 = [g.event for g in groups["s:hue/gauge-1"] if isinstance(g, Routed)]
    assert station_1 == [rs[0], rs[2], rs[3]]  # station gauge-1, from two devices, in order
    assert [g.event for g in groups["s:hue/gauge-2"] if isinstance(g, Routed)] == [rs[1]]
    assert r.counters.snapshot() == {"deadletter.decode.json": 1, "in.reading": 4}


def test_router_refuses_times_out_of_range() -> None:
    r = router()
    future = SensorReading(id="f", site="hue", device="gauge-1", ts=NOW + timedelta(hours=2),
                           quantity="water_level", value=2.0, unit="m")
    out = r([msg(future)])
    assert len(out) == 1
    assert out[0][0] == UNKEYED
    assert isinstance(out[0][1], DeadLetter)
    assert "outside the accepted range" in out[0][1].reason
    assert r.counters.snapshot() == {"deadletter.decode.time": 1}


def test_routed_crosses_processes_as_its_raw_message() -> None:
    r = reading("gauge-1", 0)
    m = msg(r)
    routed = Routed(r, m.topic, m.payload)
    blob = pickle.dumps(routed)
    assert len(blob) < len(m.payload) + len(m.topic) + 120
    back = pickle.loads(blob)
    assert isinstance(back, Routed)
    assert back.event == r
    assert not isinstance(decode(back.topic, back.payload), DecodeError)


def test_keyed_step_merges_several_workers_in_event_time() -> None:
    config = load_config()
    station = StationProcessor(config, load_rules(config.rules))
    a = [reading("gauge-1", m, rid=f"a{m}") for m in (0, 2, 4)]
    b = [reading("gauge-1", m, rid=f"b{m}") for m in (1, 3)]

    def run(values: list[tuple[int, list[object]]]) -> list[str]:
        logic = KeyLogic(station, None, None, snapshots=False)  # type: ignore[arg-type]
        out, _discard = logic.on_batch(values)  # type: ignore[arg-type]
        return [e.id for e in out if isinstance(e, SensorReading)]

    def routed(rs: list[SensorReading]) -> list[object]:
        return [Routed(r, *msg(r)[:2]) for r in rs]

    # two workers' batches: merged by time
    assert run([(1, routed(a)), (2, routed(b))]) == ["a0", "b1", "a2", "b3", "a4"]
    # one worker's batches: its own order, even when out of order in time
    late = [a[2], a[0]]
    assert run([(1, routed(late)), (1, routed([a[1]]))]) == ["a4", "a0", "a2"]
    # ticks merge by their watermark; a snapshot is a copy of the state, later batches
    # do not change it
    logic = KeyLogic(station, None, None, snapshots=True)  # type: ignore[arg-type]
    logic.on_batch([(1, routed(a[:2])), (2, [Tick(a[1].ts)])])
    snap = logic.snapshot()
    assert isinstance(snap, bytes)
    logic.on_batch([(1, routed(a[2:]))])
    assert [t for t in pickle.loads(snap).rise.times] == [r.ts.timestamp() for r in a[:2]]
    assert logic.state.rise.times == [r.ts.timestamp() for r in a]  # type: ignore[union-attr]
    assert KeyLogic(station, None, None, snapshots=False).snapshot() is None  # type: ignore[arg-type]
