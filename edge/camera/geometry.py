"""Image-to-ground geometry of a fixed camera: calibration, polygons, lines, directions.

Zones are drawn by a technician in frame pixels; rules work on the ground plane
in metres, through the camera's calibration: a homography from four image points
to four ground points, or a plain metres-per-pixel scale for a camera looking
straight down. A straight line on the road stays straight under a homography, so
a pixel polygon maps to the ground polygon with the same corners.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Calibration:
    """Maps frame pixels to ground metres (``H`` is 3x3, pixel → ground)."""

    H: np.ndarray
    _rows: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # H's nine entries as Python floats, for a few points at a time (per track per
        # frame), where numpy's arrays would cost more than the arithmetic
        object.__setattr__(self, "_rows", tuple(float(v) for v in np.asarray(self.H).ravel()))

    @classmethod
    def from_points(cls, image: Sequence[Point], ground: Sequence[Point]) -> Calibration:
        """Homography from four image points to the four ground points (metres) they show."""
        src = np.asarray(image, dtype=np.float32).reshape(4, 2)
        dst = np.asarray(ground, dtype=np.float32).reshape(4, 2)
        H = cv2.getPerspectiveTransform(src, dst)
        if not np.all(np.isfinite(H)) or abs(np.linalg.det(H)) < 1e-12:
            raise ValueError("calibration points are degenerate (three on one line?)")
        return cls(H.astype(np.float64))

    @classmethod
    def from_scale(cls, metres_per_pixel: float) -> Calibration:
        """A camera looking straight down: ground = pixel x scale."""
        if metres_per_pixel <= 0:
            raise ValueError(f"metres_per_pixel must be positive, got {metres_per_pixel}")
        return cls(np.diag([metres_per_pixel, metres_per_pixel, 1.0]))

    def to_ground(self, pts: np.ndarray | Sequence[Point]) -> np.ndarray:
        """Ground points (N,2) in metres of pixel points (N,2)."""
        p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        q = np.ones((len(p), 3))  # homogeneous (built without np.c_: per track per frame)
        q[:, :2] = p
        h = q @ self.H.T
        return h[:, :2] / h[:, 2:3]

    def point(self, u: float, v: float) -> Point:
        """One pixel point on the ground."""
        a, b, c, d, e, f, g, h, i = self._rows
        w = g * u + h * v + i
        return (a * u + b * v + c) / w, (d * u + e * v + f) / w


@dataclass(frozen=True, slots=True)
class Polygon:
    """A ground polygon (metres) with a name."""

    name: str
    pts: np.ndarray  # (N,2)
    _contour: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # OpenCV's contour form, made once (contains() runs per track per frame)
        object.__setattr__(self, "_contour", self.pts.astype(np.float32).reshape(-1, 1, 2))

    def contains(self, p: Point) -> bool:
        """True when ``p`` is inside or on the border."""
        return cv2.pointPolygonTest(self._contour, (float(p[0]), float(p[1])), False) >= 0


@dataclass(frozen=True, slots=True)
class Line:
    """A ground line segment with the direction of travel that counts as crossing it."""

    a: np.ndarray
    b: np.ndarray
    direction: np.ndarray  # unit vector, ground
    #: (a's x, a's y, the unit normal's x and y pointing along ``direction``)
    _frame: tuple[float, float, float, float] = field(init=False, repr=False, compare=False)
    #: metres past the line per metre along ``direction`` (1 when it crosses square on)
    ahead: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ab = self.b - self.a
        normal = np.array([-ab[1], ab[0]]) / max(float(np.linalg.norm(ab)), 1e-9)
        ahead = float(normal @ self.direction)
        if ahead < 0:  # the normal that points the way that counts as crossing
            normal, ahead = -normal, -ahead
        object.__setattr__(self, "_frame", (float(self.a[0]), float(self.a[1]),
                                            float(normal[0]), float(normal[1])))
        object.__setattr__(self, "ahead", ahead)

    def signed_distance(self, p: Point | np.ndarray) -> float:
        """Metres past the line along ``direction`` (negative: before it, 0: on it)."""
        ax, ay, nx, ny = self._frame
        return (float(p[0]) - ax) * nx + (float(p[1]) - ay) * ny

    def front_past(self, anchor: Point, length: float) -> float:
        """:meth:`signed_distance` of a vehicle's front: its anchor point plus its
        ``length`` along ``direction`` (the red-light rule's front and its queue)."""
        return self.signed_distance(anchor) + length * self.ahead


def unit(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to length 1."""
    n = float(np.linalg.norm(v))
    if n < 1e-9:
        raise ValueError("a direction needs two distinct points")
    return v / n


def ground_direction(cal: Calibration, arrow: Sequence[Point]) -> np.ndarray:
    """Unit ground vector of a pixel arrow [tail, head]."""
    g = cal.to_ground(arrow)
    return unit(g[1] - g[0])


def inside_frame(pts: Sequence[Point], width: int, height: int) -> list[int]:
    """Indices of the points that lie outside a ``width`` x ``height`` frame."""
    return [i for i, (u, v) in enumerate(pts) if not (0 <= u <= width and 0 <= v <= height)]
