"""Webhook delivery against a real local HTTP receiver: retries with back-off, never twice."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cloud.config import RetryConfig
from cloud.notify.base import AlertFilter, DeliveryError
from cloud.notify.dispatcher import Dispatcher
from cloud.notify.text import TextNotifier
from cloud.notify.webhook import WebhookNotifier
from cloud.stores.bundle import CloudStores
from ioc.contract import Alert


@dataclass
class Receiver:
    """Answers ``fail_first`` requests per Idempotency-Key with ``fail_status``, then 204."""

    fail_first: int = 0
    fail_status: int = 503
    requests: list[tuple[float, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def keys(self) -> list[str]:
        with self.lock:
            return [h["idempotency-key"] for _, h, _ in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with state.lock:
                state.requests.append((time.monotonic(), headers, body))
                seen = sum(1 for _, h, _ in state.requests
                           if h["idempotency-key"] == headers["idempotency-key"])
            status = state.fail_status if seen <= state.fail_first else 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


RETRY = RetryConfig(first_delay_s=0.2, factor=2, max_delay_s=5, max_attempts=5)


def _run_until(dispatcher: Dispatcher, done, timeout_s: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        dispatcher.run_once()
        time.sleep(0.02)


def test_retries_with_back_off_then_never_again(stores: CloudStores, make,
                                                receiver: Receiver) -> None:
    receiver.fail_first = 2
    hook = WebhookNotifier("duty", receiver.url, secret=b"s3cret", timeout_s=2)
    dispatcher = Dispatcher(stores.db, [hook], RETRY)
    hook.start()
    dispatcher.prime()
    stores.events.put([make.alert("before", "old")])  # stored after priming: delivered
    _run_until(dispatcher, lambda: len(receiver.requests) >= 3)
    assert receiver.keys() == ["before"] * 3
    times = [t for t, _, _ in receiver.requests]
    assert times[1] - times[0] >= 0.2 * 0.9  # back-off: first_delay_s
    assert times[2] - times[1] >= 0.4 * 0.9  # then ×2
    _, headers, body = receiver.requests[-1]
    assert headers["x-ioc-signature"] == "sha256=" + hmac.new(b"s3cret", body,
                                                              hashlib.sha256).hexdigest()
    assert json.loads(body)["alert_id"] == "old"
    [delivery] = dispatcher.log.list(notifier="duty")
    assert (delivery.state, delivery.attempts) == ("delivered", 3)
    # nothing is sent again: more rounds, a replay of the change, a restarted dispatcher
    dispatcher.run_once()
    stores.events.put([make.alert("before", "old")])
    restarted = Dispatcher(stores.db, [hook], RETRY)
    restarted.prime()
    for _ in range(3):
        restarted.run_once()
        time.sleep(0.05)
    assert receiver.keys() == ["before"] * 3
    # a new state change of the same alert is a new delivery
    stores.events.put([make.alert("after", "old", "escalated", make.at(5))])
    _run_until(restarted, lambda: len(receiver.requests) >= 4)
    assert receiver.keys() == ["before"] * 3 + ["after"]
    hook.stop()


def test_history_before_priming_is_not_sent(stores: CloudStores, make,
                                            receiver: Receiver) -> None:
    stores.events.put([make.alert("c1", "a")])
    hook = WebhookNotifier("duty", receiver.url)
    dispatcher = Dispatcher(stores.db, [hook], RETRY)
    hook.start()
    dispatcher.prime()
    dispatcher.run_once()
    assert receiver.requests == []
    hook.stop()


def test_a_refusal_is_final_and_a_filter_is_respected(stores: CloudStores, make,
                                                      receiver: Receiver) -> None:
    receiver.fail_first, receiver.fail_status = 100, 400
    hook = WebhookNotifier("weather-only", receiver.url,
                           filter=AlertFilter(categories=frozenset({"weather"}),
                                              min_severity="medium"))
    dispatcher = Dispatcher(stores.db, [hook], RETRY)
    hook.start()
    dispatcher.prime()
    stores.events.put([make.alert("w1", "flood", severity="high"),
                       make.alert("w2", "drizzle", severity="low"),
                       make.alert("t1", "jam", category="traffic", audience="traffic")])
    _run_until(dispatcher, lambda: len(receiver.requests) >= 1)
    for _ in range(3):
        dispatcher.run_once()
        time.sleep(0.25)
    assert receiver.keys() == ["w1"]  # tried once: a 400 will not change by retrying
    [delivery] = dispatcher.log.list()
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    assert "answered 400" in (delivery.last_error or "")
    hook.stop()


def test_gives_up_after_max_attempts(stores: CloudStores, make) -> None:
    hook = WebhookNotifier("dead", "http://127.0.0.1:9/nothing-listens", timeout_s=0.5)
    retry = RetryConfig(first_delay_s=0.01, factor=1, max_delay_s=1, max_attempts=3)
    dispatcher = Dispatcher(stores.db, [hook], retry)
    hook.start()
    dispatcher.prime()
    stores.events.put([make.alert("c1", "a")])
    _run_until(dispatcher, lambda: dispatcher.log.list()[0].state == "failed"
               if dispatcher.log.list() else False)
    [delivery] = dispatcher.log.list()
    assert (delivery.state, delivery.attempts) == ("failed", 3)
    assert "ConnectError" in (delivery.last_error or "")
    hook.stop()


@dataclass
class FlakyGateway:
    """A text gateway that refuses one recipient once."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    refused: set[str] = field(default_factory=lambda: {"+84900000002"})

    def start(self) -> None:
        pass

    def send_text(self, recipient: str, text: str) -> None:
        if recipient in self.refused:
            self.refused.discard(recipient)
            raise DeliveryError("gateway busy")
        self.sent.append((recipient, text))

    def stop(self) -> None:
        pass


