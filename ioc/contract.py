"""The wire contract: every event that travels, its schema version, identity, encoding and topics.

This is the only module that spells a payload field or an MQTT topic. Edge agents,
the stream, the cloud and the simulators all import it; it imports nothing of the
project.

Encoding is JSON through ``msgspec``: typed structs decode and validate in one
C pass (a few microseconds a message), which the stream needs at tens of
thousands of messages per second. Decoding never raises: :func:`decode` returns
either an event or a :class:`DecodeError` that names the topic, the field path
and what was wrong, ready to be dead-lettered.

Topic layout (``site`` and ``device`` are lower-case slugs)::

    ioc/v1/{site}/{device}/{kind}        events a device publishes (kind = event tag)
    ioc/v1/{site}/{device}/config        config pushed to a device (never retained)
    ioc/v1/{site}/alerts/{category}/{status}   alert state changes (raised, escalated,
                                         deescalated, cleared): a pager subscribes to
                                         ``alerts/+/raised`` and ``alerts/+/escalated``
    ioc/v1/{site}/aggregates/{measure}   aggregates, when the stream publishes them
    ioc/v1/{site}/deadletter/{step}      what the stream refused, with the reason
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal

import msgspec

SCHEMA_VERSION: Final = 1
TOPIC_ROOT: Final = "ioc/v1"
MAX_PAYLOAD_BYTES: Final = 64 * 1024

_SLUG = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_SLUG_RE: Final = re.compile(_SLUG)
RESERVED_DEVICE_NAMES: Final = frozenset(
    {"alerts", "aggregates", "deadletter", "stream", "cloud", "+", "#"}
)

Slug = Annotated[str, msgspec.Meta(pattern=_SLUG)]
EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
Text = Annotated[str, msgspec.Meta(max_length=2000)]


class ContractError(ValueError):
    """Raised when code (not the wire) builds an event or topic that breaks the contract."""


# --------------------------------------------------------------------------- quantities


@dataclass(frozen=True, slots=True)
class QuantitySpec:
    """What a sensor quantity means on the wire: its unit and its physically possible range."""

    unit: str
    minimum: float
    maximum: float
    description: str


QUANTITIES: Final[dict[str, QuantitySpec]] = {
    "water_level": QuantitySpec("m", -20.0, 60.0, "river stage above the gauge datum"),
    "rain": QuantitySpec("mm", 0.0, 500.0, "precipitation during period_s ending at ts"),
    "pm25": QuantitySpec("ug/m3", 0.0, 2000.0, "PM2.5 mass concentration"),
    "pm10": QuantitySpec("ug/m3", 0.0, 3000.0, "PM10 mass concentration"),
    "o3": QuantitySpec("ug/m3", 0.0, 5000.0, "ozone"),
    "no2": QuantitySpec("ug/m3", 0.0, 10000.0, "nitrogen dioxide"),
    "so2": QuantitySpec("ug/m3", 0.0, 10000.0, "sulphur dioxide"),
    "co": QuantitySpec("ug/m3", 0.0, 500000.0, "carbon monoxide"),
    "temperature": QuantitySpec("degC", -40.0, 70.0, "air temperature"),
    "humidity": QuantitySpec("%", 0.0, 100.0, "relative humidity"),
}
Quantity = Literal[
    "water_level", "rain", "pm25", "pm10", "o3", "no2", "so2", "co", "temperature", "humidity"
]


class VehicleClass(StrEnum):
    CAR = "car"
    MOTORBIKE = "motorbike"
    BUS = "bus"
    TRUCK = "truck"


class ViolationType(StrEnum):
    RED_LIGHT = "red_light"
    WRONG_LANE = "wrong_lane"
    WRONG_WAY = "wrong_way"
    ILLEGAL_PARKING = "illegal_parking"
    SPEEDING = "speeding"


class AlertStatus(StrEnum):
    """Lifecycle of one alert: raised, then escalated or de-escalated, then cleared."""

    RAISED = "raised"
    ESCALATED = "escalated"
    DEESCALATED = "deescalated"
    CLEARED = "cleared"


class Severity(StrEnum):
    """FIWARE Alert ``severity`` values."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# --------------------------------------------------------------------------- events


