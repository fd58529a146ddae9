"""Request and response bodies of the API (they are what the OpenAPI document shows).

Request bodies refuse unknown fields, so a misspelt field is a 422 naming it,
never a silently ignored setting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from cloud.stores.watchlist import MAX_TEXT, watch_plate

Text = str


class In(BaseModel):
    """Base of request bodies: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """Base of response bodies: built from the stores' dataclasses."""

    model_config = ConfigDict(from_attributes=True)


# ------------------------------------------------------------------ watchlist


class WatchlistIn(In):
    """A plate to add to the watchlist."""

    plate: str = Field(examples=["75A-123.45"], description="any spacing; stored normalised")
    reason: str = Field(min_length=1, max_length=MAX_TEXT)
    owner: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT,
                              description="officer or unit responsible (default: the caller)")
    expires_at: AwareDatetime | None = Field(default=None, description="null: never expires")

    @field_validator("plate")
    @classmethod
    def _plate(cls, value: str) -> str:
        return watch_plate(value)


class WatchlistPatch(In):
    """Fields to change; ``expires_at: null`` means never expires, leaving it out keeps it."""

    reason: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    owner: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    expires_at: AwareDatetime | None = None


class WatchlistOut(Out):
    entry_id: str
    plate: str
    reason: str
    owner: str
    expires_at: datetime | None


class WatchlistPage(Out):
    count: int
    items: list[WatchlistOut]


# ------------------------------------------------------------------ plates


class PlateReadOut(Out):
    id: str
    plate: str
    ts: datetime
    site: str
    device: str
    camera: str
    track_id: int
    raw_text: str
    layout: str
    plate_color: str
    vehicle_class: str
    confidence: float
    valid: bool
    lane: str | None
    match_distance: int
    watchlist_hit: bool


class PlateSearchOut(Out):
    plate: str = Field(description="the normalised search term")
    match: Literal["exact", "one_off", "prefix"]
    count: int
    items: list[PlateReadOut]


class HitOut(Out):
    alert_id: str
    change_id: str
    seq: int
    status: str
    ts: datetime
    plate: str | None
    match_distance: int | None
    reading_id: str | None
    description: str
    read: PlateReadOut | None = Field(description="the read that hit, while it is kept")


class HitPage(Out):
    count: int
    items: list[HitOut]


# ------------------------------------------------------------------ alerts


class AlertOut(Out):
    alert_id: str
    site: str
    device: str
    category: str
    subcategory: str
    severity: str
    audience: str
    station: str | None
    plate: str | None
    status: str = Field(description="the stream's latest state change")
    level: int
    description: str
    since: datetime
    last_change_at: datetime
    last_seq: int
    last_change_id: str
    state: Literal["open", "acknowledged", "cleared"] = Field(
        description="console state: acknowledged/cleared hold until a newer change arrives")
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    assignee: str | None
    assigned_by: str | None
    assigned_at: datetime | None
    cleared_by: str | None
    cleared_at: datetime | None


class AlertPage(Out):
    count: int
    items: list[AlertOut]


class ActionOut(Out):
    seq: int
    alert_id: str
    action: str
    actor: str
    role: str
    at: datetime
    assignee: str | None
    note: str | None


class AlertDetail(Out):
    alert: AlertOut
    changes: list[dict[str, Any]] = Field(description="every state change, as the stream sent it")
    actions: list[ActionOut]


class NoteIn(In):
    note: str | None = Field(default=None, max_length=2000)


class AssignIn(In):
    assignee: str = Field(min_length=1, max_length=64, description="a configured user name")
    note: str | None = Field(default=None, max_length=2000)


class CommentIn(In):
    text: str = Field(min_length=1, max_length=2000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a comment needs some text, not only spaces")
        return value.strip()


# ------------------------------------------------------------------ stations


class PointOut(Out):
    ts: datetime
    value: float
    samples: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class SeriesOut(Out):
    station: str
    name: str = Field(description="quantity (readings) or measure (aggregates)")
    unit: str | None
    count: int
    truncated: bool
    min: float | None
    max: float | None
    mean: float | None
    first: PointOut | None
    last: PointOut | None
    points: list[PointOut]


# ------------------------------------------------------------------ violations


class EvidenceOut(Out):
    image_id: str
    role: str
    taken_at: datetime
    sha256: str
    stored: bool = Field(description="the image bytes are in the cloud's evidence folder")


class ViolationOut(Out):
    id: str
    ts: datetime
    site: str
    device: str
    camera: str
    track_id: int
    violation: str
    vehicle_class: str
    plate: str | None = Field(description="only for police and admin; null for other roles")
    plate_hidden: bool
    plate_color: str | None
    location: str
    rule: dict[str, Any]
    evidence: list[EvidenceOut]
    review: Literal["pending", "confirmed", "rejected"]
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None


class ViolationPage(Out):
    count: int
    items: list[ViolationOut]


class ReviewIn(In):
    decision: Literal["confirmed", "rejected"]
    note: str | None = Field(default=None, max_length=2000)


# ------------------------------------------------------------------ devices, admin


class DeviceOut(Out):
    site: str
    device: str
    first_seen: datetime
    last_seen: datetime = Field(description="the device's own event time of its newest event")
    received: datetime = Field(description="when the cloud last got something from it")
    state: str | None
    state_at: datetime | None
    agent_version: str | None
    config_version: str | None
    heartbeat_at: datetime | None
    uptime_s: float | None
    fps: float | None
    inference_ms: float | None
    queue_depth: int | None
    dropped: int | None
    disk_used_bytes: int | None
    health: Literal["ok", "stale", "offline", "unknown"]
    source_state: str | None = None
    source_reconnects: int | None = None
    dropped_events: int | None = Field(default=None,
                                       description="events the device's full queue dropped")
    config_ack_at: datetime | None = None
    config_ack_result: Literal["applied", "refused"] | None = Field(
        default=None, description="the device's answer to the last config pushed to it")
    config_ack_version: str | None = None
    config_ack_problems: list[str] = []


class DevicePage(Out):
    count: int
    items: list[DeviceOut]


class AuditOut(Out):
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    target: dict[str, Any]
    result_count: int | None


class AuditPage(Out):
    count: int
    items: list[AuditOut]


class DeliveryOut(Out):
    notifier: str
    change_id: str
    alert_id: str
    stored_seq: int
    state: str
    attempts: int
    next_at: datetime
    last_error: str | None
    delivered_at: datetime | None


class DeliveryPage(Out):
    count: int
    items: list[DeliveryOut]


class PurgeOut(Out):
    plate_reads: int
    hit_plate_reads: int
    violations: int
    images: int


class MeOut(Out):
    name: str
    role: str
    sees_plates: bool
    audiences: list[str]
