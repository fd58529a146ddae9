"""One plate read per vehicle pass, from the vehicle's best frames.

While a vehicle is tracked, the crops of its ``best_frames`` largest boxes that lie
fully inside the frame are kept (a copy of the vehicle region only), and of its
``cut_frames`` largest boxes cut by the frame's edge, read only when no whole crop
shows the plate (a vehicle queued at the picture's edge). When the pass
ends, or when a violation needs the plate, the second-stage plate detector looks
for the plate in each kept crop and the reader reads them together, voting
character by character under the plate grammar (``models.plate_reader``). Reading
a handful of crops per vehicle instead of every frame is what keeps plate reading
a small share of the frame budget.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from ioc.contract import VehicleClass
from ioc.plates import VehicleKind
from models.class_map import CANONICAL
from models.detector import Detector
from models.plate_reader import PlateReader, crop_plate

logger = logging.getLogger(__name__)
PLATE = CANONICAL.index("plate")


@dataclass(frozen=True, slots=True)
class PlateResult:
    """The plate of one vehicle pass."""

    text: str
    raw: str
    layout: str
    colour: str
    confidence: float
    valid: bool
    crop: np.ndarray  # the plate as it was read (for evidence)
    frame: int
    votes: int


@dataclass(slots=True)
class _Candidate:
    score: float
    frame: int
    crop: np.ndarray
    nearer: np.ndarray  # boxes (crop pixels) of vehicles in front of this one
    #: the crop's sides (left, top, right, bottom) that are the frame's edge, where the
    #: vehicle's box was cut by the frame; a plate touching one may be cut too
    cut: tuple[bool, bool, bool, bool] = (False, False, False, False)


@dataclass(slots=True)
class _TrackCrops:
    best: list[_Candidate] = field(default_factory=list)
    cut: list[_Candidate] = field(default_factory=list)  # boxes cut by the frame's edge
    result: PlateResult | None = None
    read: bool = False


def plate_colour(plate: np.ndarray) -> str:
    """Background colour of a plate crop: white, yellow, blue, red or other."""
    hsv = cv2.cvtColor(plate, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.float32)
    if not len(hsv):
        return "other"
    v = hsv[:, 2]
    bright = hsv[v >= np.percentile(v, 40)]  # the background, not the characters
    h, s, val = (float(np.median(bright[:, i])) for i in range(3))
    if s < 60:
        return "white" if val > 90 else "other"
    if 15 <= h <= 40:
        return "yellow"
    if 95 <= h <= 130:
        return "blue"
    if h < 8 or h > 170:
        return "red"
    return "other"


def _touches(xyxy: np.ndarray, shape: tuple[int, ...], cut: tuple[bool, bool, bool, bool],
             gap: float = 2.0) -> np.ndarray:
    """Which boxes (N,4, crop pixels) reach within ``gap`` pixels of a side of the crop
    that is the frame's edge (``cut``: left, top, right, bottom): plates maybe cut."""
    h, w = shape[:2]
    x1, y1, x2, y2 = xyxy.T
    left, top, right, bottom = cut
    return ((left & (x1 <= gap)) | (top & (y1 <= gap))
            | (right & (x2 >= w - 1 - gap)) | (bottom & (y2 >= h - 1 - gap)))


