"""EventStore.put fills the indexed tables once, in one transaction, on both backends."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from cloud.config import StoreSettings
from cloud.stores.bundle import CloudStores, stores_on
from cloud.stores.db import Database, PostgresDatabase, SqliteDatabase
from cloud.stores.schema import SCHEMA
from ioc.contract import ConfigAck


def test_put_is_idempotent_and_fills_every_table(stores: CloudStores, make) -> None:
    read = make.plate("p1", "75a-123.45")
    batch = [
        read,
        make.hit("h1", read, "75A12345"),
        make.violation("v1"),
        make.status("s1", "camgw-01", "online", config_version="cfg-3"),
        make.heartbeat("hb1", "camgw-01", make.at(1), queue_depth=4),
        make.alert("a1", "flood-kimlong"),
    ]
    assert stores.events.put(batch) == 6
    assert stores.events.put(batch) == 0  # a replay changes nothing
    assert stores.events.put([*batch, read]) == 0
    assert stores.events.counts() == {"plate": 1, "alert": 2, "violation": 1, "status": 1,
                                      "heartbeat": 1}
    got = stores.plates.search("75A12345")
    assert [(r.id, r.plate, r.watchlist_hit) for r in got] == [("p1", "75A12345", True)]
    assert [v.id for v in stores.violations.list()] == ["v1"]
    assert {a.alert_id for a in stores.alerts.list(audiences=("operator", "police"))} == {
        "flood-kimlong", "hit-p1"}
    device = stores.devices.get("hue", "camgw-01")
    assert device is not None
    assert (device.state, device.config_version, device.queue_depth) == ("online", "cfg-3", 4)
    assert device.first_seen == make.t0
    assert device.last_seen == make.at(1)


def test_duplicates_inside_one_batch_count_once(stores: CloudStores, make) -> None:
    read = make.plate("p1", "75A12345")
    assert stores.events.put([read, read, read]) == 1
    assert stores.plates.count() == 1


def test_stored_sequence_keeps_growing(stores: CloudStores, make) -> None:
    stores.events.put([make.alert("a1", "x"), make.alert("a2", "x", "escalated", make.at(1))])
    stores.events.put([make.alert("a3", "y")])
    seqs = [c.seq for c in stores.alerts.changes_after(0)]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3
    assert stores.alerts.latest_seq() == seqs[-1]


def test_alert_state_is_the_newest_change_even_when_an_older_one_arrives_late(
        stores: CloudStores, make) -> None:
    stores.events.put([make.alert("a2", "flood", "escalated", make.at(10), severity="high",
                                  level=2)])
    stores.events.put([make.alert("a1", "flood", "raised", make.at(0), level=1)])
    view = stores.alerts.get("flood")
    assert view is not None
    assert (view.status, view.level, view.severity) == ("escalated", 2, "high")
    assert [c.event["status"] for c in stores.alerts.changes("flood")] == ["escalated", "raised"]


def test_device_state_follows_event_time_not_arrival(stores: CloudStores, make) -> None:
    stores.events.put([make.status("s2", "gw", "offline", make.at(5))])
    stores.events.put([make.status("s1", "gw", "online", make.at(1))])
    device = stores.devices.get("hue", "gw")
    assert device is not None
    assert device.state == "offline"
    assert device.health == "offline"
    assert device.first_seen == make.at(1)
    assert device.last_seen == make.at(5)


def test_source_health_and_the_newest_config_ack_reach_the_registry(stores: CloudStores,
                                                                    make) -> None:
    beat = make.heartbeat("h1", "cam", make.at(2))
    beat = msgspec.structs.replace(beat, source_state="reconnecting", source_reconnects=3,
                                   dropped_events=7)
    refused = ConfigAck(id="a2", site="hue", device="cam", ts=make.at(4), result="refused",
                        config_version="3", running_version="2",
                        problems=["cam.yaml:4: lanes.0: too few points", "version: 3: old"])
    applied = ConfigAck(id="a1", site="hue", device="cam", ts=make.at(3), result="applied",
                        config_version="2", running_version="2")
    stores.events.put([beat, refused])
    stores.events.put([applied])  # older: arrives late, changes nothing
    device = stores.devices.get("hue", "cam")
    assert device is not None
    assert (device.source_state, device.source_reconnects, device.dropped_events) == (
        "reconnecting", 3, 7)
    assert (device.config_ack_result, device.config_ack_version, device.config_ack_at) == (
        "refused", "3", make.at(4))
    assert device.config_ack_problems == ("cam.yaml:4: lanes.0: too few points",
                                          "version: 3: old")


def test_list_and_alerts_keep_the_walking_skeleton_interface(stores: CloudStores, make) -> None:
    a = make.alert("a1", "x")
    b = make.alert("a2", "x", "cleared", make.at(3))
    stores.events.put([a, b])
    assert stores.events.alerts() == [a, b]
    assert stores.events.list("alert", limit=1) == [a]


def test_concurrent_writers_get_distinct_sequence_numbers(stores: CloudStores, make) -> None:
    import threading

    def write(worker: int) -> None:
        for i in range(20):
            stores.events.put([make.alert(f"w{worker}-{i}", f"alert-{worker}", at=make.at(i)),
                               make.plate(f"p{worker}-{i}", "75A12345", make.at(i))])
            stores.audit.record(actor=f"w{worker}", role="admin", action="x", target={},
                                result_count=i)
        stores.db.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [c.seq for c in stores.alerts.changes_after(0, limit=1000)]
    assert len(seqs) == len(set(seqs)) == 80
    assert stores.events.counts() == {"alert": 80, "plate": 80}
    assert len(stores.audit.query(limit=1000)) == 80


def test_concurrent_acknowledgements_one_wins(stores: CloudStores, make) -> None:
    import threading

    from cloud.stores.errors import ConflictError

    stores.events.put([make.alert("c1", "flood")])
    outcomes: list[str] = []

    def ack(who: str) -> None:
        try:
            stores.alerts.act("flood", "acknowledge", actor=who, role="flood_operator")
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")
        stores.db.close()

    threads = [threading.Thread(target=ack, args=(f"op-{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 5 + ["ok"]
    assert [a.action for a in stores.alerts.actions("flood")] == ["acknowledge"]


def test_a_store_made_before_loses_the_unused_subject_index(
        backend: str, tmp_path: Path, settings: StoreSettings, request: pytest.FixtureRequest,
        make) -> None:
    # stores made before 2026-11-24 indexed events.subject, which nothing searches
    old_schema = (*SCHEMA, "CREATE INDEX IF NOT EXISTS events_subject ON events (subject)")
    dsn = request.getfixturevalue("pg_dsn") if backend == "postgres" else None

    def open_db(schema: tuple[str, ...]) -> Database:
        if dsn is not None:
            return PostgresDatabase(dsn, schema)
        return SqliteDatabase(tmp_path / "events.sqlite", schema)

    def indexes(db: Database) -> set[str]:
        sql = ("SELECT indexname FROM pg_indexes WHERE tablename = 'events'" if dsn else
               "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'")
        return {str(r[0]) for r in db.query(sql)}

    old = open_db(old_schema)
    assert "events_subject" in indexes(old)
    old.close_all()
    new = open_db(SCHEMA)
    try:
        assert "events_subject" not in indexes(new)
        assert "events_kind_ts" in indexes(new)  # the one the API searches stays
        assert stores_on(new, settings, stale_after_s=60).events.put(
            [make.alert("a1", "flood-kimlong")]) == 1
    finally:
        new.close_all()
