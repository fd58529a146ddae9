"""What the camera pipeline keeps per vehicle: its pass (one identity, perhaps several
tracker tracks joined by re-identification), and which boxes give a ground position."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from edge.camera.reid import Sighting
from edge.camera.rules import Motion
from edge.camera.tracker import Track


@dataclass(slots=True)
class Pass:
    """What the pipeline knows of one vehicle's pass (one identity: one or more tracks
    joined by the re-identification when the tracker lost the vehicle)."""

    identity: int
    track: Track  # the tracker track following it now (or last)
    first_ts: datetime
    motion: Motion = field(default_factory=Motion)
    #: also the places where its bottom edge was hidden by a nearer vehicle (the
    #: detector's estimate of the whole box): for the rules that accept those
    loose: Motion = field(default_factory=Motion)
    speeds: list[float] = field(default_factory=list)
    lanes: dict[str, int] = field(default_factory=dict)
    start: tuple[float, float] | None = None
    end: tuple[float, float] | None = None
    last_ts: datetime | None = None
    last_t: float = 0.0
    last_frame: int = -1
    #: class votes, hits and summed confidence of its earlier tracks
    votes: dict[int, float] = field(default_factory=dict)
    hits_before: int = 0
    conf_before: float = 0.0
    widths: deque[float] = field(default_factory=lambda: deque(maxlen=15))
    colour: np.ndarray | None = None
    ended: bool = False  # its track ended: waiting to be rejoined, or to be closed
    lost: bool = False  # handed to the rejoiner as a candidate
    left: bool = False  # its track slid out of the frame: no new track continues it

    @property
    def grounded(self) -> bool:
        return bool(self.motion.points)

    @property
    def class_id(self) -> int:
        votes = self.class_votes()
        return max(votes, key=votes.__getitem__)

    @property
    def mean_confidence(self) -> float:
        return (self.conf_before + self.track.conf_sum) / max(self.hits_before + self.track.hits,
                                                              1)

    def class_votes(self) -> dict[int, float]:
        votes = dict(self.votes)
        for c, v in self.track.class_votes.items():
            votes[c] = votes.get(c, 0.0) + v
        return votes

    def sighting(self) -> Sighting:
        _, x, y = self.motion.points[-1]
        v = self.motion.velocity(1.0, min_points=3)
        if v is None:
            v = self.motion.velocity(0.3, min_points=2)
        return Sighting(self.identity, self.motion.points[-1][0], np.array([x, y]), v,
                        self.class_votes(),
                        float(np.median(self.widths)) if self.widths else None, self.colour)


def bottom_hidden(boxes: np.ndarray, others: np.ndarray, margin: float = 0.05,
                  share: float = 0.5) -> np.ndarray:
    """For each box (N,4), whether nearer objects (M,4) cover over ``share`` of its bottom edge.

    The anchor of a vehicle is where its box meets the road; a vehicle just behind
    it in the image (its box reaching lower and up past this one's bottom edge) can
    hide that edge, which would put the vehicle metres farther than it is. Such
    frames give no ground position (like a box cut by the frame).
    """
    out = np.zeros(len(boxes), dtype=bool)
    if not len(boxes) or not len(others):
        return out
    x1s, y1s, x2s, y2s = (boxes[:, k, None] for k in range(4))  # (N,1) each
    reach = y2s + margin * (y2s - y1s)
    near = ((others[None, :, 3] > y2s + 1.0) & (others[None, :, 1] < reach)
            & (others[None, :, 0] < x2s) & (others[None, :, 2] > x1s))  # (N,M), all at once
    for i in np.flatnonzero(near.any(axis=1)):
        x1, _y1, x2, _y2 = boxes[i]
        cover = others[near[i]]
        spans = sorted((max(a, x1), min(b, x2)) for a, b in cover[:, [0, 2]])
        covered, end = 0.0, x1
        for a, b in spans:
            a = max(a, end)
            if b > a:
                covered += b - a
                end = b
        out[i] = covered > share * max(x2 - x1, 1e-6)
    return out
