"""Re-identification of a vehicle whose track broke: ground-plane motion, size, class, colour.

The pixel tracker loses a vehicle that another one hides for longer than its
Kalman prediction stays useful, or whose box changes shape too fast (entering the
frame, turning); the vehicle then comes back as a new track. Left alone, one
vehicle makes two passes: two plate reads, a red-light runner whose second track
starts past the line and is never seen to cross, a track that "reverses" at the
seam. :class:`Rejoiner` decides whether a new track continues a recently lost
identity, on the ground plane (metres, through the camera's calibration):

- where the lost vehicle should be now, carried forward at its last ground
  velocity, must be within ``base_m + grow_ms * gap`` along its way and
  ``across_m + across_grow_ms * gap`` across it of where the new track stands (an
  ellipse that grows with the gap: the vehicle may have braked or sped up; it
  rarely moves sideways); one that stood still when it was lost (parked, queued) is
  looked for near where it stood, within ``base_m + still_grow_ms * gap`` (it moves
  off slowly; a vehicle going by there is another one);
- two-wheelers and four-wheelers are never joined (the class vote of each side);
- the width of the vehicle on the road (its box's bottom edge in metres, which
  does not change with distance) must agree within ``max_width_ratio``;
- the colour histograms of the two boxes must be close (Bhattacharyya distance at
  most ``max_colour_dist``) when both are known;
- of several candidates the cheapest (each test above normalised to 0..1, summed)
  wins; each lost identity is joined at most once.

Nothing here knows about frames or models: the pipeline hands in :class:`Sighting`s
(``tests/edge/camera/test_reid.py`` drives it with synthetic ones).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

logger = logging.getLogger(__name__)

#: Canonical class ids that are two-wheelers (``models.class_map.CANONICAL``: motorbike).
TWO_WHEELERS = frozenset({1})
#: A vehicle lost at this speed or slower (m/s) stood still: it has no way to go along
STILL_MS = 1.0


@dataclass(slots=True)
class Sighting:
    """What is known of a vehicle identity at one moment (its last sighting, or its first)."""

    identity: int
    t: float  # stream seconds
    ground: np.ndarray  # (2,) metres
    velocity: np.ndarray | None  # (2,) m/s, None when not measured yet
    class_votes: dict[int, float]
    width_m: float | None = None
    colour: np.ndarray | None = None  # normalised histogram (colour_histogram)

    @property
    def two_wheeler(self) -> bool | None:
        """True / False by the class vote; None when there is no vote yet."""
        if not self.class_votes:
            return None
        best = max(self.class_votes, key=self.class_votes.__getitem__)
        return best in TWO_WHEELERS


def colour_histogram(image: np.ndarray, box: Iterable[float]) -> np.ndarray | None:
    """Hue-saturation histogram (8x4 bins, sums to 1) of the middle of a vehicle's box.

    The middle 60 % is used: the box's edges are road. None for an empty box.
    """
    x1, y1, x2, y2 = np.asarray(box, dtype=np.float64).tolist()
    h, w = image.shape[:2]
    mx, my = 0.2 * (x2 - x1), 0.2 * (y2 - y1)
    a, b = int(max(0, x1 + mx)), int(max(0, y1 + my))
    c, d = int(min(w, x2 - mx)), int(min(h, y2 - my))
    if c - a < 2 or d - b < 2:
        return None
    patch = image[b:d, a:c]
    step = max(1, min(patch.shape[:2]) // 16)
    hsv = cv2.cvtColor(np.ascontiguousarray(patch[::step, ::step]), cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [8, 4], [0, 180, 0, 256]).ravel()
    return hist / float(hsv.shape[0] * hsv.shape[1])  # every pixel falls in one bin


def colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two normalised histograms: 0 same, 1 disjoint."""
    bc = float(np.sum(np.sqrt(a * b)))
    return math.sqrt(max(0.0, 1.0 - min(bc, 1.0)))


