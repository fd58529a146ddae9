"""Plate history: exact, one OCR confusion off, prefix; time range and camera; bad terms."""

from __future__ import annotations

import pytest

from cloud.stores.bundle import CloudStores
from cloud.stores.plates import confusion_variants, search_plate
from ioc.plates import one_confusion_apart


@pytest.fixture
def loaded(stores: CloudStores, make) -> CloudStores:
    stores.events.put([
        make.plate("r1", "75A12345", make.at(0), camera="cam-01"),
        make.plate("r2", "75A12345", make.at(10), camera="cam-02"),
        make.plate("r3", "75A1234S", make.at(20)),   # S for 5: one confusion off
        make.plate("r4", "75A12845", make.at(30)),   # 3 → 8: one confusion off (8B3 class)
        make.plate("r5", "75A12346", make.at(40)),   # 5 → 6: not a confusion
        make.plate("r6", "75A99999", make.at(50)),
        make.plate("r7", "43B12345", make.at(60)),
    ])
    return stores


def test_exact_newest_first(loaded: CloudStores) -> None:
    assert [r.id for r in loaded.plates.search("75a-123.45")] == ["r2", "r1"]


def test_one_off_finds_confusions_and_says_how_far(loaded: CloudStores) -> None:
    got = {r.id: r.match_distance for r in loaded.plates.search("75A12345", mode="one_off")}
    assert got == {"r1": 0, "r2": 0, "r3": 1, "r4": 1}


def test_prefix_is_a_range(loaded: CloudStores) -> None:
    assert {r.id for r in loaded.plates.search("75A1", mode="prefix")} == {
        "r1", "r2", "r3", "r4", "r5"}
    assert [r.id for r in loaded.plates.search("75A9", mode="prefix")] == ["r6"]


def test_time_range_camera_and_limit(loaded: CloudStores, make) -> None:
    got = loaded.plates.search("75A12345", mode="one_off", since=make.at(10), until=make.at(30))
    assert [r.id for r in got] == ["r3", "r2"]  # until is exclusive
    assert [r.id for r in loaded.plates.search("75A12345", camera="cam-01")] == ["r1"]
    assert len(loaded.plates.search("75A1", mode="prefix", limit=2)) == 2


@pytest.mark.parametrize(("term", "mode", "message"), [
    ("75A!2345", "exact", "characters no plate carries"),
    ("75A", "exact", "needs 4 to 12"),
    ("7", "prefix", "needs 3 to 12"),
    ("75A1234567890", "one_off", "needs 4 to 12"),
    ("75A12345", "fuzzy", "not one of"),
])
def test_bad_terms_say_why(term: str, mode: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        search_plate(term, mode)  # type: ignore[arg-type]


def test_reversed_time_range_is_refused(loaded: CloudStores, make) -> None:
    with pytest.raises(ValueError, match="not before"):
        loaded.plates.search("75A12345", since=make.at(10), until=make.at(5))


@pytest.mark.parametrize("plate", ["75A12345", "29HA00233", "75MĐ112345", "43B1234"])
def test_variants_are_exactly_the_plates_one_confusion_away(plate: str) -> None:
    variants = confusion_variants(plate)
    assert plate not in variants
    assert variants
    assert all(one_confusion_apart(plate, v) for v in variants)
    # and nothing one confusion away is missing: every single-position swap within a class
    alphabet = {c for v in variants for c in v} | set(plate)
    for i in range(len(plate)):
        for c in alphabet:
            candidate = plate[:i] + c + plate[i + 1:]
            assert (candidate in variants) == one_confusion_apart(plate, candidate)


def test_bulk_load_then_search(stores: CloudStores, make) -> None:
    base = int(make.t0.timestamp()) * 10**9
    rows = [(f"b{i}", "75A12345" if i % 100 == 0 else f"43B{i:05d}", base + i * 10**9, "hue",
             "gw", f"cam-{i % 3}", i, "", "one_line", "white", "car", 0.9, 1, None)
            for i in range(2500)]
    assert stores.plates.bulk_load(rows, batch=1000) == 2500
    assert stores.plates.count() == 2500
    got = stores.plates.search("75A12345", limit=1000)
    assert [r.id for r in got] == [f"b{i}" for i in range(2400, -1, -100)]
    expected = {f"b{i}" for i in range(2500) if i % 100 and i % 3 == 1}
    got_prefix = stores.plates.search("43B0", mode="prefix", camera="cam-1", limit=1000)
    assert {r.id for r in got_prefix} == expected