def test_text_notifier_resends_only_to_who_missed_it(stores: CloudStores, make) -> None:
    gateway = FlakyGateway()
    sms = TextNotifier("sms", gateway, ["+84900000001", "+84900000002"])
    dispatcher = Dispatcher(stores.db, [sms], RetryConfig(first_delay_s=0.05, max_attempts=3))
    dispatcher.prime()
    stores.events.put([make.alert("c1", "flood", severity="critical")])
    _run_until(dispatcher, lambda: len(gateway.sent) >= 2)
    assert [r for r, _ in gateway.sent] == ["+84900000001", "+84900000002"]
    assert gateway.sent[0][1].startswith("[CRITICAL] weather/flood raised at kimlong")
    assert dispatcher.log.list()[0].state == "delivered"


def _alert_of(stores: CloudStores) -> Alert:
    return stores.events.alerts()[0]


def test_mqtt_notifier_publishes_on_the_contract_topic(stores: CloudStores, make,
                                                       mosquitto) -> None:  # type: ignore[no-untyped-def]
    import paho.mqtt.client as mqtt

    from cloud.notify.mqtt import MqttNotifier
    from ioc.contract import Topics, decode_any

    got: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub")
    sub.on_message = lambda _c, _u, m: got.append((m.topic, m.payload))
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.connect(mosquitto.host, mosquitto.port)
    sub.subscribe(Topics.alerts("hue"), qos=1)
    sub.loop_start()
    assert subscribed.wait(5)
    notifier = MqttNotifier("city", mosquitto.host, mosquitto.port, timeout_s=5)
    dispatcher = Dispatcher(stores.db, [notifier], RETRY)
    notifier.start()
    dispatcher.prime()
    stores.events.put([make.alert("c1", "flood")])
    _run_until(dispatcher, lambda: len(got) >= 1)
    sub.loop_stop()
    sub.disconnect()
    notifier.stop()
    assert got[0][0] == "ioc/v1/hue/alerts/weather/raised"
    assert decode_any(got[0][0], got[0][1]) == _alert_of(stores)
    assert dispatcher.log.list()[0].state == "delivered"


def test_the_delay_never_overflows(stores: CloudStores) -> None:
    """factor 10 and 1000 attempts: 10 ** 309 overflowed a float, and the delivery then
    stayed 'sending' for ever."""
    retry = RetryConfig(first_delay_s=2, factor=10, max_delay_s=600, max_attempts=1000)
    dispatcher = Dispatcher(stores.db, [], retry)
    assert [dispatcher.delay_s(n) for n in (1, 2, 3, 310, 999)] == [2.0, 20.0, 200.0, 600.0,
                                                                    600.0]


@contextmanager
def _http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A loopback HTTP server with ``handler``; yields a URL on it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/h"
    finally:
        server.shutdown()
        server.server_close()


def test_an_endless_answer_is_not_read(stores: CloudStores, make) -> None:
    """A receiver that answers 500 with a body that never ends: the error keeps its first
    bytes and the sender goes on (it read the whole body, hundreds of MiB)."""
    stop = threading.Event()

    class Endless(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(500)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            try:
                while not stop.is_set():
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                pass  # the sender hung up: what it should do

        def log_message(self, *_args: object) -> None:
            pass

    with _http_server(Endless) as url:
        hook = WebhookNotifier("endless", url, timeout_s=2)
        hook.start()
        try:
            with pytest.raises(DeliveryError, match=r"answered 500: x{200}$") as info:
                hook.send(make.alert("c1", "a"))
            assert info.value.retry
        finally:
            stop.set()
            hook.stop()


def test_a_receiver_that_hangs_holds_only_its_own_deliveries(stores: CloudStores, make,
                                                             receiver: Receiver) -> None:
    """One thread for every notifier: each delivery to a hung webhook held the others for
    its timeout (a flood warning's SMS waited behind a dead dashboard)."""
    hang = threading.Event()

    class Hung(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hang.wait(20)

        def log_message(self, *_args: object) -> None:
            pass

    with _http_server(Hung) as url:
        slow = WebhookNotifier("hung", url, timeout_s=10)
        fast = WebhookNotifier("fast", receiver.url, timeout_s=2)
        dispatcher = Dispatcher(stores.db, [slow, fast], RETRY, poll_s=0.05)
        dispatcher.start()
        try:
            stores.events.put([make.alert(f"c{i}", "a") for i in range(3)])
            deadline = time.monotonic() + 5
            while len(receiver.keys()) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert sorted(receiver.keys()) == ["c0", "c1", "c2"]  # while "hung" still waits
        finally:
            hang.set()
            dispatcher.stop()