def colour_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`colour_distance` of every row of ``a`` (n x bins) to every row of ``b``."""
    bc = np.sqrt(a) @ np.sqrt(b).T
    return np.sqrt(np.maximum(0.0, 1.0 - np.minimum(bc, 1.0)))


@dataclass(frozen=True, slots=True)
class RejoinSettings:
    """Gates of :class:`Rejoiner` (see the module docstring)."""

    max_gap_s: float = 3.0
    base_m: float = 2.5  # along the way: position error at no gap...
    grow_ms: float = 3.0  # ...growing with the gap (braking or speeding up)
    #: ...or this much for a vehicle that stood still when it was lost (a car parked or
    #: queued moves off slowly; one going by where it stood is another vehicle)
    still_grow_ms: float = 1.0
    across_m: float = 1.2  # across the way (changing lane)
    across_grow_ms: float = 1.0
    max_width_ratio: float = 1.6
    max_colour_dist: float = 0.6


class Rejoiner:
    """Remembers lost identities and joins a new track to the one it continues."""

    def __init__(self, settings: RejoinSettings | None = None) -> None:
        self.settings = settings or RejoinSettings()
        self._lost: dict[int, Sighting] = {}
        self.joined = 0

    def lost(self, last: Sighting) -> None:
        """``last.identity`` is not seen now; ``last`` is its last sighting."""
        self._lost[last.identity] = last

    def seen(self, identity: int) -> None:
        """``identity`` is tracked again (by its own track): no longer a candidate."""
        self._lost.pop(identity, None)

    def expire(self, t: float) -> list[int]:
        """Forget identities lost longer than ``max_gap_s`` before ``t``; returns them."""
        old = [i for i, s in self._lost.items() if t - s.t > self.settings.max_gap_s]
        for i in old:
            del self._lost[i]
        return old

    def waiting(self) -> set[int]:
        """Identities that a new track could still continue."""
        return set(self._lost)

    def cost(self, old: Sighting, new: Sighting) -> float | None:
        """How unlikely ``new`` continues ``old`` (0: perfectly); None when a gate refuses."""
        s = self.settings
        gap = new.t - old.t
        if gap <= 0 or gap > s.max_gap_s:
            return None
        a, b = old.two_wheeler, new.two_wheeler
        if a is not None and b is not None and a != b:
            return None
        predicted = old.ground + (old.velocity * gap if old.velocity is not None else 0.0)
        miss = new.ground - predicted
        speed = float(np.linalg.norm(old.velocity)) if old.velocity is not None else 0.0
        still = old.velocity is not None and speed <= STILL_MS
        along_allowed = s.base_m + (s.still_grow_ms if still else s.grow_ms) * gap
        if speed > STILL_MS:  # moving: speed changes move it along its way, rarely across
            assert old.velocity is not None
            ahead = old.velocity / speed
            along = float(miss @ ahead)
            across = float(miss @ np.array([-ahead[1], ahead[0]]))
            across_allowed = s.across_m + s.across_grow_ms * gap
            norm = math.hypot(along / along_allowed, across / across_allowed)
        else:
            norm = float(np.linalg.norm(miss)) / along_allowed
        if norm > 1.0:
            return None
        cost = norm
        if old.width_m is not None and new.width_m is not None:
            ratio = max(old.width_m, new.width_m) / max(min(old.width_m, new.width_m), 1e-3)
            if ratio > s.max_width_ratio:
                return None
            cost += math.log(ratio) / math.log(s.max_width_ratio)
        if old.colour is not None and new.colour is not None:
            dist = colour_distance(old.colour, new.colour)
            if dist > s.max_colour_dist:
                return None
            cost += dist / s.max_colour_dist
        return cost

    def match(self, new: Sighting) -> int | None:
        """The lost identity ``new`` continues (removed from the lost ones), or None."""
        best, best_cost = None, math.inf
        for identity, old in self._lost.items():
            c = self.cost(old, new)
            if c is not None and c < best_cost:
                best, best_cost = identity, c
        if best is not None:
            del self._lost[best]
            self.joined += 1
            logger.debug("track %d continues identity %d (cost %.2f)", new.identity, best,
                         best_cost)
        return best
