"""Reading Vietnamese plates: crop, rectify, OCR, then normalise, correct and validate.

OCR is rapidocr-onnxruntime (PP-OCR models shipped inside the wheel; offline).
The fast path runs recognition only, line by line: the plate's aspect ratio says
whether it has one line or two, and two-line plates are cut at the middle. When
that does not give a valid plate, the full detector + recogniser runs once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import cv2
import numpy as np

from ioc.plates import PlateLayout, VehicleKind, correct, is_valid, kinds_for, normalise

logger = logging.getLogger(__name__)

_MOTO_FIRST_LINE = re.compile(r"^\d{2}[-.]?[A-Z]{1,2}\d?$")
_NOT_PLATE = re.compile(r"[^0-9A-ZĐ]")


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One plate reading. ``text`` is normalised and corrected (``75A12345``)."""

    text: str
    raw: str
    layout: PlateLayout
    kind: VehicleKind | None
    confidence: float
    valid: bool
    corrections: int


@dataclass(frozen=True, slots=True)
class PlateReaderConfig:
    """Tuning of the reader."""

    margin: float = 0.12  # crop margin around the plate box, as a share of its size
    line_height: int = 48  # pixels per text line handed to the recogniser
    two_line_max_aspect: float = 3.0  # width/height at or below this: two lines
    fallback_full_ocr: bool = True
    #: The slow full OCR fallback only runs on plates at least this many pixels high.
    fallback_min_height: int = 20
    threads: int = 2
    #: Stretch contrast and sharpen each line before recognition.
    enhance: bool = False  # measured: no gain on simulator plates


def crop_plate(
    frame: np.ndarray, box: tuple[float, float, float, float], margin: float
) -> np.ndarray:
    """The plate box plus a margin, clipped to the frame."""
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    h, w = frame.shape[:2]
    xa, ya = max(0, int(x1 - mx)), max(0, int(y1 - my))
    xb, yb = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
    if xb - xa < 2 or yb - ya < 2:
        raise ValueError(f"plate box {box} is empty inside a {w}x{h} frame")
    return frame[ya:yb, xa:xb]


