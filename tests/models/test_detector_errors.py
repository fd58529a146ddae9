"""Loading errors of the detector, and a user's own COCO model through a class map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.class_map import COCO_CLASS_MAP, COCO_NAMES
from models.detector import Detector, DetectorConfig
from models.errors import ModelError, ModelFileNotFound, ModelFormatError, ModelOutputError
from models.input_size import parse_input_size

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("backend", ["onnxruntime", "opencv"])
def test_missing_model_file(tmp_path: Path, backend: str) -> None:
    with pytest.raises(ModelFileNotFound, match="model file not found"):
        Detector(DetectorConfig(model=tmp_path / "nope.onnx", backend=backend)).load()


@pytest.mark.parametrize("backend", ["onnxruntime", "opencv"])
def test_file_that_is_not_onnx(tmp_path: Path, backend: str) -> None:
    bogus = tmp_path / "model.onnx"
    bogus.write_text("this is not a protobuf, just text\n" * 20)
    with pytest.raises(ModelFormatError, match="is not a loadable ONNX model"):
        Detector(DetectorConfig(model=bogus, backend=backend)).load()


def test_unexpected_output_shape() -> None:
    with pytest.raises(ModelOutputError, match=r"unexpected output shape \(1, 3\)"):
        Detector(DetectorConfig(model=DATA / "bad_output.onnx")).load()


def test_unknown_backend() -> None:
    with pytest.raises(ModelError, match="unknown inference backend"):
        Detector(DetectorConfig(model=DATA / "fake_coco.onnx", backend="tensorrt")).load()


def test_detect_before_load() -> None:
    with pytest.raises(ModelError, match="not loaded"):
        Detector().detect(np.zeros((10, 10, 3), np.uint8))


def test_without_class_map_only_canonical_names_pass() -> None:
    det = Detector(DetectorConfig(model=DATA / "fake_coco.onnx")).load()
    out = det.detect(np.zeros((64, 64, 3), np.uint8))
    assert out.class_id.tolist() == [0]  # "car" is canonical; "motorcycle" needs the map


@pytest.mark.parametrize("backend", ["onnxruntime", "opencv"])
def test_coco_model_through_class_map(backend: str) -> None:
    # OpenCV cannot read ONNX metadata, so there the names come from config
    names = dict(enumerate(COCO_NAMES)) if backend == "opencv" else None
    cfg = DetectorConfig(
        model=DATA / "fake_coco.onnx",
        class_map=COCO_CLASS_MAP,
        backend=backend,
        names=names,
        imgsz=64,
    )
    det = Detector(cfg).load()
    assert det.input_size == (64, 64)
    frame = np.zeros((128, 128, 3), np.uint8)  # scale 0.5 into the 64x64 input
    out = det.detect(frame)
    # car (COCO 2) → 0, motorcycle (COCO 3) → 1; the person is not mapped
    assert out.class_id.tolist() == [0, 1]
    assert np.allclose(out.xyxy[0], [24, 24, 40, 40])
    assert np.allclose(out.xyxy[1], [74, 68, 86, 92])


@pytest.mark.parametrize(
    ("text", "size"), [("320", 320), ("192x320", (192, 320)), ("192X320", (192, 320))]
)
def test_input_size_parsed(text: str, size: int | tuple[int, int]) -> None:
    assert parse_input_size(text) == size


@pytest.mark.parametrize(
    ("text", "problem"),
    [("200", "multiples of 32"), ("192x", "expected 320 or HEIGHTxWIDTH"), ("ax320", "expected")],
)
def test_bad_input_size_named(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_input_size(text)


def test_end_to_end_model_at_rectangular_input() -> None:
    # an NMS-free export (YOLO26, nms=False): rows of x1 y1 x2 y2 score class, no NMS here
    det = Detector(DetectorConfig(model=DATA / "fake_end2end.onnx", class_map=COCO_CLASS_MAP))
    det.load()
    assert det.input_size == (64, 96)
    frame = np.zeros((128, 192, 3), np.uint8)  # 16:8 into 64x96: scale 0.5, no padding
    out = det.detect(frame)
    assert out.class_id.tolist() == [0, 1]  # car, motorcycle; the 0.1 person is below conf
    assert np.allclose(out.xyxy[0], [20, 40, 60, 80])
    assert np.allclose(out.xyxy[1], [100, 32, 120, 60])
    assert np.allclose(out.confidence, [0.9, 0.8])


def test_end_to_end_model_with_wrong_row_width() -> None:
    with pytest.raises(ModelOutputError, match=r"end-to-end model with output shape \(1, 300, 5\)"):
        Detector(DetectorConfig(model=DATA / "bad_end2end.onnx")).load()


def test_rectangular_input_size_for_opencv() -> None:
    # OpenCV cannot read input shapes: the configured (height, width) is used
    det = Detector(
        DetectorConfig(
            model=DATA / "fake_coco.onnx",
            backend="opencv",
            imgsz=(64, 96),
            names=dict(enumerate(COCO_NAMES)),
            class_map=COCO_CLASS_MAP,
        )
    ).load()
    assert det.input_size == (64, 96)
    out = det.detect(np.zeros((128, 192, 3), np.uint8))  # scale 0.5, no padding
    assert np.allclose(out.xyxy[0], [24, 24, 40, 40])


def test_sessions_do_not_spin_between_runs() -> None:
    # a camera runs three sessions in turn per frame: a session whose threads spin after
    # its run takes the cores from the next one (see session_options)
    from models.backends.ort_backend import session_options

    opts = session_options(3)
    assert opts.intra_op_num_threads == 3
    for key in ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning"):
        assert opts.get_session_config_entry(key) == "0"
