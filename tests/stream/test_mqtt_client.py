"""The stream's own MQTT clients against a real Mosquitto: every message arrives once,
unacknowledged ones come again after a reconnect, published ones survive a broker outage."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from ioc.broker import MosquittoBroker
from stream.mqtt_client import ACK_LINGER_S, LINGER_S, MqttPublisher, MqttSubscriber

pytestmark = pytest.mark.integration


def _until(cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def _paho_publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-pub")
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [client.publish(t, p, qos=1) for t, p in messages]
    for info in infos:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def _subscriber(port: int, **kw: object) -> tuple[MqttSubscriber, list[bool]]:
    subscribed: list[bool] = []
    sub = MqttSubscriber("127.0.0.1", port, filters=["t/#"],
                         on_subscribed=lambda: subscribed.append(True), **kw)  # type: ignore[arg-type]
    sub.start()
    _until(lambda: bool(subscribed))
    return sub, subscribed


@pytest.mark.parametrize("qos", [0, 1])
def test_subscriber_receives_every_message_in_order(mosquitto: MosquittoBroker,
                                                    qos: int) -> None:
    sub, _ = _subscriber(mosquitto.port, client_id="sub-order", qos=qos)
    sent = [(f"t/{i % 7}", f"m{i}".encode() * (i % 50 + 1)) for i in range(3000)]
    _paho_publish(mosquitto.port, sent)
    _until(lambda: len(sub.queue) >= len(sent))
    time.sleep(0.2)  # nothing more comes
    got = [(m.topic, m.payload) for m in sub.queue]
    sub.close()
    assert got == sent


@pytest.mark.parametrize(("linger_s", "gap_s"), [(0.0, 0.06), (0.08, 0.01)])
def test_reads_linger_so_that_what_arrives_meanwhile_comes_in_one_read(
        mosquitto: MosquittoBroker, linger_s: float, gap_s: float) -> None:
    sub, _ = _subscriber(mosquitto.port, client_id=f"sub-linger-{linger_s}", qos=0,
                         linger_s=linger_s)
    pub = MqttPublisher("127.0.0.1", mosquitto.port, client_id="pub-linger", qos=0)
    pub.start()
    _until(lambda: pub.connects == 1)
    time.sleep(0.3)  # the subscriber's last read (SUBACK) and its pause are over
    reads = sub.reads
    for i in range(3):  # m0, then m1 and m2 while the reader pauses after reading m0
        pub.publish([(f"t/{i}", f"m{i}".encode())])  # written at once, one packet
        time.sleep(gap_s)
    _until(lambda: len(sub.queue) == 3)
    pub.close()
    sub.close()
    m0, m1, m2 = sub.queue
    assert [m.payload for m in (m0, m1, m2)] == [b"m0", b"m1", b"m2"]
    if linger_s:
        # m0 is read as soon as it arrives; m1 and m2 together, one pause later
        assert sub.reads - reads == 2
        assert m1.received_at == m2.received_at
        assert linger_s - 0.01 <= m1.received_at - m0.received_at <= linger_s + 0.1
    else:
        assert sub.reads - reads == 3
        assert m0.received_at < m1.received_at < m2.received_at


def test_the_publisher_reads_its_acknowledgements_after_a_longer_pause(
        mosquitto: MosquittoBroker) -> None:
    assert MqttPublisher("127.0.0.1", 1, client_id="x").linger_s == ACK_LINGER_S
    assert ACK_LINGER_S > LINGER_S  # PUBACKs are waited for by nothing but flush()
    pub = MqttPublisher("127.0.0.1", mosquitto.port, client_id="pub-acks", qos=1,
                        linger_s=0.08)
    pub.start()
    _until(lambda: pub.connects == 1)
    time.sleep(0.3)  # the CONNACK's read and its pause are over
    reads = pub.reads
    for i in range(3):  # the first PUBACK is read at once, the next two one pause later
        pub.publish([(f"t/{i}", f"m{i}".encode())])
        time.sleep(0.01)
    assert pub.pending() >= 1  # still in flight while the reader pauses
    assert pub.flush(5.0)
    assert pub.reads - reads in (1, 2)  # three PUBACKs 10 ms apart (2 on time, 1 if late)
    pub.close()


def test_linger_is_bounded() -> None:
    with pytest.raises(ValueError, match=r"linger_s must be 0 to 0\.1 s"):
        MqttSubscriber("127.0.0.1", 1, client_id="x", filters=["t"], linger_s=0.5)


def test_unacknowledged_messages_come_again_after_a_reconnect(
        mosquitto: MosquittoBroker) -> None:
    sub, _ = _subscriber(mosquitto.port, client_id="sub-manual", clean_session=False,
                         manual_ack=True)
    sent = [(f"t/{i}", f"m{i}".encode()) for i in range(40)]
    _paho_publish(mosquitto.port, sent)
    # the broker has at most 20 unacknowledged messages out: acknowledge m0..m24 as
    # they come, as the source does once they are in its log
    acked: set[int] = set()

    def ack_first_25() -> bool:
        for m in list(sub.queue):
            i = int(m.payload[1:])
            if i < 25 and i not in acked and m.ack is not None:
                sub.ack([m.ack])
                acked.add(i)
        return len(acked) == 25

    _until(ack_first_25)
    _until(lambda: len(sub.queue) == 40)
    time.sleep(0.2)  # the acknowledgements reach the broker before the disconnect
    sub.close()
    again, _ = _subscriber(mosquitto.port, client_id="sub-manual", clean_session=False,
                           manual_ack=True)
    _until(lambda: len(again.queue) >= 15)
    time.sleep(0.3)
    redelivered = sorted((m.topic, m.payload) for m in again.queue)
    again.close()
    assert redelivered == sorted(sent[25:])


def test_acks_of_a_broken_connection_are_not_sent_on_the_next() -> None:
    sub = MqttSubscriber("127.0.0.1", 1, client_id="x", filters=["t"], manual_ack=True)
    sent: list[bytes] = []
    sub._send = lambda data, generation=None: sent.append(data) or True  # type: ignore[method-assign]
    sub._generation = 3
    sub.ack([(2, 10), (3, 11)])
    assert sent == [b"\x40\x02\x00\x0b"]


def test_publisher_delivers_batches_and_holds_them_through_an_outage(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "b1")
    broker.start()
    port = broker.port
    received: list[tuple[str, bytes]] = []
    pub = MqttPublisher("127.0.0.1", port, client_id="pub-1")
    pub.start()
    _until(lambda: pub.connects == 1)
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")
    watcher.on_message = lambda _c, _u, m: received.append((m.topic, m.payload))
    watcher.connect("127.0.0.1", port)
    watcher.subscribe("a/#", qos=1)
    watcher.loop_start()
    time.sleep(0.3)
    first = [(f"a/{i}", f"p{i}".encode()) for i in range(500)]
    pub.publish(first)
    assert pub.flush(10)
    _until(lambda: len(received) == 500)
    assert received == first
    watcher.loop_stop()
    watcher.disconnect()
    broker.stop()
    _until(lambda: pub._sock is None)
    later = [(f"a/later/{i}", b"x") for i in range(20)]
    pub.publish(later)  # the broker is away: kept, not lost, not raised
    assert pub.pending() == 20
    broker = MosquittoBroker(tmp_path / "b2", port=port)
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher2")
    got_later: list[str] = []
    watcher.on_message = lambda _c, _u, m: got_later.append(m.topic)
    broker.start()
    watcher.connect("127.0.0.1", port)
    watcher.subscribe("a/#", qos=1)
    watcher.loop_start()
    time.sleep(0.5)  # subscribed before the publisher's reconnect delay (up to 5 s) ends
    assert pub.flush(15)
    _until(lambda: len(got_later) == 20)
    assert sorted(got_later) == sorted(t for t, _p in later)
    watcher.loop_stop()
    watcher.disconnect()
    pub.close()
    broker.stop()


class _Wire:
    """A socket stand-in that keeps what is written to it."""

    def __init__(self) -> None:
        self.written = b""

    def sendall(self, data: bytes) -> None:
        self.written += data


def test_messages_published_before_the_connection_are_not_sent_as_duplicates(
        caplog: pytest.LogCaptureFixture) -> None:
    pub = MqttPublisher("127.0.0.1", 1, client_id="x", qos=1)
    pub.publish([("t/a", b"early")])  # no connection yet: held
    first = _Wire()
    with caplog.at_level(logging.INFO, logger="stream.mqtt_client"):
        pub._attach(first)  # type: ignore[arg-type]
    assert first.written[0] == 0x32  # PUBLISH, QoS 1, DUP clear: never sent before
    assert first.written.endswith(b"early")
    assert "again" not in caplog.text
    assert "1 messages published before the connection was up" in caplog.text
    pub.publish([("t/b", b"late")])  # written on this connection, then it breaks
    second = _Wire()
    caplog.clear()
    pub._sock = None
    pub._attach(second)  # type: ignore[arg-type]
    # both unacknowledged: both written before, so both go again marked DUP
    w = second.written
    cut = 2 + w[1]  # the first packet: fixed header and its remaining length
    assert (w[0], w[cut]) == (0x3A, 0x3A)  # PUBLISH, QoS 1, DUP set
    assert w[:cut].endswith(b"early")
    assert w.endswith(b"late")
    assert "sending 2 unacknowledged messages again" in caplog.text


class FakeBroker:
    """A loopback socket server that answers CONNECT with CONNACK, sends ``after``, hangs
    up when ``close`` says so, and otherwise never reads again (a stalled broker)."""

    def __init__(self, after: bytes = b"", close: bool = False) -> None:
        import socket
        import threading

        self.after, self.close_after = after, close
        self.connects = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import contextlib
        import socket

        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            self.connects += 1
            self._conns.append(conn)
            with contextlib.suppress(OSError):
                conn.settimeout(2)
                conn.recv(4096)  # CONNECT (and SUBSCRIBE, maybe)
                conn.sendall(b"\x20\x02\x00\x00" + self.after)
                if self.close_after:
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()

    def stop(self) -> None:
        import contextlib

        self._stop.set()
        self._thread.join(2)
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        self._server.close()


def test_a_broker_that_hangs_up_at_once_is_retried_ever_more_slowly() -> None:
    """Every 0.1 s for ever, whatever the broker did."""
    broker = FakeBroker(close=True)
    sub = MqttSubscriber("127.0.0.1", broker.port, client_id="x", filters=["t"])
    try:
        sub.start()
        time.sleep(2.0)
        # 0.1 + 0.2 + 0.4 + 0.8 = 1.5 s: at most 5 connections in 2 s (it made 20)
        assert 2 <= broker.connects <= 6, broker.connects
    finally:
        sub.close(2)
        broker.stop()


def test_a_bad_packet_ends_the_connection_not_the_thread_and_keeps_what_came_before(
        caplog: pytest.LogCaptureFixture) -> None:
    """A short packet raised IndexError and the reader thread was gone for good; the good
    message that arrived in the same read was lost."""
    from stream.mqtt_wire import publish_packet

    broker = FakeBroker(after=publish_packet("t", b"good", 0) + b"\x30\x00")
    sub = MqttSubscriber("127.0.0.1", broker.port, client_id="x", filters=["t"])
    try:
        with caplog.at_level(logging.WARNING):
            sub.start()
            _until(lambda: broker.connects >= 2)  # it reconnected: the thread lives
        assert sub._thread is not None
        assert sub._thread.is_alive()
        assert [m.payload for m in list(sub.queue)[:1]] == [b"good"]
        assert "PUBLISH of 0 bytes has no topic length" in caplog.text
    finally:
        sub.close(2)
        broker.stop()


def test_a_broker_that_stops_reading_neither_blocks_the_publisher_nor_close() -> None:
    """sendall() without a timeout held the send lock, and close() waited for ever."""
    import threading

    broker = FakeBroker()
    pub = MqttPublisher("127.0.0.1", broker.port, client_id="x", keepalive_s=1)
    pub.start()
    _until(lambda: pub._sock is not None)
    done = threading.Event()

    def flood() -> None:
        for _ in range(40):
            pub.publish([("t", b"x" * 1_000_000)])
        done.set()

    threading.Thread(target=flood, daemon=True).start()
    time.sleep(1.0)
    closed = threading.Event()
    threading.Thread(target=lambda: (pub.close(2), closed.set()), daemon=True).start()
    try:
        _until(closed.is_set, timeout_s=10)
    finally:
        broker.stop()


@pytest.mark.parametrize(("make", "error"), [
    (lambda: MqttSubscriber("h", 1, client_id="x", filters=["a/#/b"]),
     "'a/#/b' is not an MQTT subscription filter"),
    (lambda: MqttSubscriber("h", 1, client_id="x", filters=["ok/+", "bad#"]),
     "'bad#' is not an MQTT subscription filter"),
    (lambda: MqttSubscriber("h", 1, client_id="x", filters=[]), "no filters"),
    (lambda: MqttSubscriber("h", 1, client_id="x", filters=["t"], keepalive_s=0),
     "keepalive_s must be 1 to 65535 s, got 0"),
    (lambda: MqttPublisher("h", 1, client_id="x", keepalive_s=70000),
     "keepalive_s must be 1 to 65535 s, got 70000"),
    (lambda: MqttPublisher("h", 1, client_id="x").publish([("a/ok", b"1"), ("a/+/x", b"2")]),
     "'a/+/x' is not an MQTT topic to publish on"),
    (lambda: MqttPublisher("h", 1, client_id="x").publish([("t", b"")] * 60_001),
     "60001 messages in one batch, at most 60000"),
])
def test_what_a_broker_would_refuse_is_refused_here_by_name(make, error: str) -> None:  # type: ignore[no-untyped-def]
    """A bad filter or topic made the broker drop the connection, and the client reconnect
    10 times a second for ever (a bad topic also stopped every later message)."""
    with pytest.raises(ValueError, match=re.escape(error)):
        make()
