"""Drawing Vietnamese plates with OpenCV Hershey fonts (no font files needed)."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ioc.plates import Plate, PlateColour, PlateLayout, VehicleKind

#: Physical plate sizes in metres (width, height) by (kind, layout).
PLATE_SIZE_M: dict[tuple[VehicleKind, PlateLayout], tuple[float, float]] = {
    (VehicleKind.CAR, PlateLayout.ONE_LINE): (0.52, 0.11),
    (VehicleKind.CAR, PlateLayout.TWO_LINE): (0.33, 0.165),
    (VehicleKind.MOTORBIKE, PlateLayout.TWO_LINE): (0.19, 0.14),
    (VehicleKind.MOTORBIKE, PlateLayout.ONE_LINE): (0.19, 0.14),
}
_BG: dict[PlateColour, tuple[int, int, int]] = {  # BGR
    PlateColour.WHITE: (236, 238, 238),
    PlateColour.YELLOW: (40, 200, 245),
    PlateColour.BLUE: (150, 70, 20),
}
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PX_PER_M = 1000  # canonical rendering resolution


def plate_size_m(plate: Plate, scale: float = 1.0) -> tuple[float, float]:
    """Drawn size in metres; motorbike plates get a further 1.2x so they stay legible."""
    w, h = PLATE_SIZE_M[(plate.kind, plate.layout)]
    k = scale * (1.2 if plate.kind is VehicleKind.MOTORBIKE else 1.0)
    return w * k, h * k


def _fit_text(text: str, box_w: int, box_h: int, thickness: int) -> float:
    (tw, th), _ = cv2.getTextSize(text, _FONT, 1.0, thickness)
    return min(box_w / tw, box_h / th)


def _text_layout(plate: Plate) -> tuple[int, int, int, float, list[str], int]:
    """Canonical size (w, h), border, line height, lines and stroke of ``plate``."""
    w_m, h_m = PLATE_SIZE_M[(plate.kind, plate.layout)]
    w, h = round(w_m * _PX_PER_M), round(h_m * _PX_PER_M)
    border = max(2, h // 28)
    lines = plate.lines()
    line_h = (h - 2 * border) / len(lines)
    return w, h, border, line_h, lines, max(2, int(line_h * 0.11))


def _line_scale(text: str, w: int, line_h: float, thickness: int) -> float:
    pad_x = int(w * 0.06)
    return _fit_text(text, w - 2 * pad_x, int(line_h * 0.62), thickness)


@functools.lru_cache(maxsize=4096)
def char_height_ratio(plate: Plate) -> float:
    """Height of the plate's drawn characters (its smallest line's ink) over the plate's.

    A plate drawn ``h`` pixels high in a frame has characters ``h * ratio`` pixels
    high: what decides whether it can be read, more than its width does (a one-line
    car plate's characters are half the size of a motorbike plate's of the same width).
    """
    w, h, _, line_h, lines, thickness = _text_layout(plate)
    heights = []
    for text in lines:
        scale = _line_scale(text, w, line_h, thickness)
        canvas = np.zeros((2 * h, w), np.uint8)
        cv2.putText(canvas, text, (0, h), _FONT, scale, 255, thickness, cv2.LINE_AA)
        rows = np.flatnonzero((canvas > 127).any(axis=1))
        heights.append(int(rows[-1] - rows[0] + 1) if len(rows) else 0)
    return min(heights) / h


def render_plate(plate: Plate) -> np.ndarray:
    """Canonical high-resolution BGR image of ``plate`` (about 1 px per mm)."""
    w, h, border, line_h, lines, thickness = _text_layout(plate)
    bg = _BG[plate.colour]
    fg = (245, 245, 245) if plate.colour is PlateColour.BLUE else (20, 20, 20)
    img = np.full((h, w, 3), bg, dtype=np.uint8)
    cv2.rectangle(img, (border, border), (w - border - 1, h - border - 1), fg, border)
    for i, text in enumerate(lines):
        scale = _line_scale(text, w, line_h, thickness)
        (tw, th), _ = cv2.getTextSize(text, _FONT, scale, thickness)
        x = (w - tw) // 2
        y = int(border + line_h * i + (line_h + th) / 2)
        cv2.putText(img, text, (x, y), _FONT, scale, fg, thickness, cv2.LINE_AA)
    return img


def paste_plate(
    frame: np.ndarray,
    plate_img: np.ndarray,
    box: tuple[int, int, int, int],
    gain: float = 1.0,
    mask: np.ndarray | None = None,
) -> None:
    """Resize ``plate_img`` into ``box`` (x1, y1, x2, y2, exclusive) of ``frame``, clipped.

    ``mask`` (frame-sized, bool) limits the paste to pixels where it is true, so a
    plate partly hidden by a nearer vehicle stays hidden.
    """
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    if w < 2 or h < 2:
        return
    small = cv2.resize(plate_img, (w, h), interpolation=cv2.INTER_AREA)
    if gain != 1.0:
        small = np.clip(small.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    fh, fw = frame.shape[:2]
    cx1, cy1, cx2, cy2 = max(0, x1), max(0, y1), min(fw, x2), min(fh, y2)
    if cx1 >= cx2 or cy1 >= cy2:
        return
    patch = small[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1]
    if mask is None:
        frame[cy1:cy2, cx1:cx2] = patch
    else:
        m = mask[cy1:cy2, cx1:cx2]
        frame[cy1:cy2, cx1:cx2][m] = patch[m]
