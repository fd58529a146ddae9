"""Average precision as ``ioc models eval`` computes it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.detections import Detections
from models.metrics import DetectionMetrics, average_precision


def test_perfect_predictions_score_one() -> None:
    m = DetectionMetrics(2)
    gt = np.array([[0, 0, 10, 10], [20, 20, 40, 40]], np.float32)
    m.add(Detections(gt, [0.9, 0.8], [0, 1]), gt, np.array([0, 1]))
    (ap50_0, ap_0, n0), (ap50_1, _ap_1, n1) = m.per_class()
    assert (n0, n1) == (1, 1)
    assert ap50_0 == pytest.approx(1.0)
    assert ap_0 == pytest.approx(1.0)
    assert ap50_1 == pytest.approx(1.0)


def test_misses_false_positives_and_loose_boxes() -> None:
    m = DetectionMetrics(1)
    gt = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    # one loose but IoU 0.64 box, one false positive, second object missed
    pred = Detections([[0, 0, 10, 8], [100, 100, 110, 110]], [0.9, 0.95], [0, 0])
    m.add(pred, gt, np.array([0, 0]))
    ap50, ap5095, n = m.per_class()[0]
    assert n == 2
    assert 0.2 < ap50 < 0.5  # recall tops out at 0.5, and only after a false positive
    assert ap5095 < ap50


def test_class_without_truth_is_nan() -> None:
    m = DetectionMetrics(2)
    m.add(Detections.empty(), np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
    assert all(math.isnan(v) for v in m.per_class()[0][:2])


def test_average_precision_of_a_step_curve() -> None:
    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 0.5])) == pytest.approx(
        0.75, abs=0.01
    )
