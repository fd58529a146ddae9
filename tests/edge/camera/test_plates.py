"""Plate colour from a crop, and one read per pass voted over the best crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.camera.plates import PlateCollector, plate_colour
from ioc.contract import VehicleClass
from ioc.plates import PlateLayout
from models.detections import Detections
from models.plate_reader import PlateRead


def plate(bg: tuple[int, int, int], fg: tuple[int, int, int] = (20, 20, 20)) -> np.ndarray:
    img = np.full((30, 100, 3), bg, np.uint8)
    cv2.putText(img, "75A12345", (4, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, fg, 2)
    return img


@pytest.mark.parametrize(
    ("bg", "fg", "colour"),
    [
        ((235, 235, 235), (20, 20, 20), "white"),
        ((40, 200, 230), (20, 20, 20), "yellow"),  # BGR
        ((170, 90, 20), (240, 240, 240), "blue"),
        ((30, 30, 200), (240, 240, 240), "red"),
    ],
)
def test_plate_colour(bg: tuple[int, int, int], fg: tuple[int, int, int], colour: str) -> None:
    assert plate_colour(plate(bg, fg)) == colour


class FakePlateDetector:
    """Finds one plate in the middle of every crop."""

    def detect(self, crop: np.ndarray) -> Detections:
        h, w = crop.shape[:2]
        return Detections(np.array([[w * 0.3, h * 0.6, w * 0.7, h * 0.8]]), np.array([0.9]),
                          np.array([4]))


class ScriptedReader:
    """Returns the scripted reads in order (a stand-in for the OCR)."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.config = type("C", (), {"margin": 0.1})()
        self.calls = 0

    def read_crop(self, crop: np.ndarray, kind: object = None) -> PlateRead:
        text = self.texts[self.calls]
        self.calls += 1
        return PlateRead(text, text, PlateLayout.ONE_LINE, None, 0.9, text.startswith("75"), 0)


def _collector(texts: list[str], best: int = 3) -> tuple[PlateCollector, ScriptedReader]:
    reader = ScriptedReader(texts)
    return PlateCollector(FakePlateDetector(), reader, best_frames=best,  # type: ignore[arg-type]
                          min_vehicle_height=20), reader


def test_only_the_largest_boxes_inside_the_frame_are_read_and_the_majority_wins() -> None:
    frame = np.full((400, 600, 3), 128, np.uint8)
    col, reader = _collector(["75A12345", "75A12845", "75A12345"])
    for f, size in enumerate([30, 60, 50, 90, 40, 80]):
        col.offer(1, f, frame, np.array([100, 100, 100 + size, 100 + size]))
    col.offer(1, 9, frame, np.array([0, 100, 200, 300]))  # cut by the frame edge: ignored
    col.offer(1, 10, frame, np.array([100, 100, 110, 110]))  # too small
    got = col.read(1, VehicleClass.CAR)
    assert got is not None
    assert reader.calls == 3
    assert (got.text, got.votes, got.valid) == ("75A12345", 2, True)
    assert got.frame in (3, 1)  # crops read largest first (frames 3, 5, 1); 3 and 1 agree
    assert col.read(1, VehicleClass.CAR) is got  # read once per pass
    assert reader.calls == 3


def test_a_valid_read_beats_a_more_frequent_invalid_one() -> None:
    frame = np.full((400, 600, 3), 128, np.uint8)
    col, _ = _collector(["XX", "XX", "75A12345"])
    for f in range(3):
        col.offer(1, f, frame, np.array([100, 100, 160 + 10 * f, 160 + 10 * f]))
    got = col.read(1, VehicleClass.CAR)
    assert got is not None
    assert got.text == "75A12345"


def test_no_candidates_no_read() -> None:
    col, _ = _collector([])
    assert col.read(5, VehicleClass.CAR) is None
