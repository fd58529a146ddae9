"""The batched Kalman steps against the textbook formulas, one track at a time."""

from __future__ import annotations

import numpy as np

from edge.camera import kalman

F = np.eye(8)
F[:4, 4:] = np.eye(4)
H = np.eye(4, 8)


def _tracks(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    boxes = rng.uniform(0, 400, (n, 2))
    boxes = np.concatenate([boxes, boxes + rng.uniform(10, 120, (n, 2))], axis=1)
    pairs = [kalman.initiate(b) for b in boxes]
    means = np.stack([m for m, _ in pairs]) + rng.normal(0, 1, (n, 8))
    return means, np.stack([c for _, c in pairs])


def test_predict_many_is_the_constant_velocity_step_of_each_track() -> None:
    means, covs = _tracks(5)
    got_m, got_c = kalman.predict_many(means, covs)
    for i in range(5):
        h = means[i, 3]
        q = np.diag(np.square([h / 20, h / 20, 1e-2, h / 20, h / 160, h / 160, 1e-5, h / 160]))
        np.testing.assert_allclose(got_m[i], F @ means[i], rtol=1e-12)
        np.testing.assert_allclose(got_c[i], F @ covs[i] @ F.T + q, rtol=1e-12)


def test_update_many_is_the_kalman_correction_of_each_track() -> None:
    means, covs = kalman.predict_many(*_tracks(4))
    boxes = np.array([[10, 20, 60, 90], [100, 100, 130, 180], [0, 0, 5, 0], [50, 60, 52, 61]],
                     dtype=np.float64)  # the third has no height: clamped, not divided by 0
    got_m, got_c = kalman.update_many(means, covs, boxes)
    for i, b in enumerate(boxes):
        h = means[i, 3]
        r = np.diag(np.square([h / 20, h / 20, 1e-1, h / 20]))
        s = H @ covs[i] @ H.T + r
        k = covs[i] @ H.T @ np.linalg.inv(s)
        bh = max(b[3] - b[1], 1e-3)
        z = np.array([(b[0] + b[2]) / 2, b[1] + bh / 2, (b[2] - b[0]) / bh, bh])
        np.testing.assert_allclose(got_m[i], means[i] + k @ (z - H @ means[i]), rtol=1e-9)
        np.testing.assert_allclose(got_c[i], covs[i] - k @ s @ k.T, rtol=1e-9, atol=1e-9)
    assert np.isfinite(got_m).all()


def test_box_conversions_round_trip_one_box_and_many() -> None:
    boxes = np.array([[10.0, 20.0, 60.0, 90.0], [1.5, 2.5, 3.5, 9.0]])
    np.testing.assert_allclose(kalman.xyah_to_xyxy(kalman.xyxy_to_xyah(boxes)), boxes)
    np.testing.assert_allclose(kalman.xyah_to_xyxy(kalman.xyxy_to_xyah(boxes[0])), boxes[0])
