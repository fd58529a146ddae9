"""Provisioned accounts against a real Mosquitto started with the generated password file,
ACL and TLS listener: a device cannot publish as another, an unknown client is refused, a
revoked device is locked out after the reload, TLS works with the generated CA only."""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge.publisher import BrokerAddress, MqttPublisher
from ioc.broker import MosquittoBroker, TlsListener, find_mosquitto
from ioc.contract import DeviceStatus, SensorReading, Topics, decode, encode, reading_id
from ioc.provision.accounts import Credentials, Provisioner
from ioc.provision.tls import make_server_cert
from stream.config import MqttConfig
from stream.mqtt_client import MqttLogin, MqttSubscriber
from stream.mqtt_client import MqttPublisher as StreamPublisher

pytestmark = pytest.mark.integration


@dataclass
class Setup:
    broker: MosquittoBroker
    prov: Provisioner
    creds: dict[str, Credentials]
    ca: Path


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run scripts/setup.sh")
    prov = Provisioner(tmp_path / "prov")
    creds = {name: prov.add_device(name, site="hue", gateway="sensor")
             for name in ("kimlong-01", "phuoc-01")}
    creds["stream"] = prov.add_service("stream", sites=["hue"])
    creds["cloud"] = prov.add_service("cloud", sites=["hue"])
    files = make_server_cert(prov.tls_dir, ["localhost", "127.0.0.1"])
    broker = MosquittoBroker(tmp_path / "broker", password_file=prov.passwd_path,
                             acl_file=prov.acl_path,
                             tls=TlsListener(files.ca_cert, files.server_cert, files.server_key))
    broker.start()
    yield Setup(broker, prov, creds, files.ca_cert)
    broker.stop()


