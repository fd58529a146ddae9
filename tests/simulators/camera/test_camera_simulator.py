"""Camera simulator: determinism, ground-truth consistency, frame-source behaviour."""

from __future__ import annotations

import hashlib
import time

import cv2
import numpy as np
import pytest

from ioc.plates import Plate, PlateColour, PlateLayout, VehicleKind, is_valid
from simulators.camera import (
    CameraSimulator,
    SceneConfig,
    SceneKind,
    SignalState,
    TimeOfDay,
    VehicleClass,
    ViolationKind,
)
from simulators.camera.plate_render import PLATE_SIZE_M, char_height_ratio, render_plate


def _hashes(cfg: SceneConfig, n: int) -> list[str]:
    with CameraSimulator(cfg) as sim:
        out = []
        for _ in range(n):
            ok, frame = sim.read()
            assert ok
            assert frame is not None
            out.append(hashlib.sha256(frame.tobytes()).hexdigest())
        return out


@pytest.mark.parametrize("kind", list(SceneKind))
def test_same_seed_same_frames(kind: SceneKind) -> None:
    cfg = SceneConfig(seed=11, kind=kind, rain=True)
    first = _hashes(cfg, 6)
    assert first == _hashes(cfg, 6)
    assert len(set(first)) == 6  # frames differ from each other
    assert first != _hashes(SceneConfig(seed=12, kind=kind, rain=True), 6)


def test_grab_skips_without_changing_the_stream() -> None:
    cfg = SceneConfig(seed=5)
    read_all = _hashes(cfg, 4)[-1]
    with CameraSimulator(cfg) as sim:
        for _ in range(3):
            assert sim.grab()
        ok, frame = sim.read()
    assert ok
    assert frame is not None
    assert hashlib.sha256(frame.tobytes()).hexdigest() == read_all


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_ground_truth_boxes_and_plates(seed: int) -> None:
    cfg = SceneConfig(seed=seed, kind=SceneKind.INTERSECTION if seed % 2 else SceneKind.SEGMENT)
    w, h = cfg.camera.width, cfg.camera.height
    seen: set[VehicleClass] = set()
    plates = 0
    with CameraSimulator(cfg) as sim:
        for _ in range(40):
            ok, frame = sim.read()
            assert ok
            assert frame is not None
            assert frame.shape == (h, w, 3)
            truth = sim.truth
            for v in truth.vehicles:
                x1, y1, x2, y2 = v.box
                assert 0 <= x1 < x2 <= w, v
                assert 0 <= y1 < y2 <= h, v
                assert is_valid(v.plate.text, v.plate.kind)
                seen.add(v.cls)
                if v.plate_box is not None:
                    plates += 1
                    px1, py1, px2, py2 = v.plate_box
                    assert 0 <= px1 < px2 <= w
                    assert 0 <= py1 < py2 <= h
                    # the plate lies on its vehicle
                    assert x1 - 1 <= px1
                    assert px2 <= x2 + 1
                    assert y1 - 1 <= py1
                    assert py2 <= y2 + 1
                    assert px2 - px1 >= cfg.min_plate_px
            assert len({v.track_id for v in truth.vehicles}) == len(truth.vehicles)
    assert VehicleClass.MOTORBIKE in seen
    assert plates > 20


def test_motorbikes_are_the_majority() -> None:
    counts = {c: 0 for c in VehicleClass}
    with CameraSimulator(SceneConfig(seed=3, kind=SceneKind.SEGMENT)) as sim:
        for _ in range(100):
            sim.grab()
        ids: dict[int, VehicleClass] = {}
        for _ in range(60):
            sim.read()
            ids.update({v.track_id: v.cls for v in sim.truth.vehicles})
    for c in ids.values():
        counts[c] += 1
    assert counts[VehicleClass.MOTORBIKE] > max(v for k, v in counts.items() if k != 1)


def test_violations_are_consistent_with_the_signal() -> None:
    cfg = SceneConfig(seed=21, violation_share=0.6, spawn_per_s=2.5)
    frames = 900
    with CameraSimulator(cfg, max_frames=frames) as sim:
        oncoming: dict[int, bool] = {}
        for i in range(frames):
            if i % 10 == 0:
                sim.read()
                oncoming.update({v.track_id: v.oncoming for v in sim.truth.vehicles})
                for v in sim.truth.violations:
                    assert v.start_frame <= sim.truth.index
            else:
                sim.grab()
        violations = sim.violations()
        kinds = {v.kind for v in violations}
        assert {ViolationKind.RED_LIGHT, ViolationKind.WRONG_WAY, ViolationKind.SPEEDING} <= kinds
        for v in violations:
            assert v.end_frame is None or v.end_frame >= v.start_frame
            assert is_valid(v.plate)
            if v.kind is ViolationKind.RED_LIGHT:
                assert v.signal_at_start is SignalState.RED
                assert sim.signal_at(v.start_frame) is SignalState.RED
            if v.kind is ViolationKind.WRONG_WAY and v.track_id in oncoming:
                assert oncoming[v.track_id]
            if v.kind is ViolationKind.WRONG_LANE:
                assert v.vehicle is not VehicleClass.MOTORBIKE


