"""Reading Vietnamese plates: crop, rectify, OCR, then normalise, correct and validate.

OCR runs line by line (``models.plate_ocr``): the project's own small CTC model
(``plate_ocr.onnx``, the default) or rapidocr-onnxruntime's recogniser (PP-OCRv4,
shipped inside the wheel; offline). The plate's aspect ratio says whether it has one
line or two, and two-line plates are cut at the middle. The per-frame character
probabilities are decoded **under the plate grammar** (:data:`LINE_TEMPLATES`:
which positions hold digits and which letters, per vehicle kind and line) by a
CTC Viterbi search, not greedily: a blurred ``G`` that the recogniser ranks just
below ``0`` comes out as ``G`` in a letter position, where a fixed confusion table
would say ``D``. Several reads of one vehicle (its best frames) vote character by
character, weighted by those probabilities (:meth:`PlateReader.read_many`). A
plate whose characters are not confident is not valid; then rapidocr's full
detector + recogniser may run once (``fallback_full_ocr``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ioc.plates import (
    LETTERS,
    PlateLayout,
    VehicleKind,
    correct,
    is_valid,
    kinds_for,
    normalise,
)
from models import SHIPPED_PLATE_OCR
from models.errors import ModelError
from models.plate_ocr import (
    LineRecogniser,
    OwnLineRecogniser,
    RapidLineRecogniser,
    greedy_decode,
    split_lines,
)

logger = logging.getLogger(__name__)

_MOTO_FIRST_LINE = re.compile(r"^\d{2}[-.]?[A-Z]{1,2}\d?$")
_NOT_PLATE = re.compile(r"[^0-9A-ZĐ]")

#: What each position of a plate line may hold: D digit, N digit 1-9, L series letter,
#: R the literal R (``ioc.plates`` patterns, without separators).
SLOTS = {"D": "0123456789", "N": "123456789", "L": LETTERS, "R": "R"}
_CAR1 = ("DDLDDDDD", "DDLDDDD", "DDLLDDDDD", "DDLLDDDD", "DDRDDDDD", "DDRDDDD")
_SERIAL = ("DDDDD", "DDDD")
#: Line templates per (kind, layout): one tuple of alternatives per line, top first.
LINE_TEMPLATES: dict[tuple[VehicleKind | None, PlateLayout], tuple[tuple[str, ...], ...]] = {
    (VehicleKind.CAR, PlateLayout.ONE_LINE): (_CAR1,),
    (VehicleKind.CAR, PlateLayout.TWO_LINE): (("DDL", "DDLL", "DDR"), _SERIAL),
    (VehicleKind.MOTORBIKE, PlateLayout.TWO_LINE): (("DDLN", "DDLL"), _SERIAL),
    (VehicleKind.MOTORBIKE, PlateLayout.ONE_LINE): (("DDLNDDDDD", "DDLLDDDDD", "DDLNDDDD",
                                                     "DDLLDDDD"),),
    (None, PlateLayout.ONE_LINE): (_CAR1,),
    (None, PlateLayout.TWO_LINE): (("DDL", "DDLL", "DDR", "DDLN"), _SERIAL),
}
_NEG = -1e9


def ctc_viterbi(logp: np.ndarray, blank: np.ndarray,
                slots: list[np.ndarray]) -> tuple[float, list[np.ndarray]] | None:
    """Best CTC alignment of a line whose positions hold the given character sets.

    ``logp`` (T, C): log-probabilities per frame; ``blank`` (T,): log-probability of
    "no character" (blank or a separator); ``slots``: per position, the indices of the
    characters allowed there. As in CTC, two neighbouring positions holding the same
    character need a blank between them. Returns the path's log-probability and, per
    position, the log-probabilities of its allowed characters at the frames aligned
    to it (max over those frames): the evidence a vote adds up. None when the line
    has fewer frames than positions. (One problem of :class:`CtcBatch`.)
    """
    batch = CtcBatch(logp[None], blank[None], [slots])
    return None if batch.totals[0] is None else (batch.totals[0], batch.evidence(0))


class CtcBatch:
    """:func:`ctc_viterbi` of B problems with the same number of frames at once:
    ``logp`` (B, T, C), ``blank`` (B, T), ``slots`` one list of character sets per
    problem (any number of positions). :attr:`totals` holds each problem's best path
    log-probability (None: no path); :meth:`evidence` traces one problem's path back.

    Every position of every problem is a row of one table, updated for all rows at once
    per frame (character sets padded to one width with impossible characters): a plate's
    reads and templates cost one pass of numpy calls instead of one each, and only the
    paths a caller wants are traced back. Per-call overhead, not arithmetic, is what a
    40-frame line costs."""

    def __init__(self, logp: np.ndarray, blank: np.ndarray,
                 slots: list[list[np.ndarray]]) -> None:
        n_b, t_len = logp.shape[0], logp.shape[1]
        self.logp, self.slots = logp, slots
        ok = [0 < len(s) <= t_len for s in slots]
        self.totals: list[float | None] = [None] * n_b
        self._last: list[tuple[bool, int] | None] = [None] * n_b  # end state of each path
        lens = [len(s) if good else 0 for s, good in zip(slots, ok, strict=True)]
        self.start = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        n_r = int(self.start[-1])
        if n_r == 0:
            return
        width = max(len(x) for s, good in zip(slots, ok, strict=True) if good for x in s)
        chars = np.full((n_r, width), -1, dtype=np.int64)  # character per state; -1 pad
        prob = np.empty(n_r, dtype=np.int64)  # row -> problem
        for i, s in enumerate(slots):
            for k, idx in enumerate(s if ok[i] else ()):
                chars[self.start[i] + k, : len(idx)] = idx
                prob[self.start[i] + k] = i
        pad = chars < 0
        lp_rows = np.where(pad[None], _NEG, logp[prob[None, :, None],
                                                np.arange(t_len)[:, None, None],
                                                np.where(pad, 0, chars)[None]])  # (T, R, J)
        rows = np.arange(n_r)
        first = np.zeros(n_r, dtype=bool)
        first[self.start[:-1][np.array(lens) > 0]] = True
        has_prev = ~first[1:, None]
        blank_rows = np.ascontiguousarray(blank[prob].T, dtype=np.float64)  # (T, R)
        lead = np.cumsum(blank_rows, axis=0)  # the all-blank path before position 0, per t
        after = np.full(n_r, _NEG)  # blank after the row's position
        c = np.full((n_r, width), _NEG)  # c[r, j]: the row's position shows its j-th char
        c[first] = lp_rows[0, first]
        back_b = np.full((t_len, n_r), -1, dtype=np.int64)  # -1 stay, j: from char j
        back_c = np.zeros((t_len, n_r, width), dtype=np.int64)  # -1 stay, -2 blank, j
        prev_rows = rows[:-1, None]
        shifted = np.empty(n_r)
        for t in range(1, t_len):
            top1 = c.argmax(axis=1)
            top1_val = c[rows, top1]
            shifted[0] = _NEG
            shifted[1:] = after[:-1]
            before = np.where(first, lead[t - 1], shifted)[:, None]
            from_c = top1_val > after
            new_after = np.where(from_c, top1_val, after) + blank_rows[t]
            back_b[t] = np.where(from_c, top1, -1)
            better = before > c
            best = np.where(better, before, c)
            ptr = np.where(better, -2, -1)
            if n_r > 1:
                # from the previous position's best character, or its second best where
                # the best is the same character (two in a row need a blank between them)
                nxt = np.broadcast_to(top1[:-1, None], (n_r - 1, width))
                same = chars[rows[:-1], top1[:-1]][:, None] == chars[1:]
                if same.any():
                    c2 = c[:-1].copy()
                    c2[rows[:-1], top1[:-1]] = -np.inf
                    top2 = c2.argmax(axis=1)
                    nxt = np.where(same, top2[:, None], nxt)
                cand = c[prev_rows, nxt]
                cand = np.where(chars[prev_rows, nxt] == chars[1:], _NEG, cand)
                take = (cand > best[1:]) & has_prev
                best[1:] = np.where(take, cand, best[1:])
                ptr[1:] = np.where(take, nxt, ptr[1:])
            back_c[t] = ptr
            after, c = new_after, best + lp_rows[t]
        self._back_b, self._back_c = back_b, back_c
        for i in range(n_b):
            if not lens[i]:
                continue
            last = int(self.start[i + 1]) - 1
            j = int(np.argmax(c[last]))
            on_char = c[last, j] >= after[last]
            total = float(c[last, j] if on_char else after[last])
            if total > _NEG / 2:
                self.totals[i] = total
                self._last[i] = (not on_char, j)

    def evidence(self, i: int) -> list[np.ndarray]:
        """Problem ``i``'s best path traced back: per position, the log-probabilities of
        its allowed characters at the frames aligned to it (max over those frames)."""
        end = self._last[i]
        if end is None:
            raise ValueError(f"CTC problem {i} has no path")
        slots, logp = self.slots[i], self.logp[i]
        base, k_len = int(self.start[i]), len(slots)
        back_b, back_c = self._back_b, self._back_c
        is_blank, j = end
        state = (True, k_len, -1) if is_blank else (False, k_len - 1, j)
        frames: list[list[int]] = [[] for _ in slots]
        for t in range(logp.shape[0] - 1, -1, -1):
            is_blank, k, j = state
            if not is_blank:
                frames[k].append(t)
            if t == 0:
                break
            if is_blank:
                p = int(back_b[t, base + k - 1]) if k else -1
                state = (True, k, -1) if p == -1 else (False, k - 1, p)
            else:
                p = int(back_c[t, base + k, j])
                state = ((False, k, j) if p == -1 else (True, k, -1) if p == -2
                         else (False, k - 1, p))
        return [logp[f][:, idx].max(axis=0) if f else np.full(len(idx), np.log(1e-9))
                for f, idx in zip(frames, slots, strict=True)]


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
    #: "own": the project's plate-line model (``ocr_model``); "rapidocr": PP-OCRv4.
    recogniser: str = "own"
    #: The own recogniser's ONNX file (None: the one shipped in ``models/``).
    ocr_model: Path | None = None
    line_height: int = 48  # pixels per text line handed to rapidocr's recogniser
    two_line_max_aspect: float = 3.0  # width/height at or below this: two lines
    #: At or above this width/height a plate is surely one line (a one-line car plate is
    #: 4.7, a two-line one 2.0): a car's unsure read does not try the two-line layout.
    one_line_min_aspect: float = 4.0
    fallback_full_ocr: bool = True
    #: The slow full OCR fallback only runs on plates at least this many pixels high.
    fallback_min_height: int = 20
    threads: int = 2
    #: Stretch contrast and sharpen each line before recognition.
    enhance: bool = False  # measured: no gain on simulator plates
    #: Recognise the colour channel (or grey) in which characters and background separate
    #: best: under a red tail light the top line is dark red on pink, clear in green only.
    best_channel: bool = True
    #: Decode under the plate grammar (False: greedy text, then ``ioc.plates.correct``).
    constrained: bool = True
    #: A grammar-decoded plate is valid when the geometric mean probability of its
    #: characters reaches this.
    min_char_conf: float = 0.3
    #: Below this confidence the full OCR (if on) reads the plate too; the surer read wins.
    fallback_below: float = 0.6
    #: Log-probability added to a motorbike series of two letters (``DDLL``: ``75-GB``)
    #: where letter + digit (``DDLN``: ``75-G8``) competes with it, in each crop's choice
    #: of template: the recogniser leans to the digit where the two look alike (B/8,
    #: S/5). 1.0 measured on ground-truth crops of seeds 9000-9099 and 9200-9299 (13
    #: series wrong of 651 against 18 without).
    two_letter_series_bonus: float = 1.0


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


def _readable(plate: np.ndarray, layout: PlateLayout) -> bool:
    """Whether each line of ``plate`` cut for ``layout`` has pixels to read (2 x 2 or more)."""
    return all(min(line.shape[:2]) >= 2 for line in split_lines(plate, layout))


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
    """Reads plate crops; ``load()`` opens the OCR models (no I/O in the constructor).

    ``recogniser``: an own line recogniser already opened (the camera's config check
    opens it), so ``load()`` does not open the same file again."""

    def __init__(
        self, config: PlateReaderConfig | None = None, recogniser: LineRecogniser | None = None
    ) -> None:
        self.config = config or PlateReaderConfig()
        self._ocr: object | None = None
        self._rec: LineRecogniser | None = recogniser
        self._chars: list[str] = []
        self._slot_idx: dict[str, np.ndarray] = {}
        self._sep_idx = np.zeros(0, dtype=np.int64)

    def load(self) -> PlateReader:
        """Open the recogniser (and rapidocr where the config uses it); clear ModelError
        for an unknown recogniser or a missing or malformed model file."""
        cfg = self.config
        if cfg.recogniser not in ("own", "rapidocr"):
            raise ModelError(
                f"plate reader: unknown recogniser {cfg.recogniser!r}: use 'own' or 'rapidocr'"
            )
        if cfg.recogniser == "rapidocr" or cfg.fallback_full_ocr or not cfg.constrained:
            from rapidocr_onnxruntime import RapidOCR

            self._ocr = RapidOCR(
                det_limit_type="max",
                det_limit_side_len=480,
                intra_op_num_threads=cfg.threads,
                inter_op_num_threads=1,
            )
        if cfg.recogniser == "own":
            if self._rec is None:
                self._rec = OwnLineRecogniser(cfg.ocr_model or SHIPPED_PLATE_OCR, cfg.threads)
        else:
            self._rec = RapidLineRecogniser(
                self._ocr, cfg.line_height, cfg.enhance, cfg.best_channel
            )
        chars = self._rec.chars
        where = {c: i for i, c in enumerate(chars)}
        self._chars = chars
        self._slot_idx = {k: np.array([where[c] for c in v], dtype=np.int64)
                          for k, v in SLOTS.items()}
        self._sep_idx = np.array([where[c] for c in "-.· " if c in where], dtype=np.int64)
        logger.info("plate OCR loaded (%s recogniser)", cfg.recogniser)
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
        return self.read_many([crop], kind)

    def _layout(self, plate: np.ndarray, kind: VehicleKind | None) -> PlateLayout:
        h, w = plate.shape[:2]
        if kind is VehicleKind.MOTORBIKE or w / max(h, 1) <= self.config.two_line_max_aspect:
            return PlateLayout.TWO_LINE
        return PlateLayout.ONE_LINE

    def _surely_one_line(self, plates: list[np.ndarray]) -> bool:
        aspects = [pl.shape[1] / max(pl.shape[0], 1) for pl in plates]
        return float(np.median(aspects)) >= self.config.one_line_min_aspect

    def read_many(self, crops: list[np.ndarray],
                  kind: VehicleKind | str | None = None) -> PlateRead:
        """One reading of several crops of the same plate (a vehicle's best frames).

        Each crop is rectified and recognised line by line; the crops of the layout
        most of them show vote character by character: per line the template with
        the largest summed path probability, per position the character with the
        largest summed log-probability. Greedy mode (``constrained=False``) reads the
        first crop only.
        """
        if not crops:
            raise ValueError("read_many needs at least one crop")
        k = VehicleKind(kind) if kind is not None else None
        plates = [rectify(c) for c in crops]
        layouts = [self._layout(pl, k) for pl in plates]
        # the layout most crops show; a tie goes to the largest crop's (crops come largest
        # first; a set's order would change with Python's string hashing, run to run)
        layout = max(layouts, key=layouts.count)
        chosen = [pl for pl, lay in zip(plates, layouts, strict=True)
                  if lay is layout and _readable(pl, layout)]
        if not chosen:  # slivers a pixel or two high: nothing to read
            return PlateRead("", "", layout, k, 0.0, False, 0)
        if not self.config.constrained:
            return self._greedy_read(chosen[0], layout, k)
        probs = self._plates_logprobs(chosen, layout)
        read = self._vote(probs, layout, k)
        if (k is not VehicleKind.MOTORBIKE and read.confidence < 2 * self.config.min_char_conf
                and not self._surely_one_line(chosen)):
            # a car plate cropped with some of the car above it looks two-line: try the other
            other = (PlateLayout.TWO_LINE if layout is PlateLayout.ONE_LINE
                     else PlateLayout.ONE_LINE)
            others = [pl for pl in plates if _readable(pl, other)]
            if others:
                alt = self._vote(self._plates_logprobs(others, other), other, k)
                if alt.confidence > read.confidence:
                    read = alt
        h = chosen[0].shape[0]
        big_enough = h >= self.config.fallback_min_height
        unsure = read.confidence < self.config.fallback_below
        if unsure and self.config.fallback_full_ocr and big_enough:
            for pl in plates:  # largest first; the first valid read that is surer wins
                full = self._full_ocr(pl)
                if not full:
                    continue
                alt = self._finish(full, layout if len(full) == 1 else PlateLayout.TWO_LINE, k)
                if alt.valid and (not read.valid or alt.confidence > read.confidence):
                    return alt
        return read

    def _greedy_read(self, plate: np.ndarray, layout: PlateLayout,
                     k: VehicleKind | None) -> PlateRead:
        lines = self._recognise_lines(plate, layout)
        read = self._finish(lines, layout, k)
        h = plate.shape[0]
        big_enough = h >= self.config.fallback_min_height
        if not read.valid and self.config.fallback_full_ocr and big_enough:
            full = self._full_ocr(plate)
            if full:
                alt = self._finish(full, layout if len(full) == 1 else PlateLayout.TWO_LINE, k)
                if alt.valid:
                    return alt
        return read

    def _line_logprobs(self, plate: np.ndarray, layout: PlateLayout) -> list[np.ndarray]:
        """Per line of the plate, the recogniser's (T, C) log-probabilities (one batch)."""
        return self._plates_logprobs([plate], layout)[0]

    def _plates_logprobs(self, plates: list[np.ndarray], layout: PlateLayout
                         ) -> list[list[np.ndarray]]:
        """:meth:`_line_logprobs` of several crops of a plate: every line of every crop
        goes through the recogniser in one batch."""
        if self._rec is None:
            raise RuntimeError("plate reader not loaded: call load() first")
        per_plate = [split_lines(pl, layout) for pl in plates]
        out = iter(self._rec.logprobs([ln for lines in per_plate for ln in lines]))
        return [[next(out) for _ in lines] for lines in per_plate]

    def _greedy(self, logp: np.ndarray) -> str:
        return greedy_decode(logp.argmax(axis=1), self._chars)

    def _decode_lines(self, lines: list[tuple[list[np.ndarray], tuple[str, ...]]]
                      ) -> list[list[tuple[str, list[np.ndarray]] | None]]:
        """Per line of a plate, given as (its reads, its template options): per read its
        most probable template, with the per-position evidence (None where no template
        fits). Every read of every line under every template is solved in one
        :class:`CtcBatch`: reads shorter than the longest are padded with frames that are
        certainly blank (log-probability 0 for the blank, impossible for a character),
        which a path crosses at no cost, so each read's best path and its total are what
        they would be alone."""
        reads = [lp for rs, _ in lines for lp in rs]
        if not reads:
            return [[] for _ in lines]
        n_r, t_len, n_c = len(reads), max(len(lp) for lp in reads), reads[0].shape[1]
        lps = np.full((n_r, t_len, n_c), _NEG)
        blanks = np.zeros((n_r, t_len))
        for r, lp in enumerate(reads):
            sep = lp[:, self._sep_idx]
            lps[r, : len(lp)] = lp
            blanks[r, : len(lp)] = np.logaddexp(lp[:, 0],
                                                np.log(np.exp(sep).sum(axis=1) + 1e-12))
        rows: list[int] = []  # problem -> read
        names: list[str] = []  # problem -> template
        offsets: list[float] = []  # problem -> what is added to its total
        slots: list[list[np.ndarray]] = []
        first = 0
        for rs, options in lines:
            line_slots = [[self._slot_idx[c] for c in t] for t in options]
            line_offsets = [self.config.two_letter_series_bonus
                            if t == "DDLL" and "DDLN" in options else 0.0 for t in options]
            for r in range(first, first + len(rs)):
                rows += [r] * len(options)
                names += options
                slots += line_slots
                offsets += line_offsets
            first += len(rs)
        batch = CtcBatch(lps[rows], blanks[rows], slots)
        best: list[tuple[float, str, int] | None] = [None] * n_r
        for i, total in enumerate(batch.totals):
            r = rows[i]
            if total is not None:
                total += offsets[i]
            # options in order, ties to the earlier one (a read too short for a template
            # could fit it only with characters in the padding: CtcBatch finds no path)
            if total is not None and (best[r] is None or total > best[r][0]):
                best[r] = (total, names[i], i)
        decoded = [None if b is None else (b[1], batch.evidence(b[2])) for b in best]
        out, first = [], 0
        for rs, _ in lines:
            out.append(decoded[first : first + len(rs)])
            first += len(rs)
        return out

    def _vote(self, reads: list[list[np.ndarray]], layout: PlateLayout,
              kind: VehicleKind | None) -> PlateRead:
        """Decode each read under the grammar, then vote per line: the template the reads
        back most (weighted by how sure each is), then per position the character with
        the largest summed probability among the reads of that template."""
        text, probs, raws, shares = "", [], [], []
        templates = LINE_TEMPLATES[(kind, layout)]
        per_line = [[r[li] for r in reads if li < len(r)] for li in range(len(templates))]
        all_decoded = self._decode_lines(list(zip(per_line, templates, strict=True)))
        for per_read, line_decoded in zip(per_line, all_decoded, strict=True):
            raws.append(self._greedy(per_read[0]) if per_read else "")
            decoded = [d for d in line_decoded if d]
            if not decoded:
                return PlateRead("", " ".join(raws), layout, kind, 0.0, False, 0)
            weight: dict[str, float] = {}
            for template, ev in decoded:
                sure = float(np.exp(np.mean([e.max() for e in ev])))
                weight[template] = weight.get(template, 0.0) + sure
            template = max(weight, key=weight.__getitem__)
            shares.append(weight[template] / sum(weight.values()))
            voters = [ev for t, ev in decoded if t == template]
            for pos, c in enumerate(template):
                summed = np.sum([np.exp(ev[pos]) for ev in voters], axis=0) / len(voters)
                j = int(np.argmax(summed))
                text += SLOTS[c][j]
                probs.append(float(summed[j]))
        conf = float(np.exp(np.mean(np.log(np.clip(probs, 1e-9, 1.0))))) * min(shares)
        k = kind
        if k is None:
            kinds = kinds_for(text)
            k = kinds[0] if len(kinds) == 1 else (
                VehicleKind.CAR if layout is PlateLayout.ONE_LINE else None
            )  # fmt: skip
        valid = conf >= self.config.min_char_conf and (
            is_valid(text, k) if k is not None else bool(kinds_for(text)))
        raw = " ".join(raws)
        greedy = _NOT_PLATE.sub("", normalise(raw))
        changed = (sum(a != b for a, b in zip(greedy, text, strict=True))
                   if len(greedy) == len(text) else abs(len(greedy) - len(text)))
        return PlateRead(text, raw, layout, k, round(conf, 4), valid, changed)

    def _recognise_lines(self, plate: np.ndarray, layout: PlateLayout) -> list[tuple[str, float]]:
        """Greedy text and mean best-class probability per line."""
        lps = self._line_logprobs(plate, layout)
        return [(self._greedy(lp), float(np.exp(lp.max(axis=1).mean()))) for lp in lps if len(lp)]

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
