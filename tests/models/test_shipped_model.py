"""The shipped ONNX detector loads and finds vehicles and plates in fresh simulator frames.

Seeds here are outside the training (1000-2999, 8000-8049) and evaluation (9000-9039)
ranges. A detector at chance would match next to nothing at IoU 0.5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models import SHIPPED_DETECTOR, SHIPPED_PLATE_DETECTOR, SHIPPED_PLATE_OCR
from models.class_map import CANONICAL
from models.detections import box_iou
from models.detector import Detector, DetectorConfig
from models.errors import ModelFormatError
from models.two_stage import TwoStageConfig, TwoStageDetector
from simulators.camera.export import sample_frames, scene_for_seed

SEEDS = (9990, 9991, 9992)


@pytest.fixture(scope="module")
def frames() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for seed in SEEDS:
        for _, frame, truth in sample_frames(scene_for_seed(seed), frames=2, stride=25):
            boxes = truth.boxes()
            gt = np.array([b for _, b in boxes], np.float32).reshape(-1, 4)
            out.append((frame, gt, np.array([c for c, _ in boxes], np.int64)))
    return out


def _match(pred_xyxy: np.ndarray, gt: np.ndarray) -> int:
    """Ground-truth boxes matched one-to-one by a prediction at IoU >= 0.5."""
    if len(pred_xyxy) == 0 or len(gt) == 0:
        return 0
    iou = box_iou(pred_xyxy, gt)
    matched = 0
    while iou.size and iou.max() >= 0.5:
        i, j = np.unravel_index(np.argmax(iou), iou.shape)
        matched += 1
        iou[i, :] = 0
        iou[:, j] = 0
    return matched


@pytest.mark.parametrize("path", [SHIPPED_DETECTOR, SHIPPED_PLATE_DETECTOR, SHIPPED_PLATE_OCR])
def test_shipped_models_are_there_and_small(path: Path) -> None:
    assert path.is_file()
    assert path.stat().st_size < 20e6


def test_full_frame_model_input_and_classes() -> None:
    det = Detector().load()
    assert det.input_size == (192, 320)  # 16:9 frames, little padding


def test_shipped_model_finds_vehicles_and_plates(
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> None:
    det = TwoStageDetector(TwoStageConfig(vehicles=DetectorConfig(conf=0.35))).load()
    stats = {name: [0, 0, 0] for name in ("vehicle", "plate")}  # matched, truths, predictions
    for frame, gt, cls in frames:
        pred = det.detect(frame)
        assert set(pred.class_id.tolist()) <= set(range(len(CANONICAL)))
        for name, is_plate in (("vehicle", False), ("plate", True)):
            p = pred.xyxy[(pred.class_id == 4) == is_plate]
            g = gt[(cls == 4) == is_plate]
            stats[name][0] += _match(p, g)
            stats[name][1] += len(g)
            stats[name][2] += len(p)
    v_matched, v_truth, v_pred = stats["vehicle"]
    assert v_truth > 20
    assert v_matched / v_truth > 0.7, stats  # recall
    assert v_matched / max(v_pred, 1) > 0.7, stats  # precision
    p_matched, p_truth, _ = stats["plate"]
    assert p_truth > 10
    assert p_matched / p_truth > 0.7, stats


def test_plate_model_reads_a_vehicles_crops_in_one_batch_as_it_reads_them_one_by_one(
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> None:
    plates = Detector(DetectorConfig(model=SHIPPED_PLATE_DETECTOR, imgsz=128, conf=0.25)).load()
    assert plates.batched  # models/training/dynamic_batch.py
    crops = [np.ascontiguousarray(frame[int(y1):int(y2), int(x1):int(x2)])
             for frame, gt, cls in frames for (x1, y1, x2, y2), c in zip(gt, cls, strict=True)
             if c != 4 and y2 - y1 > 40][:12]
    assert len(crops) >= 5
    together, alone = plates.detect_many(crops), [plates.detect(c) for c in crops]
    assert sum(len(d) for d in alone) >= 5  # plates were found: the comparison means something
    for a, b in zip(together, alone, strict=True):
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-3)
        np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-5)
        assert a.class_id.tolist() == b.class_id.tolist()


def test_opencv_backend_at_a_size_the_graph_cannot_take_is_named() -> None:
    # YOLO26's end-to-end head has fixed reshapes: OpenCV reads the graph, but a probe
    # at another input size fails; the error names the file, the size and the way out
    with pytest.raises(
        ModelFormatError, match=r"vehicles_192x320.onnx: OpenCV.*320x320.*onnxruntime"
    ):
        Detector(
            DetectorConfig(backend="opencv", imgsz=320, names=dict(enumerate(CANONICAL[:4])))
        ).load()


def test_opencv_backend_runs_the_shipped_model_at_its_size(
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> None:
    cfg = dict(conf=0.35, names=dict(enumerate(CANONICAL[:4])))
    ort_det = Detector(DetectorConfig(**cfg)).load()  # type: ignore[arg-type]
    cv_det = Detector(DetectorConfig(backend="opencv", imgsz=(192, 320), **cfg)).load()  # type: ignore[arg-type]
    frame = frames[0][0]
    a, b = ort_det.detect(frame), cv_det.detect(frame)
    assert len(a) > 3
    assert sorted(a.class_id.tolist()) == sorted(b.class_id.tolist())
    assert _match(a.xyxy, b.xyxy) == len(a)


def test_detect_in_three_steps_in_two_threads_finds_what_detect_finds(
    frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> None:
    """The camera agent letterboxes and decodes in its own thread and runs the model in a
    worker (edge/camera/lookahead.py): the same detections as detect()."""
    from concurrent.futures import ThreadPoolExecutor

    det = Detector().load()
    with ThreadPoolExecutor(1) as pool:
        for frame, gt, _cls in frames:
            prepared = det.prepare(frame)
            raw = pool.submit(det.infer, prepared).result()
            steps, whole = det.decode(raw, prepared), det.detect(frame)
            assert _match(steps.xyxy, gt) >= len(gt) // 2  # it found things
            np.testing.assert_array_equal(steps.xyxy, whole.xyxy)
            np.testing.assert_array_equal(steps.confidence, whole.confidence)
            assert steps.class_id.tolist() == whole.class_id.tolist()
