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


class _Detector:
    def detect(self, crop: np.ndarray) -> Detections:
        raise NotImplementedError

    def detect_many(self, crops: list[np.ndarray]) -> list[Detections]:
        return [self.detect(c) for c in crops]


class FakePlateDetector(_Detector):
    """Finds a plate in the middle of every crop, and a neighbour's at its left edge."""

    def detect(self, crop: np.ndarray) -> Detections:
        h, w = crop.shape[:2]
        return Detections(np.array([[0, h * 0.6, w * 0.2, h * 0.8],
                                    [w * 0.3, h * 0.6, w * 0.7, h * 0.8]]),
                          np.array([0.95, 0.9]), np.array([4, 4]))


class ScriptedReader:
    """Records the plate crops it is handed and returns a scripted read."""

    def __init__(self, text: str, valid: bool = True, conf: float = 0.9) -> None:
        self.text, self.valid, self.conf = text, valid, conf
        self.config = type("C", (), {"margin": 0.0})()
        self.calls: list[list[tuple[int, int]]] = []

    def read_many(self, crops: list[np.ndarray], kind: object = None) -> PlateRead:
        self.calls.append([c.shape[:2] for c in crops])
        return PlateRead(self.text, self.text, PlateLayout.ONE_LINE, None, self.conf, self.valid,
                         0)


def _collector(text: str = "75A12345", best: int = 3, *, valid: bool = True, conf: float = 0.9,
               first: int = 3) -> tuple[PlateCollector, ScriptedReader]:
    reader = ScriptedReader(text, valid, conf)
    return PlateCollector(FakePlateDetector(), reader, best_frames=best,  # type: ignore[arg-type]
                          min_vehicle_height=20, first_reads=first), reader


@pytest.mark.parametrize(
    ("valid", "conf", "first", "calls"),
    [
        (True, 0.95, 3, [3]),  # the three largest settle it: the other two never read
        (True, 0.5, 3, [3, 5]),  # not sure enough: all five read together
        (False, 0.99, 3, [3, 5]),  # not a valid plate: all five
        (True, 0.95, 0, [5]),  # first_reads 0: all at once
        (True, 0.95, 1, [1, 5]),  # one crop never settles a plate on its own
    ],
)
def test_the_largest_crops_are_read_first_and_the_rest_only_when_they_do_not_settle_it(
        valid: bool, conf: float, first: int, calls: list[int]) -> None:
    frame = np.full((400, 600, 3), 128, np.uint8)
    col, reader = _collector(best=5, valid=valid, conf=conf, first=first)
    for f, size in enumerate([30, 60, 50, 90, 40, 80]):
        col.offer(1, f, frame, np.array([100, 100, 100 + size, 100 + size]))
    got = col.read(1, VehicleClass.CAR)
    assert got is not None
    assert [len(c) for c in reader.calls] == calls
    # largest first in every call: 90, 80, 60 (then 50, 40) px boxes
    sizes = (90, 80, 60, 50, 40)[: calls[-1]]
    assert [round(w / (s * 1.2), 1) for (_, w), s in zip(reader.calls[-1], sizes, strict=True)
            ] == [0.4] * calls[-1]
    assert (got.votes, got.frame) == (calls[-1], 3)


def test_the_largest_boxes_inside_the_frame_are_read_together_once() -> None:
    frame = np.full((400, 600, 3), 128, np.uint8)
    col, reader = _collector()
    for f, size in enumerate([30, 60, 50, 90, 40, 80]):
        col.offer(1, f, frame, np.array([100, 100, 100 + size, 100 + size]))
    col.offer(1, 9, frame, np.array([0, 100, 200, 300]))  # cut by the frame edge: ignored
    col.offer(1, 10, frame, np.array([100, 100, 110, 110]))  # too small
    got = col.read(1, VehicleClass.CAR)
    assert got is not None
    # one call with the plates of the three largest boxes (90, 80, 60 px plus margins),
    # each the plate in the middle, not the neighbour's at the edge (a fifth of the width)
    assert len(reader.calls) == 1
    widths = [w for _, w in reader.calls[0]]
    assert [round(w / (s * 1.2), 1) for w, s in zip(widths, (90, 80, 60), strict=True)] == [
        0.4, 0.4, 0.4]
    assert (got.text, got.votes, got.valid, got.frame) == ("75A12345", 3, True, 3)
    assert col.read(1, VehicleClass.CAR) is got  # read once per pass
    assert len(reader.calls) == 1


def test_merged_tracks_pool_their_crops() -> None:
    frame = np.full((400, 600, 3), 128, np.uint8)
    col, reader = _collector(best=2)
    col.offer(1, 0, frame, np.array([100, 100, 160, 160]))
    col.offer(2, 5, frame, np.array([100, 100, 200, 200]))  # the same vehicle, a new track
    col.offer(2, 6, frame, np.array([100, 100, 150, 150]))
    col.merge(2, 1)
    got = col.read(1, VehicleClass.CAR)
    assert got is not None
    assert got.frame == 5  # the largest crop came from the second track
    assert len(reader.calls[0]) == 2


