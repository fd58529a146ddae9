"""KPIs over the event database, on SQLite and PostgreSQL: known inputs, exact numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest

from cloud.kpi.events import Durations, EventKpis, PlateRate, Uptime, ViolationDay
from cloud.stores.bundle import CloudStores
from cloud.stores.times import to_ns
from ioc.contract import (
    Event,
    EvidenceImage,
    Heartbeat,
    VehicleClass,
    VehicleTrack,
    Violation,
    ViolationType,
)

T0 = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)
SHA = "0" * 64


def _violation(i: int, at: datetime, kind: str, plate: str | None, images: int) -> Violation:
    return Violation(id=f"v{i}", site="hue", device="camgw-01", ts=at, camera="cam-01",
                     track_id=i, violation=ViolationType(kind), vehicle_class=VehicleClass.CAR,
                     plate=plate, location="Huế",
                     evidence=[EvidenceImage(image_id=f"v{i}-{k}", role="at", taken_at=at,
                                             sha256=SHA) for k in range(images)])


# (UTC time, type, plate, evidence images); local day is UTC+7: 16:59:59Z is still 3 Nov
VIOLATIONS = [
    (datetime(2025, 11, 3, 1, 0, tzinfo=UTC), "red_light", "75A12345", 2),
    (datetime(2025, 11, 3, 16, 59, 59, tzinfo=UTC), "red_light", None, 2),
    (datetime(2025, 11, 3, 17, 0, tzinfo=UTC), "red_light", "75A12346", 0),
    (datetime(2025, 11, 3, 18, 0, tzinfo=UTC), "red_light", "75A12347", 1),
    (datetime(2025, 11, 3, 19, 0, tzinfo=UTC), "speeding", "75A12348", 3),
    (datetime(2025, 11, 2, 16, 0, tzinfo=UTC), "wrong_way", "75A12349", 1),
]


@pytest.mark.parametrize(("since", "until", "expected"), [
    (None, None, [ViolationDay(date(2025, 11, 2), "wrong_way", 1, 1),
                  ViolationDay(date(2025, 11, 3), "red_light", 2, 1),
                  ViolationDay(date(2025, 11, 4), "red_light", 2, 1),
                  ViolationDay(date(2025, 11, 4), "speeding", 1, 1)]),
    (datetime(2025, 11, 3, 17, 0, tzinfo=UTC), None,
     [ViolationDay(date(2025, 11, 4), "red_light", 2, 1),
      ViolationDay(date(2025, 11, 4), "speeding", 1, 1)]),
    (None, datetime(2025, 11, 3, 17, 0, tzinfo=UTC),
     [ViolationDay(date(2025, 11, 2), "wrong_way", 1, 1),
      ViolationDay(date(2025, 11, 3), "red_light", 2, 1)]),
    (datetime(2026, 1, 1, tzinfo=UTC), None, []),
])
def test_violations_per_local_day_and_type(stores: CloudStores, since: datetime | None,
                                           until: datetime | None,
                                           expected: list[ViolationDay]) -> None:
    stores.events.put([_violation(i, *v) for i, v in enumerate(VIOLATIONS)])
    kpis = EventKpis(stores.db, utc_offset_hours=7)
    got = kpis.violations_per_day(None if since is None else to_ns(since),
                                  None if until is None else to_ns(until))
    assert got == expected


def _pass(i: int, device: str, at: datetime) -> VehicleTrack:
    return VehicleTrack(id=f"t-{device}-{i}", site="hue", device=device, ts=at, camera="cam",
                        track_id=i, vehicle_class=VehicleClass.MOTORBIKE, first_seen=at,
                        last_seen=at, confidence=0.9)


def test_plate_read_rate_per_camera(stores: CloudStores, make) -> None:
    passes = [_pass(i, "camgw-01", T0 + timedelta(seconds=i)) for i in range(4)]
    reads = [make.plate("r1", "75A12345", T0, device="camgw-01"),
             make.plate("r2", "75A12346", T0, device="camgw-01"),
             make.plate("r3", "75A1234", T0 + timedelta(hours=2), device="camgw-01"),
             make.plate("r4", "75A12347", T0, device="camgw-02")]
    reads[1] = msgspec.structs.replace(reads[1], valid=False)
    stores.events.put([*passes, *reads])
    kpis = EventKpis(stores.db)
    assert kpis.plate_reads(None, None) == [PlateRate("hue", "camgw-01", 4, 3, 2),
                                            PlateRate("hue", "camgw-02", 0, 1, 1)]
    one_hour = kpis.plate_reads(to_ns(T0), to_ns(T0 + timedelta(hours=1)))
    assert one_hour == [PlateRate("hue", "camgw-01", 4, 2, 1),
                        PlateRate("hue", "camgw-02", 0, 1, 1)]
    assert one_hour[0].rate == 0.5
    assert one_hour[0].valid_share == 0.5
    assert one_hour[1].rate is None


def _put_at(stores: CloudStores, monkeypatch: pytest.MonkeyPatch, at: datetime,
            events: list[Event]) -> None:
    """Store ``events`` as if the cloud's clock read ``at``."""
    monkeypatch.setattr("cloud.stores.events.now_ns", lambda: to_ns(at))
    stores.events.put(events)