def rectify(crop: np.ndarray) -> np.ndarray:
    """Find the plate's own rectangle in the crop and cut (and de-rotate) it.

    Falls back to the crop itself when no convincing rectangle is found.
    """
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    big = cv2.resize(grey, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    _, bw = cv2.threshold(big, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    hb, wb = bw.shape
    if np.mean(bw[hb // 3 : 2 * hb // 3, wb // 4 : 3 * wb // 4]) < 127:
        bw = 255 - bw  # the plate (crop centre) must be the white part: blue plates are dark
    bw = cv2.morphologyEx(bw, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    contours, _ = cv2.findContours(bw, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return crop
    c = max(contours, key=cv2.contourArea)
    (cx, cy), (rw, rh), angle = cv2.minAreaRect(c)
    if rw * rh < 0.25 * big.shape[0] * big.shape[1]:
        return crop
    if angle > 45:  # OpenCV reports angles in [0, 90) or (-90, 0] by version
        angle, rw, rh = angle - 90, rh, rw
    elif angle < -45:
        angle, rw, rh = angle + 90, rh, rw
    if abs(angle) < 2:
        x, y, w, h = cv2.boundingRect(c)
        return crop[y // 4 : (y + h + 3) // 4, x // 4 : (x + w + 3) // 4]
    m = cv2.getRotationMatrix2D((cx / 4, cy / 4), angle, 1.0)
    rotated = cv2.warpAffine(
        crop, m, (crop.shape[1], crop.shape[0]), borderMode=cv2.BORDER_REPLICATE
    )
    x1, y1 = int(cx / 4 - rw / 8), int(cy / 4 - rh / 8)
    return rotated[max(0, y1) : y1 + int(rh / 4) + 1, max(0, x1) : x1 + int(rw / 4) + 1]


def _guess_kind(lines: list[str]) -> VehicleKind | None:
    if len(lines) >= 2 and _MOTO_FIRST_LINE.match(lines[0].upper().replace(" ", "")):
        return VehicleKind.MOTORBIKE if "-" in lines[0] or "." in lines[0] else None
    return None


class PlateReader:
    """Reads plate crops; ``load()`` opens the OCR models (no I/O in the constructor)."""

    def __init__(self, config: PlateReaderConfig | None = None) -> None:
        self.config = config or PlateReaderConfig()
        self._ocr: object | None = None

    def load(self) -> PlateReader:
        """Load the OCR models shipped with rapidocr-onnxruntime."""
        from rapidocr_onnxruntime import RapidOCR

        threads = self.config.threads
        self._ocr = RapidOCR(
            det_limit_type="max",
            det_limit_side_len=480,
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
        )
        logger.info("plate OCR loaded (rapidocr-onnxruntime)")
        return self

    def _ocr_call(self, img: np.ndarray, **kw: bool) -> list:  # type: ignore[type-arg]
        if self._ocr is None:
            raise RuntimeError("plate reader not loaded: call load() first")
        result, _ = self._ocr(img, **kw)  # type: ignore[operator]
        return list(result or [])

    def read(
        self,
        frame: np.ndarray,
        box: tuple[float, float, float, float],
        kind: VehicleKind | str | None = None,
    ) -> PlateRead:
        """Read the plate inside ``box`` of ``frame`` (BGR). ``kind``: the vehicle's, if known."""
        return self.read_crop(crop_plate(frame, box, self.config.margin), kind)

    def read_crop(self, crop: np.ndarray, kind: VehicleKind | str | None = None) -> PlateRead:
        """Read a BGR crop holding one plate."""
        k = VehicleKind(kind) if kind is not None else None
        plate = rectify(crop)
        h, w = plate.shape[:2]
        layout = (
            PlateLayout.ONE_LINE if w / max(h, 1) > self.config.two_line_max_aspect
            else PlateLayout.TWO_LINE
        )  # fmt: skip
        if k is VehicleKind.MOTORBIKE:
            layout = PlateLayout.TWO_LINE
        lines = self._recognise_lines(plate, layout)
        read = self._finish(lines, layout, k)
        big_enough = h >= self.config.fallback_min_height
        if not read.valid and self.config.fallback_full_ocr and big_enough:
            full = self._full_ocr(plate)
            if full:
                alt = self._finish(full, layout if len(full) == 1 else PlateLayout.TWO_LINE, k)
                if alt.valid:
                    return alt
        return read

    def _prepare(self, img: np.ndarray) -> np.ndarray:
        lh = self.config.line_height
        scale = lh / max(img.shape[0], 1)
        out = cv2.resize(
            img, (max(8, round(img.shape[1] * scale)), lh), interpolation=cv2.INTER_CUBIC
        )
        if self.config.enhance:
            grey = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
            grey = cv2.normalize(grey, None, 0, 255, cv2.NORM_MINMAX)
            soft = cv2.GaussianBlur(grey, (0, 0), 2.0)
            grey = cv2.addWeighted(grey, 1.6, soft, -0.6, 0)
            out = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        return cv2.copyMakeBorder(out, 4, 4, 8, 8, cv2.BORDER_REPLICATE)

    def _recognise_lines(self, plate: np.ndarray, layout: PlateLayout) -> list[tuple[str, float]]:
        h = plate.shape[0]
        parts = [plate] if layout is PlateLayout.ONE_LINE else [plate[: h // 2], plate[h // 2 :]]
        out = []
        for part in parts:
            res = self._ocr_call(self._prepare(part), use_det=False, use_cls=False, use_rec=True)
            if res:
                text, score = res[0][0], float(res[0][1])
                out.append((str(text), score))
        return out

    def _full_ocr(self, plate: np.ndarray) -> list[tuple[str, float]]:
        up = cv2.resize(plate, None, fx=96 / max(plate.shape[0], 1), fy=96 / max(plate.shape[0], 1))
        up = cv2.copyMakeBorder(up, 16, 16, 16, 16, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        res = self._ocr_call(up)
        res.sort(key=lambda r: (np.mean([p[1] for p in r[0]]), np.mean([p[0] for p in r[0]])))
        return [(str(r[1]), float(r[2])) for r in res]

    @staticmethod
    def _finish(
        lines: list[tuple[str, float]], layout: PlateLayout, kind: VehicleKind | None
    ) -> PlateRead:
        texts = [t for t, _ in lines]
        raw = " ".join(texts)
        k = kind or _guess_kind(texts)
        text, subs = correct(_NOT_PLATE.sub("", normalise(raw)), k)
        valid = is_valid(text, k) if k else bool(kinds_for(text))
        if k is None and valid:
            kinds = kinds_for(text)
            k = kinds[0] if len(kinds) == 1 else (
                VehicleKind.CAR if layout is PlateLayout.ONE_LINE else None
            )  # fmt: skip
        conf = float(np.prod([s for _, s in lines])) if lines else 0.0
        return PlateRead(text, raw, layout, k, conf, valid, max(subs, 0))
