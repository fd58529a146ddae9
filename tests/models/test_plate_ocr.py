"""The plate-line recognisers: input preparation, the own model's file checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ioc.plates import PlateLayout
from models import SHIPPED_PLATE_OCR
from models.errors import ModelFileNotFound, ModelFormatError, ModelOutputError
from models.plate_ocr import (
    CHARS,
    INPUT_H,
    INPUT_W,
    OwnLineRecogniser,
    greedy_decode,
    line_input,
    split_lines,
    trim_blank,
)

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(("h", "w"), [(10, 30), (32, 160), (64, 100), (20, 400), (5, 8)])
def test_line_input_is_fixed_size_and_keeps_aspect(h: int, w: int) -> None:
    line = np.full((h, w, 3), 200, np.uint8)
    line[:, : w // 2] = 20  # dark left half
    out = line_input(line)
    assert out.shape == (INPUT_H, INPUT_W)
    assert out.dtype == np.uint8
    scaled = min(INPUT_W, max(8, round(w * INPUT_H / h)))
    # the dark half stays the left half of the scaled line; the padding repeats the last column
    assert out[:, : max(1, scaled // 2 - 2)].mean() < 60
    assert out[:, scaled - 1 :].std() < 1.0


def test_line_input_refuses_what_is_not_a_line() -> None:
    with pytest.raises(ValueError, match="too small"):
        line_input(np.zeros((1, 50, 3), np.uint8))
    with pytest.raises(ValueError, match="grey or BGR"):
        line_input(np.zeros((10, 50, 4), np.uint8))


def test_split_lines() -> None:
    plate = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30)
    assert len(split_lines(plate, PlateLayout.ONE_LINE)) == 1
    top, bottom = split_lines(plate, PlateLayout.TWO_LINE)
    assert top.shape == (10, 30)
    assert bottom.shape == (10, 30)
    assert (bottom[0] == plate[10]).all()


def test_trim_blank_drops_padding_frames() -> None:
    p = np.full((10, 3), 1e-6)
    p[:, 0] = 1.0
    p[4, :] = (0.1, 0.9, 0.0)
    p[6, :] = (0.2, 0.0, 0.8)
    out = trim_blank(np.log(np.clip(p, 1e-9, 1)))
    assert len(out) == 5  # frames 3..7: one blank frame kept either side


def test_missing_ocr_model(tmp_path: Path) -> None:
    with pytest.raises(ModelFileNotFound, match="model file not found"):
        OwnLineRecogniser(tmp_path / "nope.onnx")


def test_ocr_model_that_is_not_onnx(tmp_path: Path) -> None:
    bogus = tmp_path / "ocr.onnx"
    bogus.write_bytes(b"not a model" * 10)
    with pytest.raises(ModelFormatError, match="not a loadable ONNX model"):
        OwnLineRecogniser(bogus)


def test_ocr_model_with_the_wrong_shapes() -> None:
    # a detector is not a line recogniser: its input is (1, 3, 64, 64)
    with pytest.raises(ModelOutputError, match=r"input shape .* expected \(N, 1, 32, 160\)"):
        OwnLineRecogniser(DATA / "fake_coco.onnx")


def test_shipped_ocr_model_outputs_ctc_log_probabilities() -> None:
    rec = OwnLineRecogniser(SHIPPED_PLATE_OCR)
    assert rec.chars[0] == "<blank>"
    assert rec.chars == list(CHARS)
    lines = [np.full((12, 50, 3), 128, np.uint8), np.full((30, 90, 3), 200, np.uint8)]
    out = rec.logprobs(lines)
    assert len(out) == 2
    for lp in out:
        assert lp.ndim == 2
        assert lp.shape[1] == len(CHARS)
        assert np.allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-3)


def test_greedy_decode_merges_repeats_and_drops_blanks() -> None:
    # blank, 0, 0, blank, 0, 1, 1: a blank between two 0s keeps both
    assert greedy_decode(np.array([0, 1, 1, 0, 1, 2, 2]), CHARS) == "001"
    assert greedy_decode(np.array([0, 0, 0]), CHARS) == ""
