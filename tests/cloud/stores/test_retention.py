"""Retention: reads without a hit go after plate_reads_days; evidence after evidence_days."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from cloud.stores.bundle import CloudStores
from cloud.stores.retention import PurgeResult, Retention


def test_purge_deletes_only_what_is_past_its_period(stores: CloudStores, make) -> None:
    now = make.t0
    old, hit_old, recent = (make.plate("old", "75A11111", now - timedelta(days=31)),
                            make.plate("hit", "75A22222", now - timedelta(days=31)),
                            make.plate("new", "75A33333", now - timedelta(days=29)))
    image = b"\xff\xd8\xff old evidence"
    stores.evidence.put("img-old", image)
    stores.evidence.put("img-new", b"\xff\xd8\xff new")
    stores.events.put([
        old, hit_old, recent, make.hit("h1", hit_old, "75A22222"),
        make.violation("v-old", now - timedelta(days=400),
                       images=[("img-old", hashlib.sha256(image).hexdigest())]),
        make.violation("v-new", now - timedelta(days=10),
                       images=[("img-new", "0" * 64)]),
    ])
    retention = Retention(stores.db, stores.evidence, plate_reads_days=30, evidence_days=365,
                          batch=1)  # batch=1: every row takes its own transaction
    assert retention.purge(now) == PurgeResult(plate_reads=1, hit_plate_reads=0, violations=1,
                                               images=1)
    assert {r.id for r in stores.plates.search("75A", mode="prefix")} == {"hit", "new"}
    assert [v.id for v in stores.violations.list()] == ["v-new"]
    assert stores.evidence.read("img-old") is None
    assert stores.evidence.read("img-new") is not None
    assert {e.id for e in stores.events.list("plate")} == {"hit", "new"}
    assert {e.id for e in stores.events.list("violation")} == {"v-new"}
    # a year later the hit read has reached the evidence period too
    later = Retention(stores.db, stores.evidence, plate_reads_days=30, evidence_days=365)
    assert later.purge(now + timedelta(days=366)).hit_plate_reads == 1
    assert retention.purge(now) == PurgeResult(0, 0, 0, 0)  # nothing left to do


@pytest.mark.parametrize(("reads", "evidence"), [(0, 1), (1, -1)])
def test_periods_must_be_positive(stores: CloudStores, reads: float, evidence: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Retention(stores.db, None, plate_reads_days=reads, evidence_days=evidence)