class PlateCollector:
    """Keeps each track's best crops and reads its plate once."""

    def __init__(self, plate_detector: Detector, reader: PlateReader, *, best_frames: int = 10,
                 min_vehicle_height: int = 40, margin: float = 0.1, first_reads: int = 3,
                 settled_conf: float = 0.95, cut_frames: int = 3) -> None:
        self.detector, self.reader = plate_detector, reader
        self.best_frames, self.min_height, self.margin = best_frames, min_vehicle_height, margin
        #: crops kept of boxes cut by the frame's edge, read only when no whole crop
        #: shows the plate (a vehicle parked or queued at the edge of the picture)
        self.cut_frames = cut_frames
        #: the largest ``first_reads`` crops are read first; the others only when those
        #: do not settle the plate (a valid read, at least this sure, of two crops or
        #: more); 0 reads every kept crop at once
        self.first_reads, self.settled_conf = first_reads, settled_conf
        self._tracks: dict[int, _TrackCrops] = {}
        self.reads = 0

    def offer(self, track_id: int, frame: int, image: np.ndarray, box: np.ndarray,
              others: np.ndarray | None = None) -> None:
        """Consider this frame's box of a track as a plate candidate; ``others`` are the
        frame's other vehicle boxes (N,4): those nearer the camera (reaching lower in the
        image) hide what lies behind them, so a plate inside one is theirs."""
        h, w = image.shape[:2]
        x1, y1, x2, y2 = (float(c) for c in box)
        if y2 - y1 < self.min_height:
            return  # too small
        cut = (x1 <= 1, y1 <= 1, x2 >= w - 2, y2 >= h - 2)
        st = self._tracks.setdefault(track_id, _TrackCrops())
        keep, room = (st.cut, self.cut_frames) if any(cut) else (st.best, self.best_frames)
        score = (x2 - x1) * (y2 - y1)
        if st.read or room <= 0 or (len(keep) >= room and score <= keep[-1].score):
            return
        mx, my = (x2 - x1) * self.margin, (y2 - y1) * self.margin
        cx1, cy1 = int(max(0, x1 - mx)), int(max(0, y1 - my))
        cx2, cy2 = int(min(w, x2 + mx + 1)), int(min(h, y2 + my + 1))
        nearer = np.zeros((0, 4), np.float32)
        if others is not None and len(others):
            o = np.asarray(others, np.float32).reshape(-1, 4)
            o = o[(o[:, 3] > y2 + 1.0) & (o[:, 0] < cx2) & (o[:, 2] > cx1) & (o[:, 1] < cy2)]
            nearer = o - np.array([cx1, cy1, cx1, cy1], np.float32)
        keep.append(_Candidate(score, frame, image[cy1:cy2, cx1:cx2].copy(), nearer, cut))
        keep.sort(key=lambda c: -c.score)
        del keep[room:]

    def read(self, track_id: int, vehicle_class: VehicleClass) -> PlateResult | None:
        """The plate of the track's pass (read once, then remembered); None if none found.

        The plate detector finds the plate in each kept crop (the one nearest the
        middle of the vehicle when it finds several: a neighbour's plate can show at
        the crop's edge), leaving out plates inside the box of a vehicle in front of
        this one (that vehicle's plate, or one seen through it); the reader reads those
        plate crops together, voting character by character, so one blurred frame does
        not decide a character. The largest crops go first: when their vote settles
        the plate (:attr:`first_reads`, :attr:`settled_conf`), the smaller ones are
        not read at all."""
        st = self._tracks.get(track_id)
        if st is None:
            return None
        if st.read:
            return st.result
        kind = VehicleKind.MOTORBIKE if vehicle_class is VehicleClass.MOTORBIKE else VehicleKind.CAR
        cands, n = st.best, self.first_reads
        first = cands[:n] if 0 < n < len(cands) else cands
        plates = self._find(first)
        r = self.reader.read_many([p for p, _ in plates], kind) if plates else None
        if len(first) < len(cands) and not (
                r is not None and r.valid and r.confidence >= self.settled_conf
                and len(plates) >= 2):
            plates += self._find(cands[len(first):])
            r = self.reader.read_many([p for p, _ in plates], kind) if plates else None
        if not plates and st.cut:  # no whole crop showed it: the frame's edge cut them all
            plates = self._find(st.cut)
            r = self.reader.read_many([p for p, _ in plates], kind) if plates else None
        st.read, st.best, st.cut = True, [], []
        if r is None:
            return None
        self.reads += len(plates)
        if not r.text:
            return None
        plate, frame = plates[0]
        st.result = PlateResult(r.text, r.raw, str(r.layout), plate_colour(plate),
                                round(min(1.0, r.confidence), 3), r.valid, plate, frame,
                                len(plates))
        return st.result

    def _find(self, cands: list[_Candidate]) -> list[tuple[np.ndarray, int]]:
        """The plate crop found in each vehicle crop (one detector run for all of them),
        with its frame; crops without a plate of this vehicle are left out."""
        plates: list[tuple[np.ndarray, int]] = []
        for cand, found in zip(cands, self.detector.detect_many([c.crop for c in cands]),
                               strict=True):
            found = found[found.class_id == PLATE]
            if len(found) and len(cand.nearer):
                cx = (found.xyxy[:, 0] + found.xyxy[:, 2]) / 2
                cy = (found.xyxy[:, 1] + found.xyxy[:, 3]) / 2
                n = cand.nearer
                inside = ((cx[:, None] > n[None, :, 0]) & (cx[:, None] < n[None, :, 2])
                          & (cy[:, None] > n[None, :, 1]) & (cy[:, None] < n[None, :, 3]))
                found = found[~inside.any(axis=1)]
            if len(found) and any(cand.cut):
                found = found[~_touches(found.xyxy, cand.crop.shape, cand.cut)]
            if not len(found):
                continue
            w = cand.crop.shape[1]
            off = np.abs((found.xyxy[:, 0] + found.xyxy[:, 2]) / 2 - w / 2) / max(w, 1)
            best = int(np.argmax(found.confidence - off))
            box = tuple(float(c) for c in found.xyxy[best])
            try:
                plate = crop_plate(cand.crop, box, self.reader.config.margin)  # type: ignore[arg-type]
            except ValueError:
                continue
            plates.append((plate, cand.frame))
        return plates

    def merge(self, src: int, dst: int) -> None:
        """Track ``src`` turned out to be vehicle ``dst`` (re-identified after an occlusion):
        its crops join ``dst``'s and compete for the best ones."""
        s = self._tracks.pop(src, None)
        if s is None or s.read:
            return
        d = self._tracks.setdefault(dst, _TrackCrops())
        if d.read:
            return
        d.best = sorted(d.best + s.best, key=lambda c: -c.score)[: self.best_frames]
        d.cut = sorted(d.cut + s.cut, key=lambda c: -c.score)[: self.cut_frames]

    def split(self, src: int, dst: int, after_frame: int) -> None:
        """Track ``src`` followed another vehicle after ``after_frame``: that vehicle is
        ``dst``, and the crops taken since are its own."""
        s = self._tracks.get(src)
        if s is None or s.read:
            return
        moved = [c for c in s.best if c.frame > after_frame]
        moved_cut = [c for c in s.cut if c.frame > after_frame]
        s.best = [c for c in s.best if c.frame <= after_frame]
        s.cut = [c for c in s.cut if c.frame <= after_frame]
        if moved or moved_cut:
            self._tracks[dst] = _TrackCrops(best=moved, cut=moved_cut)

    def forget(self, track_id: int) -> None:
        """The pass ended and its plate was published (or there was none)."""
        self._tracks.pop(track_id, None)
