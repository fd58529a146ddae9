"""Evidence images in a folder: kept by image id, checked against the hash the camera sent.

A violation names its images by ``image_id`` with their SHA-256 (see
:class:`ioc.contract.EvidenceImage`); whatever brings the bytes from the gateway
puts them here. A file's name is a hash of the image id, so an id can never
name a path outside the folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def media_type(data: bytes) -> str:
    """The image's media type from its first bytes (``application/octet-stream`` if unknown)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class EvidenceStore:
    """Image bytes under ``root``; nothing is read or created until used."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, image_id: str) -> Path:
        name = hashlib.blake2b(image_id.encode(), digest_size=16).hexdigest()
        return self.root / name[:2] / name

    def put(self, image_id: str, data: bytes) -> str:
        """Store an image (atomically); return its SHA-256."""
        path = self._path(image_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return hashlib.sha256(data).hexdigest()

    def read(self, image_id: str) -> bytes | None:
        """The image's bytes, or None when it is not here."""
        try:
            return self._path(image_id).read_bytes()
        except FileNotFoundError:
            return None

    def exists(self, image_id: str) -> bool:
        """Whether the image's bytes are here."""
        return self._path(image_id).is_file()

    def delete(self, image_id: str) -> bool:
        """Remove an image; False when it was not here."""
        try:
            self._path(image_id).unlink()
        except FileNotFoundError:
            return False
        return True
