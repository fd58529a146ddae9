"""The watchlist store: CRUD, the version every process sees, expiry, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.stores.bundle import CloudStores
from cloud.stores.watchlist import SqliteWatchlistStore, WatchlistEntry

NOW = datetime(2025, 11, 3, tzinfo=UTC)


def test_crud_bumps_the_version(stores: CloudStores) -> None:
    w = stores.watchlist
    assert w.version() == 0
    entry = w.add("75a-123.45", "stolen car", "police-1")
    assert entry == WatchlistEntry(entry.entry_id, "75A12345", "stolen car", "police-1", None)
    assert w.version() == 1
    assert w.get(entry.entry_id) == entry
    changed = w.update(entry.entry_id, reason="wanted", expires_at=NOW + timedelta(days=1))
    assert changed is not None
    assert (changed.reason, changed.expires_at) == ("wanted", NOW + timedelta(days=1))
    assert w.version() == 2
    assert w.update(entry.entry_id, expires_at=None).expires_at is None  # type: ignore[union-attr]
    assert w.version() == 3
    assert w.delete(entry.entry_id)
    assert w.version() == 4
    assert w.get(entry.entry_id) is None
    assert not w.delete(entry.entry_id)
    assert w.update(entry.entry_id, reason="x") is None
    assert w.version() == 4  # nothing changed, nothing bumped


def test_active_leaves_out_expired_entries(stores: CloudStores) -> None:
    w = stores.watchlist
    keep = w.add("75A12345", "a", "p", NOW + timedelta(hours=1))
    forever = w.add("43B67890", "b", "p")
    w.add("29C11111", "c", "p", NOW - timedelta(seconds=1))
    assert w.active(NOW) == sorted([keep, forever], key=lambda e: e.plate)
    assert w.active(NOW + timedelta(hours=2)) == [forever]
    assert len(w.list()) == 3
    assert [e.plate for e in w.list(plate="75a 123 45")] == ["75A12345"]


@pytest.mark.parametrize(("plate", "reason", "owner", "expires", "message"), [
    ("75A1234X", "r", "o", None, "not a Vietnamese plate"),
    ("", "r", "o", None, "plate is empty"),
    ("75A12345", "  ", "o", None, "reason is empty"),
    ("75A12345", "r", "", None, "owner is empty"),
    ("75A12345", "x" * 501, "o", None, "at most 500"),
    ("75A12345", "r", "o", datetime(2026, 1, 1), "no timezone"),
])
def test_bad_entries_are_refused_with_the_reason(stores: CloudStores, plate: str, reason: str,
                                                 owner: str, expires: datetime | None,
                                                 message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stores.watchlist.add(plate, reason, owner, expires)
    assert stores.watchlist.version() == 0


def test_another_process_sees_the_change(tmp_path: Path) -> None:
    """Two stores on one file stand for the API and the stream in two processes."""
    api = SqliteWatchlistStore(tmp_path / "events.sqlite")
    stream = SqliteWatchlistStore(tmp_path / "events.sqlite")
    before = stream.version()
    entry = api.add("75A12345", "stolen", "police-1")
    assert stream.version() == before + 1
    assert stream.active(NOW) == [entry]
    api.close()
    stream.close()
