"""The stream's own small MQTT 3.1.1 clients: many messages per system call.

paho handles one packet per Python round trip (read the header, read the rest, build
an ``MQTTMessage``, call back, queue the PUBACK, wake the loop to write it; on the
publishing side the same for every PUBACK): 60-80 µs of CPU per message on this
project's machines, more than the whole dataflow spends on a reading. These clients
read what the socket has (up to 256 KiB), cut every complete packet out of the buffer
in one loop (:mod:`stream.mqtt_wire`), and write a whole batch of PUBACKs or
PUBLISHes with one ``sendall``. They do only what the stream needs:

- CONNECT with a client id, clean or persistent session, an optional user name and
  password (:class:`MqttLogin`), over TLS when a CA is given, and keep-alive (PINGREQ when
  nothing was sent for half of it; the connection counts as dead when nothing at all
  came back for 1.5 times it); TCP_NODELAY, so nothing small is held back;
- reconnects with a growing delay (0.1 s to 5 s);
- after each read the reader waits ``linger_s`` (0.5 ms) before reading again, so a
  flood arrives in a few large reads instead of one per TCP segment: on the peer
  benchmark's flood a read had carried 2-3 messages, each read costing a ``select``, a
  ``recv`` and a PUBACK write; a bare subscriber and publisher with these clients
  (JSON and a threshold, no dataflow) went from 49-51 to 23-24 µs of CPU a message with
  the pause. A message waits at most ``linger_s`` longer (one that arrives after a quiet
  spell is read at once). The publisher's reader waits ``ACK_LINGER_S`` (10 ms): it
  reads only PUBACKs, which free in-flight slots (and let flush() return), while
  every wake-up of that thread takes the GIL from the dataflow. With 7 readings a
  batch (the 5k/s latency test's size) the flow from memory used 59-62 instead of
  66-71 µs of CPU a reading, with 25 a batch 41-44 instead of 46-47 (3 runs each);
- :class:`MqttSubscriber`: SUBSCRIBE (shared subscriptions included) at QoS 0 or 1,
  again after every reconnect; PUBACK at once or when the owner calls
  :meth:`MqttSubscriber.ack` for messages it made durable. Acknowledgements owed on a
  connection that broke are dropped: the persistent session delivers those messages
  again, and the stream's idempotent outputs make the duplicate harmless. QoS 2 is
  never requested (at-least-once in, idempotent out);
- :class:`MqttPublisher`: PUBLISH at QoS 0 or 1; QoS 1 messages stay in flight until
  their PUBACK and are sent again (DUP) after a reconnect, so nothing handed over while
  the broker is away is lost.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ioc.contract import check_filter, check_topic
from stream.mqtt_wire import (
    CONNACK_CODES,
    DISCONNECT,
    PINGREQ,
    Ack,
    Message,
    ProtocolError,
    connect_packet,
    parse,
    pubacks,
    publish_packet,
    set_dup,
    subscribe_packet,
)

logger = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
LINGER_S = 0.0005  # pause after a read (see module doc)
ACK_LINGER_S = 0.01  # the publisher's pause after a read: it only reads PUBACKs
MAX_IN_FLIGHT = 60_000  # packet ids are 16 bits
STABLE_S = 10.0  # a connection up this long was healthy: its drop is retried at once


@dataclass(frozen=True, slots=True)
class MqttLogin:
    """Who the stream is on the broker, and how it trusts the broker: a user name and
    password (an account ``ioc provision service stream`` made), and TLS with the CA that
    signed the broker's certificate (optionally a client certificate)."""

    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context, or None for plain TCP."""
        if self.ca_file is None:
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


class _Connection:
    """One MQTT connection kept up by a background thread; subclasses add what they do
    on connect (:meth:`_connected`) and with PUBLISH and control packets."""

    def __init__(self, host: str, port: int, *, client_id: str, clean_session: bool,
                 keepalive_s: int, name: str | None, manual_ack: bool = False,
                 login: MqttLogin | None = None, linger_s: float = LINGER_S) -> None:
        if not 0 <= linger_s <= 0.1:
            raise ValueError(f"linger_s must be 0 to 0.1 s (a pause between reads), got {linger_s}")
        if not 1 <= keepalive_s <= 65535:  # 0 (MQTT's "off") made the reader spin
            raise ValueError(f"keepalive_s must be 1 to 65535 s, got {keepalive_s}")
        self.host, self.port = host, port
        self.login = login or MqttLogin()
        self._tls = self.login.tls_context()
        self.client_id = client_id
        self.clean_session = clean_session
        self.keepalive_s = keepalive_s
        self.manual_ack = manual_ack
        self.linger_s = linger_s
        self.reads = 0  # socket reads that returned data (how well reads are batched)
        self.name = name or f"mqtt {client_id}"  # in log lines
        self.queue: deque[Message] = deque()
        self.connects = 0
        self._sock: socket.socket | None = None
        self._generation = 0
        self._send_lock = threading.Lock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sent = 0.0

    def start(self) -> None:
        """Connect in a background thread (and reconnect whenever the connection drops)."""
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{self.client_id}",
                                        daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Disconnect cleanly and stop the thread."""
        self._closing.set()
        sock = self._sock
        if sock is not None:
            # a send blocked on a broker that stopped reading holds the lock: do not wait
            # for it longer than a second, the shutdown below ends that send too
            if self._send_lock.acquire(timeout=1.0):
                try:
                    with contextlib.suppress(OSError):
                        sock.sendall(DISCONNECT)
                finally:
                    self._send_lock.release()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _send(self, data: bytes, generation: int | None = None) -> bool:
        sock = self._sock
        if sock is None or (generation is not None and generation != self._generation):
            return False
        try:
            with self._send_lock:
                sock.sendall(data)
                self._last_sent = time.monotonic()
            return True
        except OSError as exc:  # the reader thread notices and reconnects
            logger.debug("%s: send failed: %s", self.name, exc)
            return False

    def _connect(self) -> socket.socket:
        raw = socket.create_connection((self.host, self.port), timeout=10)
        sock = raw
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(raw, server_hostname=self.host)
            self._handshake(sock)
            return sock
        except BaseException:
            sock.close()  # a refused or broken handshake leaves nothing open
            raw.close()
            raise

    def _handshake(self, sock: socket.socket) -> None:
        sock.sendall(connect_packet(self.client_id, clean_session=self.clean_session,
                                    keepalive_s=self.keepalive_s,
                                    username=self.login.username,
                                    password=self.login.password))
        head = b""
        while len(head) < 4:
            chunk = sock.recv(4 - len(head))
            if not chunk:
                raise ConnectionError("closed before CONNACK")
            head += chunk
        if head[0] != 0x20 or head[1] != 2:
            raise ProtocolError(f"expected CONNACK, got {head!r}")
        if head[3]:
            raise ConnectionRefusedError(CONNACK_CODES.get(head[3], f"code {head[3]}"))
        # reads wait in select(); a write to a broker that stopped reading fails after a
        # keep-alive instead of holding the send lock (and close()) for ever
        sock.settimeout(float(self.keepalive_s))
        self._on_connect(sock, session_present=bool(head[2] & 1))
        self._last_sent = time.monotonic()

    def _on_connect(self, sock: socket.socket, *, session_present: bool) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        delay = 0.1
        while not self._closing.is_set():
            try:
                sock = self._connect()
            except OSError as exc:
                if self._closing.is_set():
                    break
                logger.warning("%s: cannot connect to %s:%s: %s; retrying in %.1f s",
                               self.name, self.host, self.port, exc, delay)
                self._closing.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._attach(sock)
            self.connects += 1
            up_since = time.monotonic()
            try:
                self._read(sock)
            except (OSError, ProtocolError) as exc:
                if not self._closing.is_set():
                    logger.warning("%s: connection lost (%s); reconnecting in %.1f s",
                                   self.name, exc, delay)
            except Exception:  # a bug here must not end the thread: it reconnects
                logger.exception("%s: reading failed; reconnecting in %.1f s", self.name,
                                 delay)
            finally:
                with self._send_lock:
                    self._sock = None
                sock.close()
            if not self._closing.is_set():
                self._closing.wait(delay)
            # a connection that lasted is healthy: the next drop is retried at once; one that
            # a broker drops right after it is made is retried ever more slowly
            delay = 0.1 if time.monotonic() - up_since >= STABLE_S else min(delay * 2, 5.0)

    def _attach(self, sock: socket.socket) -> None:
        """Make a new connection the one :meth:`_send` writes to."""
        with self._send_lock:
            self._generation += 1
            self._sock = sock

    def _read(self, sock: socket.socket) -> None:
        buf = bytearray()
        gen = self._generation
        keepalive = float(self.keepalive_s)
        last_heard = time.monotonic()
        manual, linger = self.manual_ack, self.linger_s
        while not self._closing.is_set():
            ready, _, _ = select.select([sock], [], [], min(1.0, keepalive / 2))
            now = time.monotonic()
            if ready:
                data = self._recv(sock)
                if not data:
                    raise ConnectionError("closed by the broker")
                last_heard = now
                self.reads += 1
                buf += data
                got: list[Message] = []
                acks: list[int] = []
                try:
                    used, other = parse(buf, time.time(), gen, got, acks, manual)
                except ProtocolError:  # what was complete before the bad packet is kept
                    if acks:
                        self._send(pubacks(acks), gen)
                    self._take(got)
                    raise
                del buf[:used]
                if acks:
                    self._send(pubacks(acks), gen)
                if got:
                    self._take(got)
                if other:
                    self._control(other)
                if linger:
                    time.sleep(linger)  # let more arrive: one read for many packets
            elif now - last_heard > 1.5 * keepalive:
                raise ConnectionError(f"nothing from the broker for {now - last_heard:.0f} s")
            if now - self._last_sent >= keepalive / 2:
                self._send(PINGREQ, gen)

    def _recv(self, sock: socket.socket) -> bytes:
        if not isinstance(sock, ssl.SSLSocket):
            return sock.recv(READ_SIZE)
        # One TLS object is not read and written by two threads at once; and what TLS
        # has already decrypted is not seen by select(), so it is drained here.
        with self._send_lock:
            data = sock.recv(READ_SIZE)
            while data and sock.pending():
                data += sock.recv(READ_SIZE)
        return data

    def _take(self, messages: list[Message]) -> None:
        """PUBLISHes received (a subscriber queues them)."""
        self.queue.extend(messages)

    def _control(self, packets: list[tuple[int, bytes]]) -> None:
        for b0, _body in packets:
            if b0 & 0xF0 != 0xD0:  # PINGRESP
                raise ProtocolError(f"unexpected packet type {b0 >> 4}")


