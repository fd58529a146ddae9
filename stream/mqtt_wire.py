"""MQTT 3.1.1 packets the stream's own client needs, built and cut out of a buffer.

Only CONNECT, SUBSCRIBE, PUBLISH (QoS 0/1), PUBACK, PINGREQ and DISCONNECT are
built; :func:`parse` cuts every complete packet out of a receive buffer in one loop
(PUBLISHes as :class:`Message`, everything else as ``(first byte, body)``), which is
what makes :mod:`stream.mqtt_client` cheap per message.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import NamedTuple

Ack = tuple[int, int]  # (connection generation, packet id)

CONNACK_CODES = {
    1: "unacceptable protocol version", 2: "client id rejected", 3: "server unavailable",
    4: "bad user name or password", 5: "not authorised",
}
PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"
_PUBACK = struct.Struct(">BBH")


class Message(NamedTuple):
    """One message as received: topic, raw bytes, the wall-clock receive time, and what
    to hand to :meth:`stream.mqtt_client.MqttSubscriber.ack` (None: nothing to ack)."""

    topic: str
    payload: bytes
    received_at: float
    ack: Ack | None = None


class ProtocolError(ConnectionError):
    """The broker sent something this client does not accept."""


def _string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack(">H", len(raw)) + raw


def _remaining(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(client_id: str, *, clean_session: bool, keepalive_s: int,
                   username: str | None = None, password: str | None = None) -> bytes:
    """CONNECT of MQTT 3.1.1 without will; with a user name (and password) when given."""
    if password is not None and username is None:
        raise ValueError("MQTT 3.1.1 sends a password only with a user name")
    flags = (0x02 if clean_session else 0x00) | (0x80 if username is not None else 0)
    flags |= 0x40 if password is not None else 0
    body = _string("MQTT") + bytes([4, flags])
    body += struct.pack(">H", keepalive_s) + _string(client_id)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return b"\x10" + _remaining(len(body)) + body


def subscribe_packet(packet_id: int, filters: Sequence[str], qos: int) -> bytes:
    """SUBSCRIBE of ``filters`` at ``qos``."""
    body = struct.pack(">H", packet_id) + b"".join(_string(f) + bytes([qos]) for f in filters)
    return b"\x82" + _remaining(len(body)) + body


def pubacks(packet_ids: Iterable[int]) -> bytes:
    """PUBACKs of packet ids, as one buffer."""
    pack = _PUBACK.pack
    return b"".join([pack(0x40, 2, pid) for pid in packet_ids])


def parse(buf: bytearray, received_at: float, generation: int, out: list[Message],
          acks: list[int], manual_ack: bool) -> tuple[int, list[tuple[int, bytes]]]:
    """Cut complete packets from the front of ``buf``: PUBLISHes go to ``out`` (and their
    packet ids to ``acks`` when acknowledged at once), other packets are returned as
    ``(first byte, body)``. Returns how many bytes were consumed."""
    pos, size = 0, len(buf)
    other: list[tuple[int, bytes]] = []
    while pos + 2 <= size:
        b0 = buf[pos]
        # remaining length: 1 to 4 bytes of 7 bits, least significant first
        i = pos + 1
        length = buf[i] & 0x7F
        mult = 128
        while buf[i] & 0x80:
            i += 1
            if i >= size:
                return pos, other
            if mult > 128 ** 3:
                raise ProtocolError("malformed remaining length")
            length += (buf[i] & 0x7F) * mult
            mult *= 128
        start = i + 1
        end = start + length
        if end > size:
            break
        if b0 & 0xF0 == 0x30:  # PUBLISH
            qos = (b0 >> 1) & 0x03
            if length < 2:
                raise ProtocolError(f"PUBLISH of {length} bytes has no topic length")
            tl = (buf[start] << 8) | buf[start + 1]
            j = start + 2 + tl
            if j + (2 if qos else 0) > end:
                raise ProtocolError(f"PUBLISH of {length} bytes: its topic ({tl} bytes)"
                                    f"{' and packet id' if qos else ''} run past its end")
            try:
                topic = buf[start + 2:j].decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError("PUBLISH topic is not UTF-8") from None
            ack: Ack | None = None
            if qos:
                if qos != 1:
                    raise ProtocolError(f"QoS {qos} PUBLISH on {topic!r}: the stream"
                                        " subscribes at QoS 0 or 1 (a malformed packet)")
                pid = (buf[j] << 8) | buf[j + 1]
                if pid == 0:
                    raise ProtocolError(f"QoS 1 PUBLISH on {topic!r} with packet id 0")
                j += 2
                if manual_ack:
                    ack = (generation, pid)
                else:
                    acks.append(pid)
            out.append(Message(topic, bytes(buf[j:end]), received_at, ack))
        else:
            other.append((b0, bytes(buf[start:end])))
        pos = end
    return pos, other


def publish_packet(topic: str, payload: bytes, qos: int, packet_id: int = 0,
                   dup: bool = False) -> bytes:
    """PUBLISH of ``payload`` on ``topic`` (``packet_id`` for QoS 1)."""
    t = topic.encode()
    head = struct.pack(">H", len(t)) + t
    if qos:
        head += struct.pack(">H", packet_id)
    first = 0x30 | (qos << 1) | (0x08 if dup else 0)
    return bytes([first]) + _remaining(len(head) + len(payload)) + head + payload


def set_dup(packet: bytes) -> bytes:
    """The same PUBLISH marked as a re-delivery (DUP flag)."""
    return bytes([packet[0] | 0x08]) + packet[1:]