def test_no_candidates_no_read() -> None:
    col, _ = _collector()
    assert col.read(5, VehicleClass.CAR) is None


class MiddlePlateDetector(_Detector):
    """Finds one plate, low in the middle of every crop."""

    def detect(self, crop: np.ndarray) -> Detections:
        h, w = crop.shape[:2]
        return Detections(np.array([[w * 0.4, h * 0.7, w * 0.6, h * 0.8]]), np.array([0.9]),
                          np.array([4]))


@pytest.mark.parametrize(
    ("other", "read"),
    [
        # a vehicle in front (its box reaches lower) covering the plate: the plate is its own
        (np.array([[120, 150, 260, 420]]), False),
        # a vehicle behind (its box ends higher) over the same place: this one hides it
        (np.array([[120, 150, 260, 280]]), True),
        # a vehicle in front, beside the plate: the plate is still this vehicle's
        (np.array([[260, 150, 400, 420]]), True),
        (None, True),
    ],
)
def test_a_plate_inside_a_nearer_vehicle_is_not_this_vehicles(other: np.ndarray | None,
                                                              read: bool) -> None:
    frame = np.full((480, 640, 3), 128, np.uint8)
    reader = ScriptedReader("75A12345")
    col = PlateCollector(MiddlePlateDetector(), reader,  # type: ignore[arg-type]
                         min_vehicle_height=20, margin=0.0)
    col.offer(1, 0, frame, np.array([100, 100, 300, 300]), other)
    got = col.read(1, VehicleClass.CAR)
    assert (got is not None) is read
    assert len(reader.calls) == (1 if read else 0)


def test_crops_after_a_track_jumped_go_to_the_vehicle_it_jumped_to() -> None:
    frame = np.full((400, 600, 3), 128, np.uint8)
    col, _ = _collector(best=3)
    for f, size in enumerate([60, 70, 80, 90, 100]):
        col.offer(1, f, frame, np.array([100, 100, 100 + size, 100 + size]))
    col.split(1, 9, after_frame=2)  # frames 3 and 4 showed the other vehicle
    first, second = col.read(1, VehicleClass.CAR), col.read(9, VehicleClass.CAR)
    assert first is not None
    assert second is not None
    assert (first.frame, first.votes, second.frame, second.votes) == (2, 1, 4, 2)


class PlateAtDetector(_Detector):
    """Finds one plate in every crop, at the given share of its width and height."""

    def __init__(self, x1: float, x2: float) -> None:
        self.x1, self.x2 = x1, x2

    def detect(self, crop: np.ndarray) -> Detections:
        h, w = crop.shape[:2]
        return Detections(np.array([[w * self.x1, h * 0.7, w * self.x2, h * 0.8]]),
                          np.array([0.9]), np.array([4]))


def _cut_collector(x1: float, x2: float, cut_frames: int = 3
                   ) -> tuple[PlateCollector, ScriptedReader]:
    reader = ScriptedReader("75A12345")
    return PlateCollector(PlateAtDetector(x1, x2), reader,  # type: ignore[arg-type]
                          min_vehicle_height=20, margin=0.0, cut_frames=cut_frames), reader


def test_a_vehicle_only_seen_cut_by_the_frame_edge_is_read_from_its_largest_cut_crops() -> None:
    # a car queued at the right edge of the picture: its box always reaches the edge
    frame = np.full((400, 600, 3), 128, np.uint8)
    col, reader = _cut_collector(0.4, 0.6)
    for f, left in enumerate([560, 500, 450, 520, 480]):
        col.offer(1, f, frame, np.array([left, 200, 600, 300]))
    got = col.read(1, VehicleClass.CAR)
    assert got is not None
    assert (got.text, got.votes, got.frame) == ("75A12345", 3, 2)  # the three widest crops
    assert [w for _, w in reader.calls[0]] == [30, 24, 20]  # a fifth of 150, 120, 100 px


def test_a_plate_touching_the_cut_edge_is_not_read() -> None:
    frame = np.full((400, 600, 3), 128, np.uint8)
    col, reader = _cut_collector(0.7, 1.0)  # the plate runs out of the picture
    col.offer(1, 0, frame, np.array([450, 200, 600, 300]))
    assert col.read(1, VehicleClass.CAR) is None
    assert reader.calls == []


@pytest.mark.parametrize("cut_frames", [3, 0])
def test_cut_crops_are_read_only_when_no_whole_crop_shows_the_plate(cut_frames: int) -> None:
    frame = np.full((400, 600, 3), 128, np.uint8)
    col, reader = _cut_collector(0.4, 0.6, cut_frames)
    col.offer(1, 0, frame, np.array([300, 200, 400, 280]))  # whole
    col.offer(1, 1, frame, np.array([400, 200, 600, 320]))  # larger, cut at the right
    got = col.read(1, VehicleClass.CAR)
    assert got is not None
    assert (got.frame, got.votes) == (0, 1)
    # without whole crops, only a collector that keeps cut ones reads anything
    col.offer(2, 1, frame, np.array([400, 200, 600, 320]))
    assert (col.read(2, VehicleClass.CAR) is not None) is (cut_frames > 0)
    assert len(reader.calls) == (2 if cut_frames else 1)