@dataclass
class Client:
    """A paho client that records what it receives and how its connection went."""

    client: mqtt.Client
    connack: list[str] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    granted: list[list[int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self):
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(port: int, user: str | None, password: str | None, *, ca: Path | None = None,
            client_id: str | None = None, reconnect: bool = False) -> Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{user}")
    rec = Client(c)
    if user is not None:
        c.username_pw_set(user, password)
    if ca is not None:
        c.tls_set(ca_certs=str(ca))

    def on_connect(_c, _u, _f, reason, _p) -> None:  # type: ignore[no-untyped-def]
        with rec.lock:
            rec.connack.append(str(reason))

    def on_disconnect(_c, _u, _f, reason, _p) -> None:  # type: ignore[no-untyped-def]
        with rec.lock:
            rec.disconnects.append(str(reason))

    def on_message(_c, _u, msg) -> None:  # type: ignore[no-untyped-def]
        with rec.lock:
            rec.messages.append((msg.topic, msg.payload))

    def on_subscribe(_c, _u, _mid, codes, _p) -> None:  # type: ignore[no-untyped-def]
        with rec.lock:
            rec.granted.append([c.value for c in codes])

    c.on_connect, c.on_disconnect = on_connect, on_disconnect
    c.on_message, c.on_subscribe = on_message, on_subscribe
    if not reconnect:
        c.reconnect_delay_set(60, 60)
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert rec.wait(lambda r: r.connack), "no CONNACK"
    return rec


def _reading(device: str, value: float) -> SensorReading:
    ts = datetime(2025, 11, 3, 8, tzinfo=UTC)
    return SensorReading(id=reading_id(device, "water_level", ts), site="hue", device=device,
                         ts=ts, quantity="water_level", value=value, unit="m")


def _as(s: Setup, name: str, **kw: object) -> Client:
    return connect(s.broker.port, name, s.creds[name].password, **kw)  # type: ignore[arg-type]


def test_a_device_cannot_publish_as_another_nor_read_its_config(setup: Setup) -> None:
    stream = _as(setup, "stream")
    stream.client.subscribe(Topics.shared("ioc-stream", Topics.device_filter("reading", "hue")),
                            qos=1)
    assert stream.wait(lambda r: r.granted)
    kim = _as(setup, "kimlong-01", reconnect=True)
    spoof = _reading("phuoc-01", 9.99)
    kim.client.publish(Topics.for_event(spoof), encode(spoof), qos=1)
    # Mosquitto 2.0 drops the publish and disconnects the client that tried it
    assert kim.wait(lambda r: r.disconnects and len(r.connack) == 2, timeout=10)
    kim.client.subscribe(Topics.config("hue", "phuoc-01"), qos=1)  # another device's config
    kim.client.subscribe(Topics.config("hue", "kimlong-01"), qos=1)
    assert kim.wait(lambda r: len(r.granted) == 2)  # granted, but the ACL acts on delivery
    own = _reading("kimlong-01", 1.23)
    kim.client.publish(Topics.for_event(own), encode(own), qos=1).wait_for_publish(5)
    assert stream.wait(lambda r: len(r.messages) >= 1)
    # the cloud pushes a config to each device: only the addressee reads it
    cloud = _as(setup, "cloud")
    for device in ("phuoc-01", "kimlong-01"):
        cloud.client.publish(Topics.config("hue", device), b"version: 2", qos=1).wait_for_publish(5)
    assert kim.wait(lambda r: r.messages)
    time.sleep(0.5)  # a spoofed reading or a foreign config would arrive right behind
    got = [decode(t, p) for t, p in stream.messages]
    assert got == [own]
    assert kim.messages == [(Topics.config("hue", "kimlong-01"), b"version: 2")]
    for c in (stream, kim, cloud):
        c.close()


def test_the_stream_account_reads_devices_and_writes_alerts_only(setup: Setup) -> None:
    cloud = _as(setup, "cloud")
    cloud.client.subscribe(Topics.alerts("hue"), qos=1)
    cloud.client.subscribe(Topics.device_filter("reading", "hue"), qos=1)  # not the cloud's
    assert cloud.wait(lambda r: len(r.granted) == 2)
    reader = connect(setup.broker.port, "stream", setup.creds["stream"].password,
                     client_id="stream-reader")
    reader.client.subscribe(Topics.device_filter("reading", "hue"), qos=1)
    assert reader.wait(lambda r: r.granted)
    stream = _as(setup, "stream")
    stream.client.publish(Topics.alerts("hue", "weather") + "/raised", b"alert",
                          qos=1).wait_for_publish(5)
    reading = _reading("kimlong-01", 5.0)
    stream.client.publish(Topics.for_event(reading), encode(reading), qos=1)
    assert stream.wait(lambda r: r.disconnects, timeout=10)  # not the stream's to write
    kim = _as(setup, "kimlong-01")
    kim.client.publish(Topics.for_event(reading), encode(reading), qos=1).wait_for_publish(5)
    assert cloud.wait(lambda r: r.messages)
    assert reader.wait(lambda r: r.messages)
    time.sleep(0.3)
    assert cloud.messages == [("ioc/v1/hue/alerts/weather/raised", b"alert")]
    assert [decode(t, p) for t, p in reader.messages] == [reading]  # the device's, once
    for c in (stream, cloud, reader, kim):
        c.close()


@pytest.mark.parametrize(("user", "password"), [
    ("nobody", "guess"),             # an unknown client
    ("kimlong-01", "wrong-password"),
    (None, None),                    # anonymous
])
def test_unknown_or_wrong_clients_are_refused(setup: Setup, user: str | None,
                                              password: str | None) -> None:
    rec = connect(setup.broker.port, user, password)
    assert rec.connack == ["Not authorized"]
    rec.close()


def test_a_revoked_device_is_locked_out_after_the_reload(setup: Setup) -> None:
    kim = _as(setup, "kimlong-01", reconnect=True)
    assert kim.connack == ["Success"]
    setup.prov.revoke("kimlong-01")
    setup.broker.reload()
    assert kim.wait(lambda r: r.disconnects, timeout=10), "still connected after revocation"
    kim.close()
    again = _as(setup, "kimlong-01")
    assert again.connack == ["Not authorized"]
    again.close()
    other = _as(setup, "phuoc-01")  # the others are untouched
    assert other.connack == ["Success"]
    other.close()


def test_tls_with_the_generated_ca_and_not_with_another(setup: Setup, tmp_path: Path) -> None:
    ok = connect(setup.broker.tls_port, "kimlong-01", setup.creds["kimlong-01"].password,
                 ca=setup.ca)
    assert ok.connack == ["Success"]
    ok.close()
    stranger = make_server_cert(tmp_path / "other-ca", ["localhost"]).ca_cert
    for ca, fails in ((setup.ca, False), (stranger, True)):
        context = ssl.create_default_context(cafile=str(ca))
        with socket.create_connection(("127.0.0.1", setup.broker.tls_port), timeout=5) as raw:
            if fails:
                with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
                    context.wrap_socket(raw, server_hostname="127.0.0.1")
            else:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_the_gateway_publisher_over_tls_with_its_credentials(setup: Setup) -> None:
    watcher = _as(setup, "cloud")
    watcher.client.subscribe(Topics.device_filter("status", "hue"), qos=1)
    assert watcher.wait(lambda r: r.granted)
    address = BrokerAddress("127.0.0.1", setup.broker.tls_port, "kimlong-01",
                            setup.creds["kimlong-01"].password, tls_ca=str(setup.ca))
    pub = MqttPublisher(address, "hue", "kimlong-01", agent_version="test")
    pub.start()
    assert pub.connected
    pub.stop()
    assert watcher.wait(lambda r: len(r.messages) >= 2)
    states = [decode(t, p) for t, p in watcher.messages]
    assert [s.state for s in states if isinstance(s, DeviceStatus)] == ["online", "offline"]
    watcher.close()


def test_the_cloud_notifier_publishes_over_tls_with_an_account(setup: Setup) -> None:
    from cloud.notify.mqtt import MqttNotifier
    from ioc.contract import Alert, AlertStatus, Severity, decode_any

    cloud = _as(setup, "cloud")
    cloud.client.subscribe(Topics.alerts("hue"), qos=1)
    assert cloud.wait(lambda r: r.granted)
    now = datetime.now(UTC)
    alert = Alert(id="c1", site="hue", device="stream", ts=now, alert_id="a1",
                  status=AlertStatus.RAISED, category="weather", subcategory="flood",
                  severity=Severity.MEDIUM, station="kimlong", since=now)
    notifier = MqttNotifier("city", "127.0.0.1", setup.broker.tls_port, username="stream",
                            password=setup.creds["stream"].password, tls_ca_file=setup.ca,
                            timeout_s=5)
    notifier.start()
    try:
        notifier.send(alert)
    finally:
        notifier.stop()
    assert cloud.wait(lambda r: r.messages)
    topic, payload = cloud.messages[0]
    assert decode_any(topic, payload) == alert
    cloud.close()


# paho's loop leaves the socket of a failed TLS handshake to the garbage collector
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_cloud_notifier_refuses_a_broker_signed_by_another_ca(setup: Setup,
                                                                   tmp_path: Path) -> None:
    from cloud.notify.base import DeliveryError
    from cloud.notify.mqtt import MqttNotifier
    from ioc.contract import Alert, AlertStatus, Severity

    other = make_server_cert(tmp_path / "other-ca", ["localhost"])
    now = datetime.now(UTC)
    alert = Alert(id="c2", site="hue", device="stream", ts=now, alert_id="a2",
                  status=AlertStatus.RAISED, category="weather", subcategory="flood",
                  severity=Severity.MEDIUM, since=now)
    notifier = MqttNotifier("city", "127.0.0.1", setup.broker.tls_port, username="stream",
                            password=setup.creds["stream"].password,
                            tls_ca_file=other.ca_cert, timeout_s=2)
    notifier.start()
    try:
        with pytest.raises(DeliveryError, match="not connected"):
            notifier.send(alert)
    finally:
        notifier.stop()



def _stream_clients(setup: Setup, login: MqttLogin
                    ) -> tuple[MqttSubscriber, StreamPublisher, threading.Event]:
    """The stream's own subscriber and publisher, as the flow builds them, on the TLS port."""
    subscribed = threading.Event()
    sub = MqttSubscriber("127.0.0.1", setup.broker.tls_port, client_id="ioc-stream-p0",
                         filters=[Topics.shared("ioc-stream",
                                                Topics.device_filter("reading", "hue"))],
                         login=login, on_subscribed=subscribed.set)
    pub = StreamPublisher("127.0.0.1", setup.broker.tls_port, client_id="ioc-stream-out",
                          login=login)
    sub.start()
    pub.start()
    return sub, pub, subscribed


def test_the_streams_own_client_reads_and_alerts_over_tls_with_its_account(
        setup: Setup, tmp_path: Path) -> None:
    secret = tmp_path / "stream.pw"
    secret.write_text(setup.creds["stream"].password + "\n")
    secret.chmod(0o600)
    login = MqttConfig.model_validate({"username": "stream", "password_file": secret,
                                       "tls": {"ca_file": setup.ca}}).login()
    sub, pub, subscribed = _stream_clients(setup, login)
    cloud = _as(setup, "cloud")
    cloud.client.subscribe(Topics.alerts("hue"), qos=1)
    try:
        assert subscribed.wait(10)
        assert cloud.wait(lambda r: r.granted)
        reading = _reading("kimlong-01", 5.0)
        kim = _as(setup, "kimlong-01")
        kim.client.publish(Topics.for_event(reading), encode(reading), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 10
        while not sub.queue and time.monotonic() < deadline:
            time.sleep(0.05)
        got = sub.queue.popleft()
        assert decode(got.topic, got.payload) == reading
        pub.publish([(Topics.alerts("hue", "weather") + "/raised", b"alert")])
        assert cloud.wait(lambda r: r.messages)
        assert cloud.messages == [("ioc/v1/hue/alerts/weather/raised", b"alert")]
        kim.close()
    finally:
        sub.close()
        pub.close()
        cloud.close()


def test_the_streams_own_client_is_refused_without_the_account(setup: Setup) -> None:
    sub, pub, subscribed = _stream_clients(
        setup, MqttLogin("stream", "wrong", ca_file=str(setup.ca)))
    try:
        assert not subscribed.wait(1.5)
        assert (sub.connects, pub.connects) == (0, 0)
    finally:
        sub.close()
        pub.close()


@pytest.mark.parametrize(("settings", "env", "problem"), [
    ({"username": "stream", "password_env": "IOC_TEST_NO_SUCH_VAR"}, {},
     "mqtt.password_env: environment variable IOC_TEST_NO_SUCH_VAR is not set"),
    ({"username": "stream", "tls": {"ca_file": "/nonexistent/ca.pem"}}, {},
     "mqtt.tls.ca_file: /nonexistent/ca.pem: no such file"),
])
def test_the_streams_login_names_what_cannot_be_resolved(
        settings: dict[str, object], env: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        MqttConfig.model_validate(settings).login()
