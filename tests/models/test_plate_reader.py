"""Plate reading on rendered plates: crop, rectify, OCR, correction, validation."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from ioc.plates import Plate, PlateColour, PlateLayout, VehicleKind, random_plate
from models.plate_reader import PlateReader, crop_plate, rectify
from simulators.camera.plate_render import render_plate


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> PlateReader:
    return PlateReader().load()


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
