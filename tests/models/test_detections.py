"""The canonical Detections type, letterbox, NMS, decoding and class maps."""

from __future__ import annotations

import numpy as np
import pytest

from models.class_map import COCO_CLASS_MAP, ClassMap, parse_names
from models.detections import Detections, box_iou
from models.errors import ModelError
from models.postprocess import decode_yolo, letterbox, nms


@pytest.mark.parametrize(
    ("xyxy", "conf", "cls", "tracker", "message"),
    [
        (np.zeros(3), np.zeros(3), np.zeros(3), None, r"xyxy: expected \(N,4\), got \(3,\)"),
        (np.zeros((2, 3)), np.zeros(2), np.zeros(2), None, r"expected \(N,4\), got \(2, 3\)"),
        (np.zeros((2, 4)), np.zeros(3), np.zeros(2), None, r"confidence: expected \(2\)"),
        (np.zeros((2, 4)), np.zeros(2), np.zeros((2, 1)), None, r"class_id: expected \(2\)"),
        (np.zeros((2, 4)), np.zeros(2), np.zeros(2), np.zeros(1), r"tracker_id: expected \(2\)"),
    ],
)
def test_detections_refuse_bad_shapes(
    xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray, tracker: np.ndarray | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Detections(xyxy, conf, cls, tracker)


def test_detections_select_and_dtypes() -> None:
    d = Detections([[0, 0, 10, 10], [5, 5, 7, 9]], [0.9, 0.5], [1, 4], [7, 8])
    assert d.xyxy.dtype == np.float32
    assert d.class_id.dtype == np.int64
    assert len(d) == 2
    plates = d.with_class(4)
    assert len(plates) == 1
    assert plates.tracker_id is not None
    assert plates.tracker_id.tolist() == [8]
    assert d.area.tolist() == [100.0, 8.0]
    assert len(d[d.confidence > 0.95]) == 0
    assert len(Detections.empty()) == 0


def test_box_iou() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert np.allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0]])
    assert box_iou(b, a).shape == (3, 1)
    assert np.allclose(box_iou(b, a)[:, 0], [1.0, 50 / 150, 0.0])
    assert box_iou(a, np.zeros((0, 4), np.float32)).shape == (1, 0)
    assert box_iou(np.zeros((0, 4), np.float32), b).shape == (0, 3)
    # a flat box (no area) and a box given backwards overlap nothing, without dividing by 0
    odd = np.array([[0, 5, 10, 5], [10, 10, 0, 0]], np.float32)
    assert np.array_equal(box_iou(odd, a), [[0.0], [0.0]])


def test_letterbox_round_trip() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    blob, lb = letterbox(frame, (320, 320))
    assert blob.shape == (1, 3, 320, 320)
    assert blob.dtype == np.float32
    assert lb.scale == 0.5
    assert lb.pad_x == 0.0
    assert lb.pad_y == 70.0
    assert np.isclose(blob[0, 0, 0, 0], 114 / 255)  # padding is grey
    bgr = np.zeros((360, 640, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30  # blue, green, red
    rgb = letterbox(bgr, (320, 320))[0][0, :, 160, 160] * 255
    assert np.allclose(rgb, [30, 20, 10])  # the network takes RGB planes
    back = lb.to_frame(np.array([[0, 70, 320, 250]], np.float32), 640, 360)
    assert back.tolist() == [[0, 0, 640, 360]]


def test_letterbox_blob_is_rgb_in_0_to_1_with_the_image_inside_the_padding() -> None:
    frame = np.zeros((360, 640, 3), np.uint8)
    frame[..., 0] = 255  # pure blue (BGR)
    frame[:, :320, 2] = 51  # left half with some red
    blob, _ = letterbox(frame, (320, 320))
    assert blob.flags["C_CONTIGUOUS"]
    inside, pad = blob[0, :, 70:250], blob[0, :, :70]
    assert np.all(inside[2] == 1.0)  # blue is the last channel of RGB
    assert np.all(inside[1] == 0.0)
    assert np.allclose(inside[0, :, :160], 0.2)
    assert np.all(inside[0, :, 160:] == 0.0)
    assert np.all(pad == np.float32(114) / np.float32(255))
    assert np.all(blob[0, :, 250:] == np.float32(114) / np.float32(255))


def test_letterbox_refuses_grey_frames() -> None:
    with pytest.raises(ValueError, match=r"expected \(H,W,3\)"):
        letterbox(np.zeros((10, 10), np.uint8), (32, 32))


def test_nms_suppresses_overlaps_only() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    keep = nms(boxes, np.array([0.8, 0.9, 0.7], np.float32), 0.5)
    assert keep.tolist() == [1, 2]


def test_decode_yolo_is_class_aware() -> None:
    # three anchors, two classes; anchors 0 and 1 overlap but differ in class
    out = np.zeros((1, 6, 3), np.float32)
    out[0, :4, 0] = [50, 50, 20, 20]
    out[0, :4, 1] = [51, 51, 20, 20]
    out[0, :4, 2] = [10, 10, 4, 4]
    out[0, 4, 0] = 0.9
    out[0, 5, 1] = 0.8
    out[0, 4, 2] = 0.1  # below threshold
    det = decode_yolo(out, 2, conf=0.25, iou=0.5)
    assert sorted(det.class_id.tolist()) == [0, 1]
    assert np.allclose(det.xyxy[det.class_id == 0], [[40, 40, 60, 60]])
    transposed = decode_yolo(out.transpose(0, 2, 1).copy(), 2, conf=0.25, iou=0.5)
    assert len(transposed) == 2


def test_parse_names_from_ultralytics_metadata() -> None:
    assert parse_names({"names": "{0: 'car', 1: 'motorbike'}"}) == {0: "car", 1: "motorbike"}
    assert parse_names({}) is None
    with pytest.raises(ModelError, match="cannot read class names"):
        parse_names({"names": "{0: car"})


def test_class_map_coco() -> None:
    names = {0: "person", 2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}
    cmap = ClassMap.build(names, COCO_CLASS_MAP)
    det = Detections(np.zeros((4, 4)), np.ones(4), [0, 2, 3, 7])
    mapped = cmap.apply(det)
    assert mapped.class_id.tolist() == [0, 1, 3]  # person dropped, car/motorbike/truck kept
    # ids beyond the mapped ones (a model with more classes than mapped) are dropped too
    far = cmap.apply(Detections(np.zeros((3, 4)), np.ones(3), [7, 11, 2]))
    assert far.class_id.tolist() == [3, 0]  # truck, car
    assert len(cmap.apply(Detections.empty())) == 0


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"car": "lorry"}, "not one of"),
        ({"tractor": "truck"}, "not a class of the model"),
        (None, "include none of"),
    ],
)
def test_class_map_errors(mapping: dict[str, str] | None, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        ClassMap.build({0: "person", 2: "car"} if mapping else {0: "person"}, mapping)
