"""Instants as integer nanoseconds since the epoch, the way every store keeps them.

Integer nanoseconds sort and compare the same in SQLite and PostgreSQL, are exact
for microsecond datetimes, and never carry a time zone to get wrong.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_NS = 2**63 - 1


def to_ns(ts: datetime) -> int:
    """Nanoseconds since the epoch of a timezone-aware datetime (a naive one is refused)."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()} has no timezone")
    delta = ts - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if not 0 <= ns <= _MAX_NS:
        raise ValueError(f"{ts.isoformat()} is outside the times a store keeps (1970 to 2262)")
    return ns


def from_ns(ns: int) -> datetime:
    """The UTC datetime of nanoseconds since the epoch (to the microsecond)."""
    return _EPOCH + timedelta(microseconds=int(ns) // 1000)


def opt_from_ns(ns: int | None) -> datetime | None:
    """:func:`from_ns`, passing None through."""
    return None if ns is None else from_ns(ns)


def now_ns() -> int:
    """The wall clock in nanoseconds since the epoch."""
    return time.time_ns()
