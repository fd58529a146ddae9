"""The canonical detection type: boxes, scores, classes and track ids as arrays.

Every detector backend and adapter produces ``Detections``; trackers, zones and
the plate reader consume it. It checks its own shapes when built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _check(name: str, arr: np.ndarray, shape: tuple[int | None, ...]) -> None:
    ok = arr.ndim == len(shape) and all(
        s is None or s == a for s, a in zip(shape, arr.shape, strict=False)
    )
    if not ok:
        want = "(" + ",".join("N" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name}: expected {want}, got {tuple(arr.shape)}")


@dataclass(frozen=True, slots=True, eq=False)
class Detections:
    """N detections: ``xyxy`` (N,4) float32 pixels, ``confidence`` (N,) float32,
    ``class_id`` (N,) int64 and optional ``tracker_id`` (N,) int64."""

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    tracker_id: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, dtype=np.float32))
        object.__setattr__(self, "confidence", np.asarray(self.confidence, dtype=np.float32))
        object.__setattr__(self, "class_id", np.asarray(self.class_id, dtype=np.int64))
        _check("xyxy", self.xyxy, (None, 4))
        n = self.xyxy.shape[0]
        _check("confidence", self.confidence, (n,))
        _check("class_id", self.class_id, (n,))
        if self.tracker_id is not None:
            object.__setattr__(self, "tracker_id", np.asarray(self.tracker_id, dtype=np.int64))
            _check("tracker_id", self.tracker_id, (n,))

    @classmethod
    def empty(cls) -> Detections:
        """No detections."""
        return cls(np.zeros((0, 4)), np.zeros((0,)), np.zeros((0,), dtype=np.int64))

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: np.ndarray | slice | int) -> Detections:
        """Select detections by boolean mask, index array, slice or int (kept as 1 row)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return Detections(
            self.xyxy[index],
            self.confidence[index],
            self.class_id[index],
            None if self.tracker_id is None else self.tracker_id[index],
        )

    def with_class(self, *class_ids: int) -> Detections:
        """Only the detections of the given classes."""
        return self[np.isin(self.class_id, class_ids)]

    @property
    def area(self) -> np.ndarray:
        """Box areas in pixels, (N,)."""
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of two sets of xyxy boxes."""
    _check("a", a, (None, 4))
    _check("b", b, (None, 4))
    # plain ufuncs on (N,1) against (1,M) columns: the tracker runs this several times a
    # frame on a dozen boxes, where np.clip's and np.prod's own overhead was most of it
    ax1, ay1, ax2, ay2 = (a[:, i : i + 1] for i in range(4))
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    iw = np.maximum(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0)
    ih = np.maximum(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0)
    inter = iw * ih
    area_a = np.maximum(ax2 - ax1, 0) * np.maximum(ay2 - ay1, 0)
    area_b = np.maximum(bx2 - bx1, 0) * np.maximum(by2 - by1, 0)
    return inter / np.maximum(area_a + area_b - inter, 1e-9)