class Event(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    forbid_unknown_fields=True,
    tag_field="kind",
):
    """Fields every event carries. ``id`` is its stable identity: a replay carries the same id."""

    v: int = SCHEMA_VERSION
    id: EventId
    site: Slug
    device: Slug
    ts: UtcTime

    def __post_init__(self) -> None:
        if self.v != SCHEMA_VERSION:
            raise ValueError(
                f"unsupported schema version {self.v} at `$.v` (this build reads {SCHEMA_VERSION})"
            )


class SensorReading(Event, tag="reading", kw_only=True):
    """One value of one quantity from one sensor channel at event time ``ts``."""

    station: Slug | None = None
    quantity: Quantity
    value: float
    unit: str
    period_s: Annotated[int, msgspec.Meta(ge=0, le=86400)] = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        spec = QUANTITIES[self.quantity]
        if self.unit != spec.unit:
            raise ValueError(
                f"unit {self.unit!r} is not the unit of {self.quantity} (expected {spec.unit!r})"
                " - at `$.unit`"
            )
        if not spec.minimum <= self.value <= spec.maximum:
            raise ValueError(
                f"value {self.value!r} is outside the possible range of {self.quantity}"
                f" [{spec.minimum}, {spec.maximum}] {spec.unit} - at `$.value`"
            )

    @property
    def station_id(self) -> str:
        """The measuring station: ``station`` when given, else the device."""
        return self.station or self.device


class VehicleTrack(Event, tag="vehicle", kw_only=True):
    """A vehicle tracked through a camera's view (one event per pass)."""

    camera: Slug
    track_id: Annotated[int, msgspec.Meta(ge=0)]
    vehicle_class: VehicleClass
    lane: str | None = None
    first_seen: UtcTime
    last_seen: UtcTime
    speed_kmh: Annotated[float, msgspec.Meta(ge=0, le=400)] | None = None
    direction_deg: float | None = None
    confidence: Annotated[float, msgspec.Meta(ge=0, le=1)]


class PlateRead(Event, tag="plate", kw_only=True):
    """A licence plate read once per vehicle pass."""

    camera: Slug
    track_id: Annotated[int, msgspec.Meta(ge=0)]
    plate: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
    raw_text: Annotated[str, msgspec.Meta(max_length=64)] = ""
    layout: Literal["one_line", "two_line"]
    plate_color: Literal["white", "yellow", "blue", "red", "other"] = "white"
    vehicle_class: VehicleClass
    confidence: Annotated[float, msgspec.Meta(ge=0, le=1)]
    valid: bool
    lane: str | None = None


