"""Constant-velocity Kalman filter on boxes (centre x, centre y, aspect, height), as in
SORT/DeepSORT/ByteTrack: noise scales with the box height so near and far vehicles
are treated alike."""

from __future__ import annotations

import numpy as np

_STD_POS = 1.0 / 20
_STD_VEL = 1.0 / 160
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_H = np.eye(4, 8)


def xyxy_to_xyah(b: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) → (cx, cy, w/h, h)."""
    w, h = b[2] - b[0], max(b[3] - b[1], 1e-3)
    return np.array([b[0] + w / 2, b[1] + h / 2, w / h, h], dtype=np.float64)


def xyah_to_xyxy(s: np.ndarray) -> np.ndarray:
    """(cx, cy, w/h, h) → (x1, y1, x2, y2)."""
    w, h = s[2] * s[3], s[3]
    return np.array([s[0] - w / 2, s[1] - h / 2, s[0] + w / 2, s[1] + h / 2])


def initiate(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a new track from its first box (xyxy)."""
    m = np.r_[xyxy_to_xyah(box), np.zeros(4)]
    h = m[3]
    std = [2 * _STD_POS * h, 2 * _STD_POS * h, 1e-2, 2 * _STD_POS * h,
           10 * _STD_VEL * h, 10 * _STD_VEL * h, 1e-5, 10 * _STD_VEL * h]
    return m, np.diag(np.square(std))


def predict(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step ahead."""
    h = mean[3]
    std = [_STD_POS * h, _STD_POS * h, 1e-2, _STD_POS * h,
           _STD_VEL * h, _STD_VEL * h, 1e-5, _STD_VEL * h]
    return _F @ mean, _F @ cov @ _F.T + np.diag(np.square(std))


def update(mean: np.ndarray, cov: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct with a measured box (xyxy)."""
    z = xyxy_to_xyah(box)
    h = mean[3]
    r = np.diag(np.square([_STD_POS * h, _STD_POS * h, 1e-1, _STD_POS * h]))
    s = _H @ cov @ _H.T + r
    k = np.linalg.solve(s, _H @ cov).T
    mean = mean + k @ (z - _H @ mean)
    cov = cov - k @ s @ k.T
    return mean, cov