def test_read_to_watchlist_alert(stores: CloudStores, make,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    r1 = make.plate("r1", "75A12345", T0)
    r2 = make.plate("r2", "75A12346", T0 + timedelta(minutes=1))
    hits = [make.alert("h1", "hit-1", at=T0 + timedelta(seconds=2), audience="police",
                       category="security", subcategory="watchlist", reading_id="r1",
                       station=None),
            make.alert("h2", "hit-2", at=T0 + timedelta(minutes=1, seconds=5),
                       audience="police", category="security", subcategory="watchlist",
                       reading_id="r2", station=None),
            make.alert("f1", "flood-1", at=T0)]  # not a watchlist alert: not counted
    _put_at(stores, monkeypatch, T0, [r1, r2])
    # stored 3 s after the first read, 7 s after the second (the alerts' own times are
    # the reads' times: the stream stamps an alert with the event that caused it)
    _put_at(stores, monkeypatch, T0 + timedelta(seconds=3), [hits[0], hits[2]])
    _put_at(stores, monkeypatch, T0 + timedelta(minutes=1, seconds=7), [hits[1]])
    got = EventKpis(stores.db).read_to_watchlist_alert(None, None)
    assert got == Durations(2, 5.0, 5.0, 7.0)


def _beat(device: str, at: datetime, fps: float | None = None) -> Heartbeat:
    return Heartbeat(id=f"hb-{device}-{at.isoformat()}", site="hue", device=device, ts=at,
                     uptime_s=1.0, fps=fps)


def test_uptime_counts_buckets_with_a_heartbeat(stores: CloudStores, make) -> None:
    s = timedelta(seconds=1)
    stores.events.put([
        _beat("cam-a", T0, fps=5.0), _beat("cam-a", T0 + 30 * s, fps=5.0),
        _beat("cam-a", T0 + 60 * s, fps=5.0), _beat("cam-a", T0 + 150 * s, fps=5.0),
        _beat("gauge-b", T0 + 120 * s), _beat("gauge-b", T0 + 250 * s),
        make.status("st-c", "gauge-c", "online", T0),  # registered, never a heartbeat
    ])
    kpis = EventKpis(stores.db)
    got = kpis.uptime(to_ns(T0), to_ns(T0 + 240 * s), now_ns=to_ns(T0 + 3600 * s))
    assert got == [Uptime("hue", "cam-a", "camera", 3, 4),
                   Uptime("hue", "gauge-b", "sensor", 1, 2),
                   Uptime("hue", "gauge-c", "sensor", 0, 0)]
    assert [u.uptime for u in got] == [0.75, 0.5, None]
    # clipped to now; without a lower bound the span starts at the first heartbeat
    early = kpis.uptime(None, None, now_ns=to_ns(T0 + 90 * s))
    assert early[0] == Uptime("hue", "cam-a", "camera", 2, 2)
    assert early[1] == Uptime("hue", "gauge-b", "sensor", 0, 0)


def _act(stores: CloudStores, alert_id: str, action: str, at: datetime) -> None:
    with stores.db.transaction(serial=True) as tx:
        tx.run("INSERT INTO operator_actions (alert_id, action, actor, role, at_ns, at_seq)"
               " VALUES (?,?,?,?,?,?)", (alert_id, action, "op", "flood_operator", to_ns(at), 1))


def test_alerts_by_peak_severity_and_reaction_times(stores: CloudStores, make,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    m = timedelta(minutes=1)
    changes = [
        make.alert("a1-r", "a1", "raised", T0, severity="medium"),
        make.alert("a1-e", "a1", "escalated", T0 + 10 * m, severity="critical", level=3),
        make.alert("a1-c", "a1", "cleared", T0 + 60 * m, severity="informational"),
        make.alert("a2-r", "a2", "raised", T0 + 5 * m, severity="low",
                   category="environment", subcategory="air_quality"),
        make.alert("a3-r", "a3", "raised", T0 + 7 * m, severity="high"),
        make.alert("p1-r", "p1", "raised", T0, audience="police", category="security",
                   subcategory="watchlist", severity="high", station=None),
    ]
    for change in changes:  # each stored as it happens (reaction times use stored time)
        _put_at(stores, monkeypatch, change.ts, [change])
    _act(stores, "a1", "acknowledge", T0 + 2 * m)
    _act(stores, "a1", "acknowledge", T0 + 20 * m)  # re-acknowledged after the escalation
    _act(stores, "a2", "acknowledge", T0 + 9 * m)
    _act(stores, "a3", "clear", T0 + 37 * m)  # cleared in the console
    _act(stores, "p1", "acknowledge", T0 + m)
    kpis = EventKpis(stores.db)
    got = kpis.alerts(None, None, ("operator",))
    assert got.by_severity == {"informational": 0, "low": 1, "medium": 0, "high": 1,
                               "critical": 1}
    assert got.by_category == {"environment": 1, "weather": 2}
    assert got.acknowledge == Durations(2, 180.0, 180.0, 240.0)
    assert got.clear == Durations(2, 2700.0, 2700.0, 3600.0)
    everyone = kpis.alerts(None, None, ("operator", "police"))
    assert everyone.by_severity["high"] == 2
    assert everyone.acknowledge.count == 3
    late = kpis.alerts(to_ns(T0 + 6 * m), None, ("operator",))
    assert late.by_severity == {"informational": 0, "low": 0, "medium": 0, "high": 1,
                                "critical": 0}
    assert late.acknowledge == Durations(0, None, None, None)
    assert late.clear == Durations(1, 1800.0, 1800.0, 1800.0)
