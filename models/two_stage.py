"""Two-stage detection: vehicles on the whole frame, then plates inside each vehicle crop.

Plates are a few pixels wide once a whole scene is shrunk to 320 pixels; inside a
vehicle crop they are large. The second stage runs a small plate detector on
each confident vehicle crop, taken from the full-resolution frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from models import SHIPPED_PLATE_DETECTOR
from models.class_map import CANONICAL
from models.detections import Detections
from models.detector import Detector, DetectorConfig
from models.postprocess import nms

logger = logging.getLogger(__name__)

PLATE = CANONICAL.index("plate")


def _plate_defaults() -> DetectorConfig:
    return DetectorConfig(model=SHIPPED_PLATE_DETECTOR, imgsz=128, conf=0.25)


@dataclass(frozen=True, slots=True)
class TwoStageConfig:
    """The two detectors and how crops are taken."""

    vehicles: DetectorConfig = field(default_factory=DetectorConfig)
    plates: DetectorConfig = field(default_factory=_plate_defaults)
    crop_margin: float = 0.1
    #: Only vehicles at least this confident get a plate search.
    min_vehicle_conf: float = 0.25
    max_vehicles: int = 40


class TwoStageDetector:
    """Vehicles from the first detector, plates from the second; one ``Detections``."""

    def __init__(self, config: TwoStageConfig | None = None) -> None:
        self.config = config or TwoStageConfig()
        self._vehicles = Detector(self.config.vehicles)
        self._plates = Detector(self.config.plates)

    def load(self) -> TwoStageDetector:
        """Open both models."""
        self._vehicles.load()
        self._plates.load()
        return self

    def detect(self, frame: np.ndarray) -> Detections:
        """Vehicles (canonical ids 0-3) and plates (4) in frame pixels."""
        first = self._vehicles.detect(frame)
        vehicles = first[first.class_id != PLATE]
        h, w = frame.shape[:2]
        boxes, scores = [], []
        strong = vehicles[vehicles.confidence >= self.config.min_vehicle_conf]
        order = np.argsort(-strong.confidence)[: self.config.max_vehicles]
        for x1, y1, x2, y2 in strong.xyxy[order]:
            mx, my = (x2 - x1) * self.config.crop_margin, (y2 - y1) * self.config.crop_margin
            cx1, cy1 = int(max(0, x1 - mx)), int(max(0, y1 - my))
            cx2, cy2 = int(min(w, x2 + mx + 1)), int(min(h, y2 + my + 1))
            if cx2 - cx1 < 8 or cy2 - cy1 < 8:
                continue
            found = self._plates.detect(frame[cy1:cy2, cx1:cx2])
            found = found[found.class_id == PLATE]
            if len(found):
                boxes.append(found.xyxy + np.array([cx1, cy1, cx1, cy1], np.float32))
                scores.append(found.confidence)
        if not boxes:
            return vehicles
        pxyxy, pconf = np.concatenate(boxes), np.concatenate(scores)
        keep = nms(pxyxy, pconf, 0.5)  # overlapping crops find the same plate twice
        plates = Detections(pxyxy[keep], pconf[keep], np.full(len(keep), PLATE))
        return Detections(
            np.concatenate([vehicles.xyxy, plates.xyxy]),
            np.concatenate([vehicles.confidence, plates.confidence]),
            np.concatenate([vehicles.class_id, plates.class_id]),
        )

    __call__ = detect
