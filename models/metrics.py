"""Detection metrics: average precision per class at IoU 0.50 and 0.50:0.95 (COCO style).

Pure numpy, so ``ioc models eval`` runs where the edge runs, without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.detections import Detections, box_iou

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


@dataclass
class _ClassRecords:
    scores: list[float] = field(default_factory=list)
    # per prediction: for each IoU threshold, whether it was a true positive
    tp: list[np.ndarray] = field(default_factory=list)
    n_gt: int = 0


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """COCO's 101-point AP: mean over recall levels of the best precision at that recall or more.

    ``recall`` ascends (predictions sorted by falling confidence).
    """
    envelope = np.flip(np.maximum.accumulate(np.flip(precision)))
    levels = np.linspace(0, 1, 101)
    idx = np.searchsorted(recall, levels, side="left")
    padded = np.concatenate((envelope, [0.0]))
    return float(np.mean(padded[np.minimum(idx, len(envelope))]))


class DetectionMetrics:
    """Accumulates predictions against ground truth, image by image."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self._records = [_ClassRecords() for _ in range(num_classes)]

    def add(self, pred: Detections, gt_xyxy: np.ndarray, gt_class: np.ndarray) -> None:
        """One image: predictions and ground-truth boxes (M,4) with classes (M,)."""
        for c in range(self.num_classes):
            rec = self._records[c]
            g = gt_xyxy[gt_class == c].reshape(-1, 4).astype(np.float32)
            p = pred[pred.class_id == c]
            rec.n_gt += len(g)
            if len(p) == 0:
                continue
            order = np.argsort(-p.confidence, kind="stable")
            boxes, scores = p.xyxy[order], p.confidence[order]
            ious = box_iou(boxes, g) if len(g) else np.zeros((len(boxes), 0), np.float32)
            tp = np.zeros((len(boxes), len(IOU_THRESHOLDS)), dtype=bool)
            for t_i, thr in enumerate(IOU_THRESHOLDS):
                taken = np.zeros(len(g), dtype=bool)
                for i in range(len(boxes)):
                    if not len(g):
                        break
                    cand = np.where(~taken & (ious[i] >= thr))[0]
                    if cand.size:
                        j = cand[np.argmax(ious[i, cand])]
                        taken[j] = True
                        tp[i, t_i] = True
            rec.scores.extend(scores.tolist())
            rec.tp.extend(tp)

    def per_class(self) -> list[tuple[float, float, int]]:
        """(AP50, AP50-95, ground-truth count) per class; NaN where a class has no truth."""
        out = []
        for rec in self._records:
            if rec.n_gt == 0:
                out.append((float("nan"), float("nan"), 0))
                continue
            if not rec.scores:
                out.append((0.0, 0.0, rec.n_gt))
                continue
            order = np.argsort(-np.array(rec.scores), kind="stable")
            tp = np.array(rec.tp)[order]
            aps = []
            for t_i in range(len(IOU_THRESHOLDS)):
                ctp = np.cumsum(tp[:, t_i])
                cfp = np.cumsum(~tp[:, t_i])
                recall = ctp / rec.n_gt
                precision = ctp / np.maximum(ctp + cfp, 1)
                aps.append(average_precision(recall, precision))
            out.append((aps[0], float(np.mean(aps)), rec.n_gt))
        return out