class MqttSubscriber(_Connection):
    """Subscribes ``filters`` and queues what arrives in :attr:`queue` (see module doc).

    ``start()`` opens the connection in a background thread; ``close()`` disconnects."""

    def __init__(self, host: str, port: int, *, client_id: str, filters: Sequence[str],
                 qos: int = 1, clean_session: bool = True, keepalive_s: int = 30,
                 manual_ack: bool = False, name: str | None = None,
                 on_subscribed: Callable[[], None] | None = None,
                 login: MqttLogin | None = None, linger_s: float = LINGER_S) -> None:
        if qos not in (0, 1):
            raise ValueError(f"the stream subscribes at QoS 0 or 1, not {qos}")
        super().__init__(host, port, client_id=client_id, clean_session=clean_session,
                         keepalive_s=keepalive_s, name=name, manual_ack=manual_ack,
                         login=login, linger_s=linger_s)
        self.filters = [check_filter(f) for f in filters]
        if not self.filters:
            raise ValueError(f"{self.name}: nothing to subscribe to (no filters)")
        self.qos = qos
        self.on_subscribed = on_subscribed

    def ack(self, acks: Iterable[Ack]) -> None:
        """Acknowledge received QoS 1 messages (``manual_ack``); those of an older
        connection are skipped (the broker delivers them again)."""
        gen = self._generation
        ids = [pid for g, pid in acks if g == gen]
        if ids:
            self._send(pubacks(ids), gen)

    def _on_connect(self, sock: socket.socket, *, session_present: bool) -> None:
        logger.info("%s: connected to %s:%s (session present: %s), subscribing %s",
                    self.name, self.host, self.port, session_present, self.filters)
        sock.sendall(subscribe_packet(1, self.filters, self.qos))

    def _control(self, packets: list[tuple[int, bytes]]) -> None:
        for b0, body in packets:
            kind = b0 & 0xF0
            if kind == 0x90:  # SUBACK
                refused = [i for i, code in enumerate(body[2:]) if code & 0x80]
                if refused:
                    logger.error("%s: subscription refused for %s", self.name,
                                 [self.filters[i] for i in refused if i < len(self.filters)])
                elif self.on_subscribed is not None:
                    self.on_subscribed()
            elif kind != 0xD0:  # PINGRESP
                raise ProtocolError(f"unexpected packet type {b0 >> 4}")


