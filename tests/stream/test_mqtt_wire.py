"""MQTT packets of the stream's own client: built as the spec says, cut out of any split."""

from __future__ import annotations

import re

import pytest

from stream.mqtt_wire import (
    Message,
    ProtocolError,
    connect_packet,
    parse,
    pubacks,
    publish_packet,
    set_dup,
    subscribe_packet,
)

# (topic, payload, qos, packet id): sizes around the 1- and 2-byte remaining-length limits
PUBLISHES = [
    ("ioc/v1/hue/gauge-001/reading", b'{"v":1}', 1, 1),
    ("ioc/v1/hue/gauge-002/reading", b"x" * 200, 0, 0),
    ("ioc/v1/hue/cam-01/plate", b"y" * 20_000, 1, 65535),
    ("t", b"", 1, 2),
]
STREAM = b"".join(publish_packet(t, p, q, i) for t, p, q, i in PUBLISHES)


def _cut(chunks: list[bytes], manual: bool) -> tuple[list[Message], list[int], list]:
    buf = bytearray()
    got: list[Message] = []
    acks: list[int] = []
    other: list = []
    for chunk in chunks:
        buf += chunk
        used, ctrl = parse(buf, 1.5, 7, got, acks, manual)
        del buf[:used]
        other += ctrl
    assert not buf
    return got, acks, other


@pytest.mark.parametrize("split", [None, 1, 2, 3, 5, 64, 4096])
@pytest.mark.parametrize("manual", [False, True])
def test_publishes_are_cut_out_of_any_split(split: int | None, manual: bool) -> None:
    chunks = [STREAM] if split is None else [STREAM[i:i + split]
                                             for i in range(0, len(STREAM), split)]
    got, acks, other = _cut(chunks, manual)
    assert [(m.topic, m.payload) for m in got] == [(t, p) for t, p, _q, _i in PUBLISHES]
    assert all(m.received_at == 1.5 for m in got)
    qos1 = [i for _t, _p, q, i in PUBLISHES if q == 1]
    if manual:  # acknowledged later by the owner, with the connection generation
        assert acks == []
        assert [m.ack for m in got] == [(7, i) if q else None for _t, _p, q, i in PUBLISHES]
    else:
        assert acks == qos1
        assert all(m.ack is None for m in got)
    assert other == []


@pytest.mark.parametrize(("packet", "expected"), [
    (b"\x90\x03\x00\x01\x01", (0x90, b"\x00\x01\x01")),  # SUBACK, QoS 1 granted
    (b"\xd0\x00", (0xD0, b"")),  # PINGRESP
    (b"\x40\x02\x12\x34", (0x40, b"\x12\x34")),  # PUBACK
])
def test_control_packets_are_returned_whole(packet: bytes, expected: tuple[int, bytes]) -> None:
    got, _acks, other = _cut([packet + STREAM[:10], STREAM[10:]], manual=False)
    assert other == [expected]
    assert len(got) == len(PUBLISHES)


def test_qos2_is_refused() -> None:
    qos2 = bytes([0x34]) + publish_packet("t", b"p", 1, 9)[1:]
    with pytest.raises(ProtocolError, match="QoS 2"):
        _cut([qos2], manual=False)


def test_connect_subscribe_and_acks_match_the_spec() -> None:
    assert connect_packet("c1", clean_session=False, keepalive_s=30) == (
        b"\x10\x0e\x00\x04MQTT\x04\x00\x00\x1e\x00\x02c1")
    assert connect_packet("c1", clean_session=True, keepalive_s=5)[9] == 0x02
    assert connect_packet("c1", clean_session=False, keepalive_s=30, username="u",
                          password="pw") == (
        b"\x10\x15\x00\x04MQTT\x04\xc0\x00\x1e\x00\x02c1\x00\x01u\x00\x02pw")
    assert connect_packet("c1", clean_session=True, keepalive_s=30, username="u")[9] == 0x82
    with pytest.raises(ValueError, match="password only with a user name"):
        connect_packet("c1", clean_session=True, keepalive_s=30, password="pw")
    assert subscribe_packet(1, ["a/#", "$share/g/b"], 1) == (
        b"\x82\x15\x00\x01\x00\x03a/#\x01\x00\x0a$share/g/b\x01")
    assert pubacks([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"
    assert set_dup(publish_packet("t", b"p", 1, 3))[0] == 0x3A


NEXT = publish_packet("a/b", b"payload", 0)


@pytest.mark.parametrize(("packet", "error"), [
    # a PUBLISH whose own lengths run past its end read the next packet's bytes as its
    # topic or packet id (and PUBACKed a made-up id)
    (b"\x30\x00", "PUBLISH of 0 bytes has no topic length"),
    (b"\x30\x01\x00", "PUBLISH of 1 bytes has no topic length"),
    (b"\x30\x03\x00\x10a", "its topic (16 bytes) run past its end"),
    (b"\x32\x03\x00\x01a", "its topic (1 bytes) and packet id run past its end"),
    (b"\x32\x05\x00\x01a\x00\x00", "with packet id 0"),
    (b"\x30\x04\x00\x02\xff\xfe", "topic is not UTF-8"),
])
def test_a_malformed_publish_is_refused_not_read_past(packet: bytes, error: str) -> None:
    for buf in (packet, packet + NEXT):
        got: list[Message] = []
        acks: list[int] = []
        with pytest.raises(ProtocolError, match=re.escape(error)):
            parse(bytearray(buf), 0.0, 1, got, acks, False)
        assert got == []
        assert acks == []


def test_what_came_before_a_bad_packet_is_cut_out_first() -> None:
    got: list[Message] = []
    with pytest.raises(ProtocolError):
        parse(bytearray(NEXT + b"\x30\x00"), 0.0, 1, got, [], False)
    assert [(m.topic, m.payload) for m in got] == [("a/b", b"payload")]
