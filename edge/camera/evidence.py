"""Evidence images kept on the gateway: JPEGs with time, place and camera burned in.

Each image is written once under ``dir/YYYYMMDD/<image_id>.jpg`` (atomically:
temporary file, then rename), its SHA-256 goes into the violation event, and it
can be fetched by id. Retention keeps at most ``max_images`` images and
``max_bytes`` bytes, none older than ``max_age_s``; the oldest go first.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import unicodedata
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np

from ioc.contract import EvidenceImage, stable_id

logger = logging.getLogger(__name__)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,120}$")
_DAY = re.compile(r"^[0-9]{8}$")


def ascii_text(text: str) -> str:
    """``text`` without diacritics (OpenCV's fonts draw ASCII only): "Lê Quý Đôn" → "Le Quy Don"."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def burn_caption(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """A copy of ``image`` with a dark band on top holding ``lines`` in white."""
    w = image.shape[1]
    scale = max(0.4, w / 1600)
    line_h = int(28 * scale) + 4
    out = image.copy()
    band = line_h * len(lines) + 6
    out[:band] = (out[:band] * 0.25).astype(np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(out, ascii_text(text), (8, line_h * (i + 1)), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), max(1, round(scale * 2)), cv2.LINE_AA)
    return out


class EvidenceStore:
    """Writes, finds and expires evidence images of one camera. ``open()`` scans the folder."""

    def __init__(self, root: Path, camera: str, *, tz: str = "Asia/Ho_Chi_Minh",
                 jpeg_quality: int = 85, max_images: int = 20_000,
                 max_bytes: int = 2 * 1024**3, max_age_s: float = 30 * 86400) -> None:
        self.root = Path(root)
        self.camera = camera
        self.tz = ZoneInfo(tz)
        self.jpeg_quality = jpeg_quality
        self.max_images, self.max_bytes, self.max_age_s = max_images, max_bytes, max_age_s
        self._index: OrderedDict[str, tuple[Path, int, float]] = OrderedDict()
        self._bytes = 0
        self.expired = 0

    def open(self, *, read_only: bool = False) -> EvidenceStore:
        """Create the folder and index the images an earlier run left, oldest first.

        Only files this store writes count (``YYYYMMDD/<camera>-<time>-<key>-<role>.jpg``):
        a folder shared with other files, or pointed at the wrong place, loses nothing to
        retention. ``read_only`` (fetching an image): nothing is created or deleted."""
        if not read_only:
            self.root.mkdir(parents=True, exist_ok=True)
        mine = re.compile(rf"^{re.escape(self.camera)}-[0-9]{{14}}-[0-9a-f]{{12}}-"
                          rf"(before|at|after|plate)$")
        found = []
        for p in self.root.glob("*/*.jpg"):
            if not (_DAY.match(p.parent.name) and mine.match(p.stem)):
                continue
            st = p.stat()
            found.append((st.st_mtime, p.stem, p, st.st_size))
        for mtime, image_id, p, size in sorted(found):
            self._index[image_id] = (p, size, mtime)
            self._bytes += size
        if not read_only:
            self.enforce_retention()
        return self

    def caption(self, ts: datetime, location: str, extra: str = "") -> list[str]:
        """Burned-in lines: local time to the second with its offset, place, camera."""
        local = ts.astimezone(self.tz)
        first = f"{local:%Y-%m-%d %H:%M:%S} {local:%z}"
        return [f"{first}  cam {self.camera}", location + (f"  {extra}" if extra else "")]

    def save(self, image: np.ndarray, role: str, taken_at: datetime, key: str,
             caption: list[str] | None = None) -> EvidenceImage:
        """Write one image (captioned when ``caption`` is given); returns its reference."""
        if caption:
            image = burn_caption(image, caption)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise OSError(f"evidence {key}/{role}: JPEG encoding failed")
        data = buf.tobytes()
        image_id = f"{self.camera}-{taken_at:%Y%m%d%H%M%S}-{stable_id(key, role)[:12]}-{role}"
        folder = self.root / f"{taken_at.astimezone(self.tz):%Y%m%d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{image_id}.jpg"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        old = self._index.pop(image_id, None)
        if old is not None:
            self._bytes -= old[1]
        self._index[image_id] = (path, len(data), time.time())
        self._bytes += len(data)
        self.enforce_retention()
        return EvidenceImage(image_id=image_id, role=role, taken_at=taken_at,  # type: ignore[arg-type]
                             sha256=hashlib.sha256(data).hexdigest())

    def path(self, image_id: str) -> Path | None:
        """Where image ``image_id`` is, or None (unknown, expired or a malformed id)."""
        if not _ID.match(image_id):
            return None
        entry = self._index.get(image_id)
        return entry[0] if entry is not None and entry[0].exists() else None

    def get(self, image_id: str) -> bytes | None:
        """The JPEG bytes of ``image_id``, or None."""
        p = self.path(image_id)
        return p.read_bytes() if p is not None else None

    def enforce_retention(self, now: float | None = None) -> int:
        """Delete the oldest images beyond the count, byte and age limits; returns how many."""
        now = time.time() if now is None else now
        removed = 0
        while self._index:
            image_id, (path, size, mtime) = next(iter(self._index.items()))
            over = (len(self._index) > self.max_images or self._bytes > self.max_bytes
                    or now - mtime > self.max_age_s)
            if not over:
                break
            del self._index[image_id]
            self._bytes -= size
            path.unlink(missing_ok=True)
            removed += 1
        if removed:
            self.expired += removed
            logger.info("evidence %s: %d images expired (%d kept)", self.root, removed,
                        len(self._index))
        return removed

    def __len__(self) -> int:
        return len(self._index)

    @property
    def bytes_used(self) -> int:
        return self._bytes