class MqttPublisher(_Connection):
    """Publishes batches of messages; QoS 1 ones stay in flight until acknowledged and
    are sent again after a reconnect (see module doc)."""

    def __init__(self, host: str, port: int, *, client_id: str, qos: int = 1,
                 keepalive_s: int = 30, name: str | None = None,
                 login: MqttLogin | None = None, linger_s: float = ACK_LINGER_S) -> None:
        if qos not in (0, 1):
            raise ValueError(f"the stream publishes at QoS 0 or 1, not {qos}")
        super().__init__(host, port, client_id=client_id, clean_session=True,
                         keepalive_s=keepalive_s, name=name, login=login, linger_s=linger_s)
        self.qos = qos
        self._in_flight: dict[int, bytes] = {}  # packet id -> PUBLISH, until its PUBACK
        self._unsent: set[int] = set()  # in flight, handed over while not connected
        self._next_id = 0
        self._lock = threading.Condition()

    def pending(self) -> int:
        """QoS 1 messages not yet acknowledged by the broker."""
        with self._lock:
            return len(self._in_flight)

    def publish(self, messages: Sequence[tuple[str, bytes]], timeout_s: float = 30.0) -> None:
        """Hand messages to the broker in one write (kept for a reconnect when it is away).

        Waits only when ``MAX_IN_FLIGHT`` QoS 1 messages are unacknowledged."""
        if self.qos == 0:
            for topic, _payload in messages:
                check_topic(topic)
            self._send(b"".join(publish_packet(t, p, 0) for t, p in messages))
            return
        if len(messages) > MAX_IN_FLIGHT:
            raise ValueError(f"{self.name}: {len(messages)} messages in one batch, at most"
                             f" {MAX_IN_FLIGHT} (packet ids are 16 bits)")
        for topic, _payload in messages:  # one bad topic made the broker drop every resend
            check_topic(topic)
        packets = []
        with self._lock:
            if len(self._in_flight) + len(messages) > MAX_IN_FLIGHT and not self._lock.wait_for(
                    lambda: len(self._in_flight) + len(messages) <= MAX_IN_FLIGHT, timeout_s):
                raise TimeoutError(f"{self.name}: {len(self._in_flight)} messages"
                                   f" unacknowledged for {timeout_s} s")
            pids = []
            for topic, payload in messages:
                pid = self._packet_id()
                packet = publish_packet(topic, payload, 1, pid)
                self._in_flight[pid] = packet
                packets.append(packet)
                pids.append(pid)
            # _attach() takes this lock too: no connection can appear meanwhile
            if self._sock is None:
                self._unsent.update(pids)  # never written: sent on connect, not as DUP
            else:  # a write that fails goes again, marked DUP, after the reconnect
                self._send(b"".join(packets))

    def flush(self, timeout_s: float) -> bool:
        """Wait until every QoS 1 message is acknowledged; False when time ran out."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._in_flight, timeout_s)

    def _packet_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._in_flight:
                return self._next_id
        raise RuntimeError("no free MQTT packet id")  # unreachable below MAX_IN_FLIGHT

    def _on_connect(self, sock: socket.socket, *, session_present: bool) -> None:
        logger.info("%s: connected to %s:%s", self.name, self.host, self.port)

    def _take(self, messages: list[Message]) -> None:
        # it subscribes to nothing: a broker that sends PUBLISHes anyway is not queued
        # for nobody to read (acknowledged, so it does not send them again)
        logger.warning("%s: %d messages from the broker though nothing is subscribed;"
                       " dropped", self.name, len(messages))

    def _attach(self, sock: socket.socket) -> None:
        # one critical section with publish(): a message goes out either here or there
        with self._lock:
            super()._attach(sock)
            unsent, self._unsent = self._unsent, set()
            out = [p if pid in unsent else set_dup(p) for pid, p in self._in_flight.items()]
            again = len(out) - len(unsent)
            if again:  # written on a connection that broke before their PUBACK
                logger.warning("%s: sending %d unacknowledged messages again", self.name,
                               again)
            if unsent:
                logger.info("%s: sending %d messages published before the connection was up",
                            self.name, len(unsent))
            if out:
                self._send(b"".join(out))

    def _control(self, packets: list[tuple[int, bytes]]) -> None:
        with self._lock:
            for b0, body in packets:
                kind = b0 & 0xF0
                if kind == 0x40:  # PUBACK
                    if len(body) != 2:
                        raise ProtocolError(f"PUBACK of {len(body)} bytes (2 expected)")
                    self._in_flight.pop((body[0] << 8) | body[1], None)
                elif kind != 0xD0:  # PINGRESP
                    raise ProtocolError(f"unexpected packet type {b0 >> 4}")
            if not self._in_flight:
                self._lock.notify_all()