class EvidenceImage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An evidence image kept on the gateway, retrievable by ``image_id``."""

    image_id: EventId
    role: Literal["before", "at", "after", "plate"]
    taken_at: UtcTime
    sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


class Violation(Event, tag="violation", kw_only=True):
    """A traffic violation with the rule that fired and the evidence that shows it."""

    camera: Slug
    track_id: Annotated[int, msgspec.Meta(ge=0)]
    violation: ViolationType
    vehicle_class: VehicleClass
    plate: str | None = None
    plate_color: Literal["white", "yellow", "blue", "red", "other"] | None = None
    location: Text
    rule: dict[str, float | int | str | bool] = {}
    evidence: list[EvidenceImage] = []


class DeviceStatus(Event, tag="status", kw_only=True):
    """Retained online/offline state of a device; ``offline`` is also its last will."""

    state: Literal["online", "offline"]
    agent_version: str = ""
    config_version: str | None = None


class Heartbeat(Event, tag="heartbeat", kw_only=True):
    """Periodic health of a gateway."""

    uptime_s: Annotated[float, msgspec.Meta(ge=0)]
    fps: float | None = None
    inference_ms: float | None = None
    queue_depth: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: frames the source dropped (a camera falling behind)
    dropped: Annotated[int, msgspec.Meta(ge=0)] = 0
    disk_used_bytes: Annotated[int, msgspec.Meta(ge=0)] = 0
    config_version: str | None = None
    #: the camera or sensor source: streaming, reconnecting, ended, closed (None: not known)
    source_state: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    source_reconnects: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: events the full on-disk queue had to drop (its full policy)
    dropped_events: Annotated[int, msgspec.Meta(ge=0)] = 0


class ConfigAck(Event, tag="config_ack", kw_only=True):
    """A device's answer to a config pushed on its config topic: ``applied`` (the device
    now runs ``config_version``), or ``refused`` with every problem while the config it
    was running (``running_version``) stays in place."""

    config_version: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    result: Literal["applied", "refused"]
    running_version: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    problems: Annotated[list[Text], msgspec.Meta(max_length=50)] = []


class Alert(Event, tag="alert", kw_only=True):
    """One state change of an alert. ``alert_id`` names the alert across its lifecycle;
    ``id`` names this change, so a replayed change is recognised as the same one.

    Fields map to the FIWARE Alert model: ``category``, ``subcategory``, ``severity``,
    ``location`` (here ``station`` and ``location``), ``dateIssued`` (``ts``),
    ``validFrom`` (``since``), ``alertSource`` (``device``)."""

    alert_id: EventId
    status: AlertStatus
    category: Literal["weather", "environment", "traffic", "security", "health", "agriculture"]
    subcategory: Annotated[str, msgspec.Meta(max_length=64)]
    severity: Severity
    station: Slug | None = None
    location: Text = ""
    level: Annotated[int, msgspec.Meta(ge=0, le=10)] = 0
    value: float | None = None
    threshold: float | None = None
    rate_of_rise: float | None = None
    unit: str = ""
    since: UtcTime
    reading_id: EventId | None = None
    description: Text = ""
    #: who acts on it: flood/environment operators, police (watchlist hits), traffic officers
    audience: Literal["operator", "police", "traffic", "technician"] = "operator"
    #: watchlist hits: the plate on the watchlist and how many characters the read differed
    plate: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    match_distance: Annotated[int, msgspec.Meta(ge=0, le=8)] | None = None


class Aggregate(Event, tag="aggregate", kw_only=True):
    """A value computed by the stream over an event-time window ending at ``ts``."""

    station: Slug
    measure: Annotated[str, msgspec.Meta(max_length=64)]
    window_s: Annotated[int, msgspec.Meta(ge=0)]
    value: float
    unit: str
    samples: Annotated[int, msgspec.Meta(ge=0)] = 0
    #: extra series dimensions (lane, vehicle class, violation type, pollutant, band)
    labels: dict[Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$")],
                 Annotated[str, msgspec.Meta(max_length=64)]] = {}


class DeadLetter(Event, tag="deadletter", kw_only=True):
    """A message the stream refused, with the reason and the step that refused it."""

    step: Annotated[str, msgspec.Meta(max_length=64)]
    code: Annotated[str, msgspec.Meta(max_length=32)]
    reason: Text
    topic: Annotated[str, msgspec.Meta(max_length=512)]
    payload: Annotated[str, msgspec.Meta(max_length=4096)]
    payload_size: Annotated[int, msgspec.Meta(ge=0)]


DeviceEvent = (SensorReading | VehicleTrack | PlateRead | Violation | DeviceStatus | Heartbeat
               | ConfigAck)
AnyEvent = DeviceEvent | Alert | Aggregate | DeadLetter

#: Event kinds a device may publish under its own topic.
DEVICE_KINDS: Final[frozenset[str]] = frozenset(
    t.__struct_config__.tag for t in (SensorReading, VehicleTrack, PlateRead, Violation,
                                      DeviceStatus, Heartbeat, ConfigAck)
)
KIND_OF: Final[dict[type[Event], str]] = {
    t: t.__struct_config__.tag
    for t in (SensorReading, VehicleTrack, PlateRead, Violation, DeviceStatus, Heartbeat,
              ConfigAck, Alert, Aggregate, DeadLetter)
}

# --------------------------------------------------------------------------- identity


def stable_id(*parts: object) -> str:
    """A short deterministic id from its parts: the same parts always give the same id."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def reading_id(device: str, quantity: str, ts: datetime, station: str | None = None) -> str:
    """Identity of a reading: one device, one quantity, one instant."""
    return f"{device}:{quantity}:{int(ts.timestamp() * 1000)}" + (
        f":{station}" if station and station != device else ""
    )


