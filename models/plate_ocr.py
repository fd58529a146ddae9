"""Plate-line recognisers behind one interface: the project's own small CTC model, or
rapidocr-onnxruntime's PP-OCRv4 recogniser.

A recogniser turns BGR images of single plate lines into per-frame CTC
log-probabilities over its own character list (index 0 is the CTC blank); the
plate reader decodes those under the plate grammar. The project's own model
(``plate_ocr.onnx``, trained by ``models/training/train_plate_ocr.py`` on plate
lines cut from simulator frames exactly as :func:`split_lines` and
:func:`line_input` cut them here) reads only what plates hold: digits and the
series letters.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ioc.plates import PlateLayout
from models.errors import ModelOutputError

logger = logging.getLogger(__name__)

#: The own model's output classes: CTC blank, digits, series letters (and R of the
#: ``NN-R`` trailer plates).
CHARS: tuple[str, ...] = ("<blank>", *"0123456789ABCDEFGHKLMNPRSTUVXYZ")
#: The own model's input: one grey plate line, height x width (aspect kept, right-padded).
INPUT_H, INPUT_W = 32, 160


class LineRecogniser(Protocol):
    """What the plate reader needs from a recogniser."""

    #: Output classes, index 0 the CTC blank.
    chars: list[str]

    def logprobs(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        """Per BGR line image, (T, len(chars)) log-probabilities (blank frames trimmed)."""
        ...


_LEVELS = np.arange(256, dtype=np.float64)


def best_channel(img: np.ndarray) -> np.ndarray:
    """The single channel of a BGR line image (B, G, R or grey) whose two Otsu classes,
    characters and background, are farthest apart for their spread: (mean of the upper
    class - mean of the lower) / (their standard deviations + 1). All four scored at
    once from their histograms (the same figures as from the pixels, in a third of the
    time); G when no channel has two classes."""
    chans = (*cv2.split(img), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    hist = np.stack([cv2.calcHist([ch], [0], None, [256], [0, 256]).ravel()
                     for ch in chans]).astype(np.float64)
    cut = np.array([cv2.threshold(ch, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0]
                    for ch in chans])
    lower = _LEVELS[None] <= cut[:, None]
    h_lo, h_hi = np.where(lower, hist, 0.0), np.where(lower, 0.0, hist)
    n_lo, n_hi = h_lo.sum(axis=1), h_hi.sum(axis=1)
    two = (n_lo > 0) & (n_hi > 0)
    if not two.any():
        return img[:, :, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        m_lo, m_hi = (h_lo @ _LEVELS) / n_lo, (h_hi @ _LEVELS) / n_hi
        s_lo = np.sqrt((h_lo * (_LEVELS[None] - m_lo[:, None]) ** 2).sum(axis=1) / n_lo)
        s_hi = np.sqrt((h_hi * (_LEVELS[None] - m_hi[:, None]) ** 2).sum(axis=1) / n_hi)
        score = np.where(two, (m_hi - m_lo) / (s_lo + s_hi + 1.0), -np.inf)
    return chans[int(np.argmax(score))]


def split_lines(plate: np.ndarray, layout: PlateLayout) -> list[np.ndarray]:
    """A rectified plate cut into its text lines (two-line plates at the middle)."""
    h = plate.shape[0]
    return [plate] if layout is PlateLayout.ONE_LINE else [plate[: h // 2], plate[h // 2 :]]


def line_input(line: np.ndarray) -> np.ndarray:
    """The own model's input for one BGR (or grey) line: the best channel, scaled to
    ``INPUT_H`` rows keeping the aspect ratio (at most ``INPUT_W`` columns), then
    padded on the right with its own last column. uint8, (INPUT_H, INPUT_W)."""
    if line.ndim != 2 and (line.ndim != 3 or line.shape[2] != 3):
        raise ValueError(f"plate line: expected a grey or BGR image, got shape {line.shape}")
    if line.shape[0] < 2 or line.shape[1] < 2:
        raise ValueError(f"plate line of {line.shape[1]}x{line.shape[0]} px is too small")
    grey = best_channel(line) if line.ndim == 3 else line
    h, w = grey.shape
    width = int(min(INPUT_W, max(8, round(w * INPUT_H / h))))
    interp = cv2.INTER_AREA if h > INPUT_H else cv2.INTER_CUBIC
    resized = cv2.resize(grey, (width, INPUT_H), interpolation=interp)
    if width == INPUT_W:
        return resized
    return cv2.copyMakeBorder(resized, 0, 0, 0, INPUT_W - width, cv2.BORDER_REPLICATE)


def greedy_decode(best: np.ndarray, chars: list[str] | tuple[str, ...]) -> str:
    """Greedy CTC: per frame the best class index (``best``), repeats merged, blanks
    (index 0) dropped."""
    keep = (best != 0) & np.r_[True, best[1:] != best[:-1]]
    return "".join(chars[i] for i in best[keep])


def trim_blank(logp: np.ndarray, blank_p: float = 0.98) -> np.ndarray:
    """Drop the frames around the text where the blank is nearly certain (padding)."""
    ink = np.flatnonzero(np.exp(logp[:, 0]) < blank_p)
    if not len(ink):
        return logp
    return logp[max(0, ink[0] - 1) : ink[-1] + 2]


class OwnLineRecogniser:
    """The project's own plate-line model (ONNX): (N, 1, 32, 160) → (N, T, len(CHARS))."""

    def __init__(self, path: Path, threads: int = 2) -> None:
        from models.backends.ort_backend import OrtBackend

        self._backend = OrtBackend.load(Path(path), threads)  # missing / not ONNX: ModelError
        inp, out = self._backend.input_shape, self._backend.output_shape
        if list(inp[1:]) != [1, INPUT_H, INPUT_W]:
            raise ModelOutputError(
                f"{path}: input shape {inp}, expected (N, 1, {INPUT_H}, {INPUT_W})"
            )
        if len(out) != 3 or out[2] != len(CHARS):
            raise ModelOutputError(
                f"{path}: output shape {out}, expected (N, T, {len(CHARS)}) CTC"
                " log-probabilities over blank, digits and series letters"
            )
        self.chars = list(CHARS)
        self.path = Path(path)

    def logprobs(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        """Per line, (T, C) log-probabilities."""
        if not lines:
            return []
        batch = np.stack([line_input(ln) for ln in lines])[:, None].astype(np.float32) / 255.0
        out = self._backend.infer(batch)
        return [trim_blank(lp) for lp in out]


class RapidLineRecogniser:
    """rapidocr-onnxruntime's PP-OCRv4 recogniser (6,600 classes), on lines scaled to
    ``line_height`` in their best channel."""

    def __init__(
        self,
        rapid: object,
        line_height: int = 48,
        enhance: bool = False,
        use_best_channel: bool = True,
    ) -> None:
        self._rec = rapid.text_rec  # type: ignore[attr-defined]
        self.chars = list(self._rec.postprocess_op.character)
        self.line_height, self.enhance, self.use_best_channel = (
            line_height,
            enhance,
            use_best_channel,
        )

    def prepare(self, img: np.ndarray) -> np.ndarray:
        """One line as PP-OCR wants it: BGR, ``line_height`` rows, a small border."""
        lh = self.line_height
        scale = lh / max(img.shape[0], 1)
        out = cv2.resize(
            img, (max(8, round(img.shape[1] * scale)), lh), interpolation=cv2.INTER_CUBIC
        )
        if self.use_best_channel:
            out = cv2.cvtColor(best_channel(out), cv2.COLOR_GRAY2BGR)
        if self.enhance:
            grey = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
            grey = cv2.normalize(grey, None, 0, 255, cv2.NORM_MINMAX)
            soft = cv2.GaussianBlur(grey, (0, 0), 2.0)
            grey = cv2.addWeighted(grey, 1.6, soft, -0.6, 0)
            out = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        return cv2.copyMakeBorder(out, 4, 4, 8, 8, cv2.BORDER_REPLICATE)

    def logprobs(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        """Per line, (T, C) log-probabilities (one batch)."""
        if not lines:
            return []
        imgs = [self.prepare(ln) for ln in lines]
        _, rec_h, rec_w = self._rec.rec_image_shape
        ratio = max([rec_w / rec_h] + [im.shape[1] / im.shape[0] for im in imgs])
        batch = np.stack([self._rec.resize_norm_img(im, ratio) for im in imgs])
        preds = self._rec.session(batch.astype(np.float32))[0]
        return [trim_blank(np.log(np.clip(pr, 1e-9, 1.0))) for pr in preds]
