"""Constant-velocity Kalman filter on boxes (centre x, centre y, aspect, height), as in
SORT/DeepSORT/ByteTrack: noise scales with the box height so near and far vehicles
are treated alike.

The tracker steps all its tracks at once: :func:`predict_many` and :func:`update_many`
take stacks of means (N,8) and covariances (N,8,8), so a frame costs one set of numpy
calls, not one per track (the calls, not the arithmetic, are what 8x8 matrices cost).
"""

from __future__ import annotations

import numpy as np

_STD_POS = 1.0 / 20
_STD_VEL = 1.0 / 160
_F = np.eye(8)
_F[:4, 4:] = np.eye(4)
_FT = np.ascontiguousarray(_F.T)
_DIAG8 = np.arange(8)
_DIAG4 = np.arange(4)
#: process noise variance per state: ``_Q_H * h**2 + _Q_C`` (h: the box height)
_Q_H = np.square([_STD_POS, _STD_POS, 0.0, _STD_POS, _STD_VEL, _STD_VEL, 0.0, _STD_VEL])
_Q_C = np.square([0.0, 0.0, 1e-2, 0.0, 0.0, 0.0, 1e-5, 0.0])
#: measurement noise variance: ``_R_H * h**2 + _R_C``
_R_H = np.square([_STD_POS, _STD_POS, 0.0, _STD_POS])
_R_C = np.square([0.0, 0.0, 1e-1, 0.0])


def xyxy_to_xyah(b: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) → (cx, cy, w/h, h); rows of an (N,4) array alike."""
    b = np.asarray(b, dtype=np.float64)
    w = b[..., 2] - b[..., 0]
    h = np.maximum(b[..., 3] - b[..., 1], 1e-3)
    return np.stack([b[..., 0] + w / 2, b[..., 1] + h / 2, w / h, h], axis=-1)


def xyah_to_xyxy(s: np.ndarray) -> np.ndarray:
    """(cx, cy, w/h, h) → (x1, y1, x2, y2); rows of an (N,4) array alike."""
    w, h = s[..., 2] * s[..., 3], s[..., 3]
    return np.stack([s[..., 0] - w / 2, s[..., 1] - h / 2, s[..., 0] + w / 2,
                     s[..., 1] + h / 2], axis=-1)


def initiate(box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a new track from its first box (xyxy)."""
    m = np.r_[xyxy_to_xyah(box), np.zeros(4)]
    h = m[3]
    std = [2 * _STD_POS * h, 2 * _STD_POS * h, 1e-2, 2 * _STD_POS * h,
           10 * _STD_VEL * h, 10 * _STD_VEL * h, 1e-5, 10 * _STD_VEL * h]
    return m, np.diag(np.square(std))


def predict_many(means: np.ndarray, covs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step ahead for N tracks: means (N,8), covariances (N,8,8)."""
    h = means[:, 3:4]
    out_cov = _F @ covs @ _FT
    out_cov[:, _DIAG8, _DIAG8] += h * h * _Q_H + _Q_C
    return means @ _FT, out_cov


def update_many(means: np.ndarray, covs: np.ndarray, boxes: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Correct N tracks with their measured boxes (N,4 xyxy)."""
    z = xyxy_to_xyah(boxes)
    h = means[:, 3:4]
    s = covs[:, :4, :4].copy()  # H P Hᵀ: H picks the four measured states
    s[:, _DIAG4, _DIAG4] += h * h * _R_H + _R_C
    k = np.linalg.solve(s, covs[:, :4, :]).transpose(0, 2, 1)  # (N,8,4)
    means = means + (k @ (z - means[:, :4])[:, :, None])[:, :, 0]
    covs = covs - k @ s @ k.transpose(0, 2, 1)
    return means, covs
