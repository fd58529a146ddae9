"""Pre- and post-processing of YOLO-style detectors: letterbox, output decoding, NMS."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.detections import Detections


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a frame was fitted into the square network input: scale, then padding."""

    scale: float
    pad_x: float
    pad_y: float

    def to_frame(self, xyxy: np.ndarray, width: int, height: int) -> np.ndarray:
        """Map boxes from network input pixels back to frame pixels, clipped to the frame."""
        out = xyxy.astype(np.float32)  # a copy (float32 boxes too)
        xs, ys = out[:, 0::2], out[:, 1::2]  # views: x1, x2 and y1, y2
        np.clip((xs - self.pad_x) / self.scale, 0, width, out=xs)
        np.clip((ys - self.pad_y) / self.scale, 0, height, out=ys)
        return out


def letterbox(frame: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad (grey 114) to ``size`` = (height, width).

    Returns the NCHW float32 RGB blob in 0..1 and the transform to map boxes back.
    """
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame: expected (H,W,3) BGR, got {frame.shape}")
    h, w = frame.shape[:2]
    th, tw = size
    scale = min(th / h, tw / w)
    nh, nw = round(h * scale), round(w * scale)
    resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    pad_y, pad_x = (th - nh) / 2, (tw - nw) / 2
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    # written straight into the padded NCHW blob, one colour plane at a time in RGB
    # order (BGR's planes reversed): no padded uint8 canvas, no colour conversion
    blob = np.full((1, 3, th, tw), np.float32(114) / np.float32(255), dtype=np.float32)
    out = blob[0, :, top : top + nh, left : left + nw]
    for i, plane in enumerate(reversed(cv2.split(resized))):
        np.divide(plane, np.float32(255), out=out[i], dtype=np.float32)
    return blob, Letterbox(scale, float(left), float(top))


def nms(xyxy: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best first.

    OpenCV's ``NMSBoxes`` does the greedy pass in C++ (ties keep their input order, as a
    stable sort would): several times faster than a numpy loop over the kept boxes,
    with the same result."""
    if not len(xyxy):
        return np.zeros(0, dtype=np.int64)
    boxes = np.asarray(xyxy, dtype=np.float64)
    rects = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)  # x, y, w, h
    keep = cv2.dnn.NMSBoxes(rects, np.asarray(scores, dtype=np.float64), 0.0, float(iou))
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def decode_yolo(
    output: np.ndarray,
    num_classes: int,
    conf: float,
    iou: float,
    max_det: int = 300,
) -> Detections:
    """Decode an ultralytics YOLOv8/11 head: (1, 4+nc, A) or (1, A, 4+nc), boxes as cx,cy,w,h.

    Class-aware NMS (boxes of different classes never suppress each other).
    Boxes stay in network-input pixels.
    """
    pred = output[0]
    if not (pred.shape[0] == 4 + num_classes and pred.shape[1] != 4 + num_classes):
        pred = pred.T  # channels first: (4+nc, A), each channel one contiguous row
    # the few anchors over the threshold first, then only their classes and boxes
    keep = np.flatnonzero(pred[4 : 4 + num_classes].max(axis=0) >= conf)
    if not len(keep):
        return Detections.empty()
    cand = pred[:, keep]
    class_id = cand[4 : 4 + num_classes].argmax(axis=0)
    scores = cand[4 + class_id, np.arange(len(keep))]
    boxes = np.ascontiguousarray(cand[:4].T)
    xyxy = np.empty_like(boxes)
    xyxy[:, :2] = boxes[:, :2] - boxes[:, 2:] / 2
    xyxy[:, 2:] = boxes[:, :2] + boxes[:, 2:] / 2
    offset = class_id[:, None].astype(np.float32) * 4096.0  # class-aware NMS in one pass
    keep = nms(xyxy + offset, scores, iou)[:max_det]
    return Detections(xyxy[keep], scores[keep], class_id[keep])


def decode_end2end(output: np.ndarray, conf: float, max_det: int = 300) -> Detections:
    """Decode an NMS-free head (YOLO26/YOLOv10 exported end to end): (1, N, 6) rows of
    x1, y1, x2, y2, score, class. The model already removed duplicates; no NMS here.
    """
    pred = output[0]
    keep = pred[:, 4] >= conf
    pred = pred[keep][:max_det]
    return Detections(
        pred[:, :4].astype(np.float32), pred[:, 4].astype(np.float32), pred[:, 5].astype(np.int64)
    )
