"""Projection of the flat-road world onto the image of a fixed pinhole camera."""

from __future__ import annotations

import numpy as np

from simulators.camera.config import CameraGeometry

_MIN_D = 0.5  # metres: points closer than this are pushed out to keep projections finite


class Projector:
    """World (x across, d ahead, z up; metres) to pixel (u, v) for one camera."""

    def __init__(self, cam: CameraGeometry) -> None:
        self.cam = cam

    def scale(self, d: float) -> float:
        """Pixels per metre at distance ``d``."""
        return self.cam.focal / max(d, _MIN_D)

    def uv(self, x: float, d: float, z: float = 0.0) -> tuple[float, float]:
        """Pixel coordinates of the world point (x, d, z)."""
        c = self.cam
        dd = max(d, _MIN_D)
        u = c.width / 2 + c.focal * (x - c.x_cam) / dd
        return u, c.horizon + c.focal * (c.height_m - z) / dd

    def poly(self, pts: list[tuple[float, float, float]]) -> np.ndarray:
        """Integer polygon (for cv2.fillPoly) of world points (x, d, z)."""
        return (
            np.array([self.uv(x, d, z) for x, d, z in pts], dtype=np.float64)
            .round()
            .astype(np.int32)
        )

    def ground_quad(self, x1: float, x2: float, d1: float, d2: float) -> np.ndarray:
        """Polygon of the ground rectangle [x1, x2] x [d1, d2]."""
        return self.poly([(x1, d1, 0.0), (x2, d1, 0.0), (x2, d2, 0.0), (x1, d2, 0.0)])