def test_segment_has_no_signal_and_no_red_light() -> None:
    cfg = SceneConfig(seed=8, kind=SceneKind.SEGMENT, violation_share=0.8)
    with CameraSimulator(cfg) as sim:
        for _ in range(200):
            sim.grab()
        sim.read()
        assert sim.truth.signal is SignalState.NONE
        assert all(v.kind is not ViolationKind.RED_LIGHT for v in sim.violations())


def test_night_is_darker_than_day() -> None:
    def mean(tod: TimeOfDay) -> float:
        with CameraSimulator(SceneConfig(seed=2, time_of_day=tod, rain=False)) as sim:
            _, frame = sim.read()
        assert frame is not None
        return float(np.mean(frame))

    assert mean(TimeOfDay.NIGHT) < 0.6 * mean(TimeOfDay.DAY)


def test_frame_source_end_and_truth_before_read() -> None:
    sim = CameraSimulator(SceneConfig(seed=1), max_frames=3)
    assert sim.read() == (False, None)  # not opened
    with pytest.raises(RuntimeError, match="no frame read yet"):
        _ = sim.truth
    sim.open()
    assert sim.isOpened()
    assert [sim.read()[0] for _ in range(4)] == [True, True, True, False]
    assert not sim.isOpened()


def test_realtime_paces_frames() -> None:
    with CameraSimulator(SceneConfig(seed=1, fps=40.0), realtime=True) as sim:
        t0 = time.monotonic()
        for _ in range(5):
            sim.read()
        assert time.monotonic() - t0 >= 4 / 40.0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("class_mix", (0.5, 0.5, 0.5, 0.5), "class_mix"),
        ("violation_share", 1.5, "violation_share"),
        ("motorbike_lane", 7, "motorbike_lane"),
        ("fps", 0.0, "fps"),
    ],
)
def test_config_refuses_nonsense(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SceneConfig(**{field: value})  # type: ignore[arg-type]


def test_turning_vehicles_leave_sideways() -> None:
    cfg = SceneConfig(seed=31, turn_share=1.0, green_s=40.0, red_s=2.0)
    tracks: dict[int, list[tuple[float, float]]] = {}
    with CameraSimulator(cfg) as sim:
        for _ in range(120):
            sim.read()
            for v in sim.truth.vehicles:
                if v.turn and v.distance_m >= cfg.stop_line_m + 2:
                    tracks.setdefault(v.track_id, []).append(((v.box[0] + v.box[2]) / 2, v.turn))
    moved = [abs(t[-1][0] - t[0][0]) for t in tracks.values() if len(t) > 3]
    assert moved, "no turning vehicle was seen in the cross street"
    assert max(moved) > 30


def test_turning_off_keeps_existing_scenes() -> None:
    assert _hashes(SceneConfig(seed=11), 3) == _hashes(SceneConfig(seed=11, turn_share=0.0), 3)


@pytest.mark.parametrize(
    "plate",
    [
        Plate("75A12345", VehicleKind.CAR, PlateLayout.ONE_LINE),
        Plate("75LD12345", VehicleKind.CAR, PlateLayout.TWO_LINE, PlateColour.BLUE),
        Plate("75G846108", VehicleKind.MOTORBIKE, PlateLayout.TWO_LINE, PlateColour.YELLOW),
    ],
)
def test_char_height_ratio_is_the_drawn_characters_height(plate: Plate) -> None:
    img = render_plate(plate)
    h, w = img.shape[:2]
    ink = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    ink = (ink < 128) if plate.colour is not PlateColour.BLUE else (ink > 128)
    inner = ink[h // 14 : h - h // 14, w // 20 : w - w // 20]  # inside the border
    rows = np.flatnonzero(inner.any(axis=1))
    runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)  # one run of rows per line
    assert len(runs) == len(plate.lines())
    smallest = min(len(r) for r in runs) / h
    assert char_height_ratio(plate) == pytest.approx(smallest, abs=0.03)


def test_one_line_car_characters_are_smaller_than_a_motorbike_plates_of_the_same_width() -> None:
    car = Plate("75A12345", VehicleKind.CAR, PlateLayout.ONE_LINE)
    moto = Plate("75G846108", VehicleKind.MOTORBIKE, PlateLayout.TWO_LINE)
    per_width = [char_height_ratio(p) * PLATE_SIZE_M[(p.kind, p.layout)][1]
                 / PLATE_SIZE_M[(p.kind, p.layout)][0] for p in (car, moto)]
    assert per_width[0] < 0.7 * per_width[1]