def utc(ts: datetime) -> datetime:
    """The same instant as a timezone-aware UTC datetime; a naive one is refused."""
    if ts.tzinfo is None:
        raise ContractError(f"naive datetime {ts.isoformat()} has no timezone; events need UTC")
    return ts.astimezone(UTC)


# --------------------------------------------------------------------------- topics


@dataclass(frozen=True, slots=True)
class TopicParts:
    """A parsed device topic."""

    site: str
    device: str
    kind: str


def check_filter(text: str) -> str:
    """A subscription filter the broker will take (a bad one made Mosquitto drop the
    connection, and the client reconnect for ever without naming it)."""
    levels = text.split("/")
    if (not text or "\x00" in text or len(text.encode()) > 65535
            or any(("#" in lv and (lv != "#" or i != len(levels) - 1))
                   or ("+" in lv and lv != "+") for i, lv in enumerate(levels))):
        raise ValueError(f"{text!r} is not an MQTT subscription filter: '#' must be a whole level"
                         " and the last one, '+' must be a whole level, no NUL")
    return text


def check_topic(text: str) -> str:
    """A topic a message can be published on: no wildcard, no NUL, 1 to 65,535 bytes."""
    if not text or "+" in text or "#" in text or "\x00" in text or len(text) > 65535:
        raise ValueError(f"{text[:200]!r} is not an MQTT topic to publish on")
    return text


class Topics:
    """The MQTT topic layout. Nothing else builds or parses a topic string."""

    root: ClassVar[str] = TOPIC_ROOT

    @staticmethod
    def _check(name: str, value: str) -> str:
        if not _SLUG_RE.match(value):
            raise ContractError(f"{name} {value!r} is not a slug (allowed: {_SLUG})")
        return value

    @classmethod
    def device(cls, site: str, device: str, kind: str) -> str:
        """Topic a device publishes ``kind`` events on."""
        cls._check("site", site)
        cls._check("device", device)
        if device in RESERVED_DEVICE_NAMES:
            raise ContractError(f"device name {device!r} is reserved")
        if kind not in DEVICE_KINDS:
            raise ContractError(f"unknown event kind {kind!r} (known: {sorted(DEVICE_KINDS)})")
        return f"{cls.root}/{site}/{device}/{kind}"

    @classmethod
    def for_event(cls, event: Event) -> str:
        """Topic an event is published on."""
        if isinstance(event, Alert):
            return f"{cls.alerts(event.site, event.category)}/{event.status.value}"
        if isinstance(event, DeadLetter):
            return cls.deadletter(event.site, event.step)
        if isinstance(event, Aggregate):
            return cls.aggregates(event.site, event.measure)
        return cls.device(event.site, event.device, KIND_OF[type(event)])

    @classmethod
    def config(cls, site: str, device: str) -> str:
        """Topic a device reads its configuration from."""
        return f"{cls.root}/{cls._check('site', site)}/{cls._check('device', device)}/config"

    @classmethod
    def _service(cls, site: str, family: str, name: str) -> str:
        return f"{cls.root}/{cls._check('site', site)}/{family}/{name}"

    @classmethod
    def alerts(cls, site: str, category: str = "#") -> str:
        """Filter of the alerts of a site (of one category: add ``/#`` or ``/<status>``)."""
        return cls._service(site, "alerts", category)

    @classmethod
    def aggregates(cls, site: str, measure: str = "#") -> str:
        """Topic (or with ``#`` the filter) of the aggregates of a site."""
        return cls._service(site, "aggregates", measure)

    @classmethod
    def deadletter(cls, site: str, step: str = "#") -> str:
        """Topic (or with ``#`` the filter) of the dead letters of a site."""
        return cls._service(site, "deadletter", step)

    @classmethod
    def device_filter(cls, kind: str, site: str = "+") -> str:
        """Subscription filter for every device's ``kind`` events (``+`` site: every site)."""
        if kind not in DEVICE_KINDS:
            raise ContractError(f"unknown event kind {kind!r} (known: {sorted(DEVICE_KINDS)})")
        return f"{cls.root}/{site}/+/{kind}"

    @staticmethod
    def shared(group: str, topic_filter: str) -> str:
        """A shared subscription: the broker splits messages between the group's members."""
        return f"$share/{group}/{topic_filter}"

    @classmethod
    def parse(cls, topic: str) -> TopicParts | str:
        """Parse a device topic; on failure return the reason as a string. A city has a
        few thousand device topics, so results are cached (bounded: hostile topics only
        evict each other)."""
        return _parse_topic_cached(topic)


