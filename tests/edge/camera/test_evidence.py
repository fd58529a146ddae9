"""Evidence images: the SHA-256 in the event is the one of the stored bytes; captions;
retrieval by id; retention by count, bytes and age."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from edge.camera.evidence import EvidenceStore, ascii_text, burn_caption

T0 = datetime(2025, 11, 3, 1, 15, 42, 500_000, tzinfo=UTC)  # 08:15:42 in Hue


def _image(seed: int, w: int = 320, h: int = 180) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_sha256_in_the_reference_matches_the_stored_bytes(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, "lequydon-n").open()
    ref = store.save(_image(1), "at", T0, "track-1|red_light",
                     store.caption(T0, "Lê Quý Đôn × Hà Nội, Huế"))
    data = store.get(ref.image_id)
    assert data is not None
    assert data[:2] == b"\xff\xd8"  # JPEG
    assert hashlib.sha256(data).hexdigest() == ref.sha256
    assert (ref.role, ref.taken_at) == ("at", T0)
    assert store.path(ref.image_id) == tmp_path / "20251103" / f"{ref.image_id}.jpg"


def test_caption_has_local_time_to_the_second_place_and_camera(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, "lequydon-n", tz="Asia/Ho_Chi_Minh")
    lines = store.caption(T0, "Lê Quý Đôn", "red_light")
    assert lines == ["2025-11-03 08:15:42 +0700  cam lequydon-n", "Lê Quý Đôn  red_light"]
    img = np.full((180, 320, 3), 200, np.uint8)
    out = burn_caption(img, lines)
    assert out.shape == img.shape
    assert (out[:40] != img[:40]).any()  # the band with the text is drawn on top
    assert (out[100:] == img[100:]).all()
    assert (img == 200).all()  # the original frame is untouched
    assert ascii_text("Lê Quý Đôn × Hà Nội") == "Le Quy Don  Ha Noi"


@pytest.mark.parametrize("bad_id", ["../etc/passwd", "", "x" * 200, "nope"])
def test_unknown_or_malformed_ids_give_nothing(tmp_path: Path, bad_id: str) -> None:
    store = EvidenceStore(tmp_path, "cam").open()
    store.save(_image(1), "at", T0, "k")
    assert store.get(bad_id) is None


def test_retention_by_count_keeps_the_newest(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, "cam", max_images=3).open()
    refs = [store.save(_image(i), "at", T0 + timedelta(seconds=i), f"k{i}") for i in range(5)]
    assert len(store) == 3
    assert [store.get(r.image_id) is not None for r in refs] == [False, False, True, True, True]
    assert store.expired == 2


def test_retention_by_bytes(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, "cam").open()
    ref = store.save(_image(0), "at", T0, "k0")
    size = len(store.get(ref.image_id) or b"")
    store.max_bytes = int(size * 2.5)
    for i in range(1, 4):
        store.save(_image(i), "at", T0 + timedelta(seconds=i), f"k{i}")
    assert store.bytes_used <= store.max_bytes
    assert len(store) == 2


def test_retention_by_age_also_after_a_restart(tmp_path: Path) -> None:
    store = EvidenceStore(tmp_path, "cam", max_age_s=3600).open()
    old = store.save(_image(0), "at", T0, "old")
    new = store.save(_image(1), "at", T0, "new")
    old_path = store.path(old.image_id)
    assert old_path is not None
    past = time.time() - 7200
    os.utime(old_path, (past, past))
    again = EvidenceStore(tmp_path, "cam", max_age_s=3600).open()  # indexes what is on disk
    assert again.get(old.image_id) is None
    assert not old_path.exists()
    assert again.get(new.image_id) is not None


def test_files_the_store_did_not_write_are_never_expired(tmp_path: Path) -> None:
    """``evidence.dir`` pointed at a folder of photos: retention deleted them."""
    photo = tmp_path / "2020" / "holiday.jpg"
    other_camera = tmp_path / "20251103" / "cam-2-20251103081542-0123456789ab-at.jpg"
    for path in (photo, other_camera):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"\xff\xd8 not ours")
        os.utime(path, (0, 0))  # older than any age limit
    store = EvidenceStore(tmp_path, "cam", max_age_s=3600, max_images=1).open()
    ref = store.save(_image(1), "at", T0, "k")
    store.save(_image(2), "at", T0, "k2")  # over max_images: our older image goes
    assert store.get(ref.image_id) is None
    assert photo.exists()
    assert other_camera.exists()
    assert len(store) == 1


def test_a_read_only_store_creates_and_deletes_nothing(tmp_path: Path) -> None:
    """``ioc edge evidence`` fetches an image: it must not expire the gateway's others."""
    store = EvidenceStore(tmp_path / "ev", "cam").open()
    ref = store.save(_image(1), "at", T0, "k")
    path = store.path(ref.image_id)
    assert path is not None
    os.utime(path, (0, 0))
    reader = EvidenceStore(tmp_path / "ev", "cam", max_age_s=3600).open(read_only=True)
    assert reader.get(ref.image_id) == path.read_bytes()
    assert path.exists()
    missing = EvidenceStore(tmp_path / "nowhere", "cam").open(read_only=True)
    assert missing.get(ref.image_id) is None
    assert not (tmp_path / "nowhere").exists()
