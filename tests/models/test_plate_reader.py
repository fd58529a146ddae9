"""Plate reading on rendered plates: crop, rectify, OCR, correction, validation."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from ioc.plates import Plate, PlateColour, PlateLayout, VehicleKind, random_plate
from models.plate_ocr import CHARS as OWN_CHARS
from models.plate_ocr import best_channel
from models.plate_reader import (
    SLOTS,
    CtcBatch,
    PlateReader,
    PlateReaderConfig,
    crop_plate,
    ctc_viterbi,
    rectify,
)
from simulators.camera.plate_render import render_plate


@pytest.fixture(scope="module", params=["own", "rapidocr"])
def reader(request: pytest.FixtureRequest) -> PlateReader:
    return PlateReader(PlateReaderConfig(recogniser=request.param)).load()


def _at_height(img: np.ndarray, h: int, seed: int) -> np.ndarray:
    """The plate at ``h`` pixels high on a grey background, lightly noisy, as a camera sees it."""
    w = round(img.shape[1] * h / img.shape[0])
    small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    canvas = np.full((h + 12, w + 12, 3), 60, np.uint8)
    canvas[6 : 6 + h, 6 : 6 + w] = small
    noise = np.random.default_rng(seed).normal(0, 3, canvas.shape)
    return np.clip(canvas + noise, 0, 255).astype(np.uint8)


def _plates() -> list[Plate]:
    rng = random.Random(42)
    out = [random_plate(rng, VehicleKind.CAR, layout=lay) for lay in PlateLayout for _ in range(4)]
    out += [random_plate(rng, VehicleKind.MOTORBIKE) for _ in range(5)]
    out.append(Plate("75A12345", VehicleKind.CAR, PlateLayout.ONE_LINE, PlateColour.BLUE))
    return out


def test_reads_rendered_plates(reader: PlateReader) -> None:
    plates = _plates()
    correct = 0
    for i, p in enumerate(plates):
        read = reader.read_crop(_at_height(render_plate(p), 40, i), p.kind)
        assert read.layout is p.layout, (p, read)
        correct += read.text == p.text and read.valid
    assert correct >= len(plates) - 1, f"{correct}/{len(plates)}"


def test_read_without_knowing_the_vehicle(reader: PlateReader) -> None:
    p = Plate("75B112345", VehicleKind.MOTORBIKE, PlateLayout.TWO_LINE)
    read = reader.read_crop(_at_height(render_plate(p), 48, 1))
    assert read.text == "75B112345"
    assert read.kind is VehicleKind.MOTORBIKE
    assert read.valid
    assert 0.5 < read.confidence <= 1.0


def test_read_from_frame_box(reader: PlateReader) -> None:
    p = Plate("43A56789", VehicleKind.CAR, PlateLayout.ONE_LINE, PlateColour.YELLOW)
    frame = np.full((200, 300, 3), 90, np.uint8)
    img = cv2.resize(render_plate(p), (150, 32), interpolation=cv2.INTER_AREA)
    frame[100:132, 60:210] = img
    read = reader.read(frame, (60, 100, 210, 132), VehicleKind.CAR)
    assert (read.text, read.layout, read.valid) == ("43A56789", PlateLayout.ONE_LINE, True)


def test_unreadable_crop_is_not_valid(reader: PlateReader) -> None:
    blank = np.full((30, 120, 3), 200, np.uint8)
    read = reader.read_crop(blank, VehicleKind.CAR)
    assert not read.valid


def test_rectify_straightens_a_tilted_plate() -> None:
    p = Plate("75A12345", VehicleKind.CAR, PlateLayout.ONE_LINE)
    img = cv2.resize(render_plate(p), (156, 33), interpolation=cv2.INTER_AREA)
    canvas = np.full((120, 220, 3), 40, np.uint8)
    canvas[43:76, 32:188] = img
    m = cv2.getRotationMatrix2D((110, 60), 8, 1.0)
    tilted = cv2.warpAffine(canvas, m, (220, 120), borderValue=(40, 40, 40))
    # the detector's box: the tilted plate's bounding box plus the reader's margin
    out = rectify(crop_plate(tilted, (30, 32, 190, 88), 0.12))
    assert 3.5 < out.shape[1] / out.shape[0] < 6.0  # the plate's own aspect, upright
    assert out.shape[1] >= 140


def test_crop_plate_refuses_empty_box() -> None:
    with pytest.raises(ValueError, match="is empty"):
        crop_plate(np.zeros((10, 10, 3), np.uint8), (20, 20, 30, 30), 0.1)


def test_reader_must_be_loaded(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not loaded"):
        PlateReader().read_crop(np.zeros((20, 80, 3), np.uint8))


# --- grammar-constrained decoding ---------------------------------------------------------

CHARS = ["blank", *"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "-", "."]
IDX = {c: i for i, c in enumerate(CHARS)}


def frames(spec: str, second: dict[int, str] | None = None) -> np.ndarray:
    """Log-probabilities of one line: one frame per character of ``spec`` (``_`` blank),
    0.9 on it; ``second`` gives frames a runner-up at 0.45 (then the first gets 0.5)."""
    p = np.full((len(spec), len(CHARS)), 1e-4)
    for t, ch in enumerate(spec):
        p[t, IDX["blank" if ch == "_" else ch]] = 0.9
        if second and t in second:
            p[t, IDX["blank" if ch == "_" else ch]] = 0.5
            p[t, IDX[second[t]]] = 0.45
    return np.log(p / p.sum(axis=1, keepdims=True))


def decode(logp: np.ndarray, template: str) -> str | None:
    slots = [np.array([IDX[c] for c in SLOTS[s]]) for s in template]
    blank = np.logaddexp(logp[:, 0], np.logaddexp(logp[:, IDX["-"]], logp[:, IDX["."]]))
    got = ctc_viterbi(logp, blank, slots)
    if got is None:
        return None
    return "".join(SLOTS[s][int(np.argmax(e))] for s, e in zip(template, got[1], strict=True))


@pytest.mark.parametrize(
    ("case", "logp", "template", "text"),
    [
        ("plain", frames("_75_A_"), "DDL", "75A"),
        ("separator is not a character", frames("_75-A1_"), "DDLN", "75A1"),
        ("letter position takes the best letter, not 0", frames("_75_0_", {4: "G"}), "DDL", "75G"),
        ("digit position takes the best digit, not B", frames("_B8_", {1: "8"}), "DD", "88"),
        ("a doubled digit needs a blank between", frames("_622_28_"), "DDDD", "6228"),
        ("a doubled digit with the blank", frames("_62_2_28_"), "DDDDD", "62228"),
        ("too few frames for the template", frames("75"), "DDL", None),
    ],
)
def test_ctc_viterbi(case: str, logp: np.ndarray, template: str, text: str | None) -> None:
    assert decode(logp, template) == text, case


def _best_path(logp: np.ndarray, blank: np.ndarray, label: tuple[int, ...]) -> float:
    """Textbook CTC best path of one label sequence (blank-interleaved states)."""
    ext = [-1]
    for ch in label:
        ext += [ch, -1]
    emit = np.stack([blank if s < 0 else logp[:, s] for s in ext], axis=1)  # (T, S)
    score = np.full(len(ext), -np.inf)
    score[0], score[1] = emit[0, 0], emit[0, 1]
    for t in range(1, len(logp)):
        prev = score.copy()
        for s in range(len(ext)):
            best = prev[s]
            if s >= 1:
                best = max(best, prev[s - 1])
            if s >= 2 and ext[s] >= 0 and ext[s] != ext[s - 2]:
                best = max(best, prev[s - 2])
            score[s] = best + emit[t, s]
    return float(max(score[-1], score[-2]))


def test_ctc_viterbi_finds_the_best_string_and_path() -> None:
    # against every string the slots allow, each scored by the textbook CTC best path
    rng = np.random.default_rng(7)
    for _ in range(60):
        t_len, k_len = int(rng.integers(2, 9)), int(rng.integers(1, 4))
        x = rng.normal(size=(t_len, 6)) * rng.uniform(0.5, 4)
        logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
        slots = [np.sort(rng.choice(np.arange(1, 6), size=int(rng.integers(1, 4)),
                                    replace=False)) for _ in range(k_len)]
        got = ctc_viterbi(logp, logp[:, 0], slots)
        best = max(_best_path(logp, logp[:, 0], label)
                   for label in itertools.product(*(s.tolist() for s in slots)))
        if best == -np.inf or t_len < k_len:
            assert got is None
        else:
            assert got is not None
            assert got[0] == pytest.approx(best)


def test_ctc_batch_solves_each_problem_as_alone() -> None:
    # problems of different lengths in one batch, neighbours with the same characters,
    # and problems without a path (no positions; more positions than frames)
    rng = np.random.default_rng(11)
    for _ in range(40):
        n_b, t_len = int(rng.integers(1, 6)), int(rng.integers(1, 12))
        x = (rng.normal(size=(n_b, t_len, 8)) * rng.uniform(0.5, 6)).astype(np.float32)
        logp = x - np.log(np.exp(x).sum(axis=2, keepdims=True))
        slots = []
        for _ in range(n_b):
            k_len = int(rng.integers(0, 6))
            sets = [rng.choice(np.arange(1, 8), size=int(rng.integers(1, 5)), replace=False)
                    for _ in range(k_len)]
            slots.append([sets[0]] * k_len if k_len and rng.random() < 0.3 else sets)
        batch = CtcBatch(logp, logp[:, :, 0], slots)
        for i in range(n_b):
            alone = ctc_viterbi(logp[i], logp[i, :, 0], slots[i])
            if alone is None:
                assert batch.totals[i] is None
                continue
            assert batch.totals[i] == alone[0]
            for got, want in zip(batch.evidence(i), alone[1], strict=True):
                assert np.array_equal(got, want)


def test_best_channel_scores_each_channel_by_its_otsu_classes() -> None:
    # the histogram arithmetic picks the channel the pixel-by-pixel formula picks
    rng = np.random.default_rng(3)
    for i in range(60):
        img = rng.integers(0, 256, size=(int(rng.integers(2, 40)), int(rng.integers(2, 90)), 3))
        img = img.astype(np.uint8)
        if i % 3 == 0:
            img = cv2.GaussianBlur(img, (5, 5), 0)
        chans = (*cv2.split(img), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
        scores = []
        for ch in chans:
            t, _ = cv2.threshold(ch, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            lo, hi = ch[ch <= t].astype(np.float64), ch[ch > t].astype(np.float64)
            scores.append((hi.mean() - lo.mean()) / (lo.std() + hi.std() + 1.0)
                          if len(lo) and len(hi) else -np.inf)
        want = chans[int(np.argmax(scores))] if max(scores) > -np.inf else img[:, :, 1]
        assert np.array_equal(best_channel(img), want)
    flat = np.full((5, 9, 3), 77, np.uint8)  # one class only: the green channel
    assert np.array_equal(best_channel(flat), flat[:, :, 1])


@pytest.mark.parametrize(
    ("case", "bg", "fg"),
    [
        ("black on white", (235, 235, 235), (20, 20, 20)),
        ("dark red on pink (under a tail light)", (150, 150, 250), (30, 30, 150)),
        ("black on yellow", (40, 200, 230), (20, 20, 20)),
        ("white on blue", (170, 90, 20), (240, 240, 240)),
    ],
)
def test_best_channel_separates_characters_from_background(
    case: str, bg: tuple[int, int, int], fg: tuple[int, int, int]
) -> None:
    img = np.full((30, 100, 3), bg, np.uint8)
    cv2.putText(img, "75-A1", (4, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, fg, 2)
    ch = best_channel(img).astype(np.float64)
    ink = cv2.inRange(img, np.array(fg) - 1, np.array(fg) + 1) > 0
    assert abs(ch[ink].mean() - ch[~ink].mean()) > 80, case


def test_several_crops_vote_character_by_character(reader: PlateReader) -> None:
    p = Plate("75B112345", VehicleKind.MOTORBIKE, PlateLayout.TWO_LINE)
    good = [_at_height(render_plate(p), 40, i) for i in range(2)]
    blurred = cv2.GaussianBlur(_at_height(render_plate(p), 40, 9), (0, 0), 2.5)
    read = reader.read_many([good[0], blurred, good[1]], VehicleKind.MOTORBIKE)
    assert (read.text, read.valid) == ("75B112345", True)


def test_slivers_of_plate_give_no_read_and_do_not_spoil_the_others(reader: PlateReader) -> None:
    # a plate box one or two pixels high (a vehicle's edge frame) cannot be cut into lines
    sliver = np.full((3, 24, 3), 200, np.uint8)
    empty = reader.read_many([sliver], VehicleKind.MOTORBIKE)
    assert (empty.text, empty.valid) == ("", False)
    img = _at_height(render_plate(Plate("75A12345", VehicleKind.CAR, PlateLayout.ONE_LINE)),
                     40, 3)
    got = reader.read_many([img, sliver, img], VehicleKind.CAR)
    assert got.text == "75A12345"


class _ScriptedLines:
    """A line recogniser that reads a one-line plate unsurely and, cut in two, reads two
    sure lines: the case where a wide car plate would be taken for a two-line one."""

    def __init__(self) -> None:
        self.chars = list(OWN_CHARS)

    @staticmethod
    def _line(text: str, p: float) -> np.ndarray:
        frames = []
        for c in text:
            for hit in (c, "<blank>"):
                row = np.full(len(OWN_CHARS), (1 - p) / (len(OWN_CHARS) - 1))
                row[OWN_CHARS.index(hit)] = p
                frames.append(row)
        return np.log(np.array(frames))

    def logprobs(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        if len(lines) == 1:
            return [self._line("43A56789", 0.4)]
        return [self._line("43A", 0.99), self._line("5678", 0.99)]


@pytest.mark.parametrize(("width", "two_line_tried"), [(150, False), (110, True)])
def test_a_wide_car_plate_is_not_read_as_two_lines(width: int, two_line_tried: bool) -> None:
    # 150 x 32: aspect 4.7, a one-line car plate; 110 x 32 (3.4) might be two lines
    # with the car above it, so the surer two-line reading wins there
    reader = PlateReader(PlateReaderConfig(fallback_full_ocr=False), _ScriptedLines()).load()
    crop = np.full((32, width, 3), 200, np.uint8)
    read = reader.read_crop(crop, VehicleKind.CAR)
    if two_line_tried:
        assert (read.layout, read.text) == (PlateLayout.TWO_LINE, "43A5678")
    else:
        assert (read.layout, read.text) == (PlateLayout.ONE_LINE, "43A56789")
        assert read.confidence < 0.6


@pytest.mark.parametrize("largest_first", [PlateLayout.ONE_LINE, PlateLayout.TWO_LINE])
def test_a_layout_tie_goes_to_the_largest_crop(largest_first: PlateLayout) -> None:
    # one crop looks one-line, the other two-line: the largest (first) decides, in every
    # run (a set's order changes with Python's string hashing, and PlateLayout is a str)
    reader = PlateReader(PlateReaderConfig(fallback_full_ocr=False), _ScriptedLines()).load()
    wide, tall = np.full((32, 150, 3), 200, np.uint8), np.full((48, 64, 3), 200, np.uint8)
    shows = {150: PlateLayout.ONE_LINE, 64: PlateLayout.TWO_LINE}
    reader._layout = lambda plate, kind: shows[plate.shape[1]]  # type: ignore[method-assign]
    crops = [wide, tall] if largest_first is PlateLayout.ONE_LINE else [tall, wide]
    assert reader.read_many(crops, VehicleKind.MOTORBIKE).layout is largest_first


class _AmbiguousSeries:
    """A line recogniser that sees a motorbike's top line ``75A?`` with the fourth
    character B or 8 (``p8`` to 8, the rest to B), and its serial ``12345`` clearly."""

    def __init__(self, p8: float) -> None:
        self.chars, self.p8 = list(OWN_CHARS), p8

    def _line(self, text: str) -> np.ndarray:
        frames = []
        for c in text:
            for hit in (c, "<blank>"):
                row = np.full(len(OWN_CHARS), 1e-4)
                if hit == "?":
                    row[OWN_CHARS.index("8")], row[OWN_CHARS.index("B")] = self.p8, 1 - self.p8
                else:
                    row[OWN_CHARS.index(hit)] = 0.99
                frames.append(row / row.sum())
        return np.log(np.array(frames))

    def logprobs(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        return [self._line("75A?" if k % 2 == 0 else "12345") for k in range(len(lines))]


@pytest.mark.parametrize(
    ("p8", "bonus", "text"),
    [
        (0.55, 0.0, "75A812345"),  # the digit, a little likelier, wins without the bonus
        (0.55, 1.0, "75AB12345"),  # with it, the two-letter series
        (0.8, 1.0, "75A812345"),  # 8 four times as likely: the bonus does not overrule it
        (0.3, 0.0, "75AB12345"),
    ],
)
def test_the_two_letter_series_bonus_settles_b_against_8(p8: float, bonus: float,
                                                          text: str) -> None:
    cfg = PlateReaderConfig(fallback_full_ocr=False, two_letter_series_bonus=bonus)
    reader = PlateReader(cfg, _AmbiguousSeries(p8)).load()  # type: ignore[arg-type]
    crop = np.full((60, 80, 3), 200, np.uint8)
    assert reader.read_many([crop, crop], VehicleKind.MOTORBIKE).text == text