def _parse_topic(topic: str) -> TopicParts | str:
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        return f"topic {topic!r} is not {TOPIC_ROOT}/<site>/<device>/<kind>"
    _, _, site, device, kind = parts
    if not _SLUG_RE.match(site):
        return f"site {site!r} in topic {topic!r} is not a slug"
    if not _SLUG_RE.match(device) or device in RESERVED_DEVICE_NAMES:
        return f"device {device!r} in topic {topic!r} is not a device name"
    if kind not in DEVICE_KINDS:
        return f"kind {kind!r} in topic {topic!r} is not one of {sorted(DEVICE_KINDS)}"
    return TopicParts(site, device, kind)


_parse_topic_cached = functools.lru_cache(maxsize=65_536)(_parse_topic)


# --------------------------------------------------------------------------- codec


@dataclass(frozen=True, slots=True)
class DecodeError:
    """Why a message could not be accepted. Never raised: returned, and dead-lettered."""

    code: Literal["size", "topic", "json", "schema", "mismatch"]
    reason: str
    topic: str
    payload: bytes

    def to_deadletter(self, site: str, step: str, ts: datetime) -> DeadLetter:
        """The dead-letter record of this error, with a stable id for idempotent replays."""
        head = self.payload[:1024]
        return DeadLetter(
            id=stable_id("dl", self.topic, hashlib.blake2b(self.payload).hexdigest()),
            site=site if _SLUG_RE.match(site) else "unknown",
            device="stream",
            ts=ts,
            step=step,
            code=self.code,
            reason=self.reason[:2000],
            topic=self.topic[:512],
            payload=head.decode("utf-8", "backslashreplace")[:4096],
            payload_size=len(self.payload),
        )


_ENCODER: Final = msgspec.json.Encoder()
_DEVICE_DECODER: Final = msgspec.json.Decoder(DeviceEvent)
_ANY_DECODER: Final = msgspec.json.Decoder(AnyEvent)


def encode(event: Event) -> bytes:
    """JSON bytes of an event."""
    return _ENCODER.encode(event)


def _decode_with(
    decoder: msgspec.json.Decoder, topic: str, payload: bytes
) -> AnyEvent | DecodeError:
    if len(payload) > MAX_PAYLOAD_BYTES:
        return DecodeError(
            "size", f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}", topic, payload
        )
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError as exc:
        return DecodeError("schema", f"{exc} (topic {topic})", topic, payload)
    except msgspec.DecodeError as exc:
        return DecodeError("json", f"{exc} (topic {topic})", topic, payload)


def decode(topic: str, payload: bytes) -> DeviceEvent | DecodeError:
    """Decode a device message and check it against its topic. Never raises."""
    parts = Topics.parse(topic)
    if isinstance(parts, str):
        return DecodeError("topic", parts, topic, payload)
    event = _decode_with(_DEVICE_DECODER, topic, payload)
    if isinstance(event, DecodeError):
        return event
    kind = KIND_OF[type(event)]
    if kind != parts.kind or event.device != parts.device or event.site != parts.site:
        return DecodeError(
            "mismatch",
            f"payload says {event.site}/{event.device}/{kind} but topic {topic!r}"
            f" says {parts.site}/{parts.device}/{parts.kind}",
            topic,
            payload,
        )
    return event  # type: ignore[return-value]


def decode_any(topic: str, payload: bytes) -> AnyEvent | DecodeError:
    """Decode any event (alerts, aggregates, dead letters too) without the topic check."""
    return _decode_with(_ANY_DECODER, topic, payload)


def now_utc() -> datetime:
    """The current time, timezone-aware UTC (wall clock, for receive times and heartbeats)."""
    return datetime.now(UTC)
