"""The dataflow's first step: decode and validate a batch of MQTT messages, and route it.

:class:`Router` is the mapper of a ``flat_map_batch`` step: it takes every message
Bytewax read in one go and returns ``(key, item)`` pairs in the same order:

- ``s:<site>/<station>``: a reading, for the keyed step's station state, and the
  event-time :class:`~stream.station.Tick` of every station when the city's clock moved;
- ``c:<site>/<camera>``: a vehicle pass or a violation, for the camera's state;
  (keyed events are wrapped in :class:`Routed`, cheap to send to another process)
- ``""`` (:data:`UNKEYED`): everything stored as it is (plate reads, status,
  heartbeats, config acks), a police alert for a plate read that hits the watchlist
  (right after the read), and the dead letter of every message refused.

One call per batch instead of one per message per step, counters added once per
batch, and the topic check cached per topic: the stream's per-message cost is what
the decoding and the state machines need, not Bytewax's or this module's overhead.

Keyed items are grouped per key and batch, so the keyed step and a cluster's exchange
handle one element per key and batch rather than one per reading; an item crossing to
another process travels as its raw message (:class:`Routed`).

Decoding is :func:`ioc.contract.decode` (whose topic check is cached).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from ioc.contract import (
    KIND_OF,
    DecodeError,
    DeviceEvent,
    PlateRead,
    SensorReading,
    VehicleTrack,
    Violation,
    decode,
)
from stream.camera import camera_key
from stream.config import StreamConfig
from stream.counters import FlowCounters
from stream.mqtt_source import MqttMessage
from stream.station import Ticker
from stream.watchlist import WatchlistMatcher

UNKEYED = ""
STATION = "s:"
CAMERA = "c:"
class Routed:
    """A decoded event on its way to the keyed step. Within a process it is handed on as
    it is; to another process of a cluster it travels as its raw message and is decoded
    again there (pickling the event itself costs ~40 µs, the raw bytes ~2 µs)."""

    __slots__ = ("event", "payload", "topic")

    def __init__(self, event: DeviceEvent, topic: str, payload: bytes) -> None:
        self.event = event
        self.topic = topic
        self.payload = payload

    def __reduce__(self) -> tuple[Callable[[str, bytes], Routed], tuple[str, bytes]]:
        return _redecode, (self.topic, self.payload)


def _redecode(topic: str, payload: bytes) -> Routed:
    event = decode(topic, payload)
    if isinstance(event, DecodeError):  # it decoded on the sending side: never happens
        raise ValueError(f"routed message no longer decodes: {event.reason}")
    return Routed(event, topic, payload)


class Router:
    """Decodes, validates and keys a batch of messages (see module doc). One per worker."""

    def __init__(self, config: StreamConfig, counters: FlowCounters,
                 matcher: WatchlistMatcher | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.site = config.site
        self.oldest = config.ingest.oldest
        self.max_future = timedelta(seconds=config.ingest.max_future_s)
        self.counters = counters
        self.matcher = matcher
        self.ticker = Ticker(config)
        self.token = random.getrandbits(63)  # tells this router's batches from others'
        self._now = now

    def _refuse(self, err: DecodeError, now: datetime) -> tuple[str, object]:
        return UNKEYED, err.to_deadletter(self.site, "decode", now)

    def __call__(self, messages: Sequence[MqttMessage]) -> list[tuple[str, object]]:
        """``("", item)`` for every unkeyed item, then ``(key, (token, [items]))`` for
        every key with its items of this batch in order (``token``: this router): one
        element per key, not per reading, is what Bytewax routes (and pickles, to
        another process of a cluster)."""
        out: list[tuple[str, object]] = []
        groups: dict[str, list[object]] = {}  # key -> its items of this batch, in order
        counts: Counter[str] = Counter()
        now = self._now()
        latest = now + self.max_future
        oldest = self.oldest
        ticker = self.ticker
        for msg in messages:
            event = decode(msg.topic, msg.payload)
            if isinstance(event, DecodeError):
                counts[f"deadletter.decode.{event.code}"] += 1
                out.append(self._refuse(event, now))
                continue
            if event.ts < oldest or event.ts > latest:
                counts["deadletter.decode.time"] += 1
                out.append(self._refuse(DecodeError(
                    "schema",
                    f"`$.ts` {event.ts.isoformat()} is outside the accepted range"
                    f" ({oldest.isoformat()} .. now + {self.max_future})",
                    msg.topic, msg.payload), now))
                continue
            if isinstance(event, SensorReading):
                counts["in.reading"] += 1
                for key, item in ticker(event):
                    group = groups.get(key := STATION + key)
                    if group is None:
                        groups[key] = group = []
                    group.append(Routed(event, msg.topic, msg.payload)
                                 if item is event else item)
            elif isinstance(event, VehicleTrack | Violation):
                counts[f"in.{KIND_OF[type(event)]}"] += 1
                group = groups.get(key := CAMERA + camera_key(event))
                if group is None:
                    groups[key] = group = []
                group.append(Routed(event, msg.topic, msg.payload))
            else:
                counts[f"in.{KIND_OF[type(event)]}"] += 1
                out.append((UNKEYED, event))
                if self.matcher is not None and isinstance(event, PlateRead):
                    hit = self.matcher(event)
                    if hit is not None:
                        counts["watchlist.hits"] += 1
                        out.append((UNKEYED, hit))
                    elif event.confidence < self.matcher.min_confidence:
                        counts["watchlist.unsure"] += 1
        self.counters.add_many(counts)
        token = self.token
        out.extend((key, (token, group)) for key, group in groups.items())
        return out


def is_keyed(item: tuple[str, object]) -> bool:
    """Whether a routed item goes to the keyed step (it has a station or camera key)."""
    return item[0] != UNKEYED
